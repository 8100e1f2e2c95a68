/* The agent multiplexer: one guest agent (spice-vdagent on the VM's port
 * com.redhat.spice.0) shared with the daemon's own agent functions, behind
 * each SPICE server's vdagent char device (a "link"; input.c owns it).
 *
 * spice-server allows one vdagent device per server, and the daemon needs
 * one of its own whether or not the guest runs an agent: clients' pointer
 * positions (VD_AGENT_MOUSE_STATE) and monitor layouts arrive there. So
 * every link's stream from spice-server is split into messages
 * (agent-protocol.h) and:
 *   - MOUSE_STATE stays here (the daemon moves QEMU's tablet with it);
 *   - everything else goes on to the guest's agent while it has its port
 *     open and the link is the active one (the last whose client announced
 *     itself); monitors configs go to both (the daemon also resizes
 *     through QEMU), rewritten without physical sizes;
 *   - a client's capabilities request is answered at once with the daemon's
 *     capabilities merged with the guest agent's last ones (the guest's own
 *     answer follows, merged too);
 *   - a file transfer that cannot reach a guest agent is answered with an
 *     error status, and transfers under way when the guest's agent goes
 *     away end with one.
 * The guest agent's stream is split the same way and goes to the active
 * link, its capabilities merged with the daemon's. When the guest closes
 * its port mid-message, the client's copy of that message is completed with
 * zeros (spice-server's framing must stay whole) and the client is told the
 * daemon's capabilities alone.
 *
 * Bounds: each direction holds at most SGL_AGENT_MUX_QUEUE bytes; past it
 * the sender is held (spice-server retries its write; the guest's port is
 * not read). A malformed stream from the guest resets its port; one from a
 * link is dropped and logged, rate-limited.
 *
 * Main context only. */
#ifndef SGL_AGENT_MUX_H
#define SGL_AGENT_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SGL_AGENT_MUX_QUEUE (256u * 1024u)
/* File transfers followed at once per link (a longer list is refused). */
#define SGL_AGENT_MUX_XFERS 32u

struct sgl_agent_mux_callbacks {
    /* Writes to the guest's port: returns what it took (0..n). */
    size_t (*guest_write)(const uint8_t *bytes, size_t n, void *user);
    /* Stop (true) or resume reading the guest's port. */
    void (*guest_hold)(bool hold, void *user);
    /* The guest's port must be reset (its stream was malformed). */
    void (*guest_reset)(void *user);
};

struct sgl_agent_mux;
struct sgl_agent_link;

/* daemon_caps: the daemon's capability word 0 (VD_AGENT_CAP_* bits). */
struct sgl_agent_mux *sgl_agent_mux_create(const struct sgl_agent_mux_callbacks *cb, void *user,
                                           uint32_t daemon_caps);
/* Accepts NULL. Links must be destroyed first. */
void sgl_agent_mux_destroy(struct sgl_agent_mux *mux);

/* The guest port's side (qemu-chardev.h). */
void sgl_agent_mux_guest_opened(struct sgl_agent_mux *mux, bool open);
void sgl_agent_mux_guest_received(struct sgl_agent_mux *mux, const uint8_t *bytes, size_t n);
void sgl_agent_mux_guest_writable(struct sgl_agent_mux *mux);
bool sgl_agent_mux_guest_agent(const struct sgl_agent_mux *mux);

/* A server's side. wakeup: spice_server_char_device_wakeup for its
 * device. mux may be NULL (no guest port): the link then serves the
 * daemon alone. */
struct sgl_agent_link *sgl_agent_link_create(struct sgl_agent_mux *mux, void (*wakeup)(void *),
                                             void *wakeup_data);
void sgl_agent_link_destroy(struct sgl_agent_link *link);
/* spice-server's write: returns bytes taken (all, or 0 while the guest's
 * queue is full). */
size_t sgl_agent_link_from_server(struct sgl_agent_link *link, const uint8_t *bytes, size_t n);
/* spice-server's read: up to n bytes for it. */
size_t sgl_agent_link_to_server(struct sgl_agent_link *link, uint8_t *buf, size_t n);
/* The daemon's part saw a client's capabilities (request: it asks for
 * ours) or its leaving. */
void sgl_agent_link_client_caps(struct sgl_agent_link *link, bool request);
void sgl_agent_link_client_gone(struct sgl_agent_link *link);
/* A client's monitor layout (validated): passed on to the guest's agent
 * without physical sizes, which spice-vdagent 0.22 and older refuse
 * ("invalid message size for VDAgentMonitorsConfig"). */
struct sgl_agent_monitor;
void sgl_agent_link_client_monitors(struct sgl_agent_link *link,
                                    const struct sgl_agent_monitor *monitors, uint32_t n);

#endif
