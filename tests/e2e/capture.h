/* A packet capture of one TCP port on the loopback interface (tcpdump),
 * for tests that must say which side of a connection failed it: started
 * before the connections, stopped after, and read back for the resets
 * each side sent. Needs root (CAP_NET_RAW); the test's own thread calls
 * everything. */
#ifndef SGL_E2E_CAPTURE_H
#define SGL_E2E_CAPTURE_H

#include <glib.h>

struct sgl_e2e_capture;

/* Starts capturing PORT into PCAP (replaced) and returns once tcpdump
 * listens; NULL with error if it cannot (not root, no tcpdump). A capture
 * never stopped ends by itself after ten minutes. */
struct sgl_e2e_capture *sgl_e2e_capture_start(const char *pcap, guint16 port, GError **error);

/* Stops capturing and frees; what was captured stays in the file. Accepts
 * NULL. */
void sgl_e2e_capture_stop(struct sgl_e2e_capture *c);

/* The resets (TCP RST) in a capture of a server's port: those the server
 * sent and those its clients sent, each with tcpdump's lines for them
 * (times, ports). Caller-allocated; _finish frees the lines. */
struct sgl_e2e_resets {
    unsigned server_sent, client_sent;
    char *server_lines, *client_lines;
};

/* Reads PCAP, a capture of PORT, into r. False with error (and r empty)
 * if the file cannot be read. */
gboolean sgl_e2e_capture_resets(const char *pcap, guint16 port, struct sgl_e2e_resets *r,
                                GError **error);
void sgl_e2e_resets_finish(struct sgl_e2e_resets *r);

#endif
