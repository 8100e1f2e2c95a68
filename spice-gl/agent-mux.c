#include "config.h"

#include "agent-mux.h"

#include <string.h>

#include <glib.h>
#include <spice/vd_agent.h>

#include "agent-protocol.h"
#include "common/le.h"

#define N_PORTS 2
/* Capability words kept from the guest agent (VD_AGENT_CAPS_SIZE today: 1). */
#define MAX_CAPS_WORDS 8u
/* Guest messages read whole here: capabilities, file-transfer status. */
#define SMALL_MESSAGE 1024u
/* Leading data bytes of a file-transfer message read here: id, status. */
#define XFER_HEAD 8u

struct sgl_agent_link {
    struct sgl_agent_mux *mux;
    void (*wakeup)(void *);
    void *wakeup_data;
    /* For spice-server, in order: struct segment (bytes, or zeros owed to
     * complete a guest message cut off); out_bytes: the bytes in it. */
    GQueue out;
    size_t out_bytes;
    struct sgl_agent_splitter split;
    /* The message under way on each port: whether it goes to the guest's
     * agent (until that closes or reopens its port), its type, and its
     * first bytes when a file-transfer message. */
    bool fwd[N_PORTS];
    uint32_t type[N_PORTS];
    uint8_t head[N_PORTS][XFER_HEAD];
    uint32_t head_len[N_PORTS];
    uint32_t xfers[SGL_AGENT_MUX_XFERS]; /* ids under way with the guest */
    uint32_t n_xfers;
    gint64 last_warning;
    uint64_t suppressed;
};

struct sgl_agent_mux {
    const struct sgl_agent_mux_callbacks *cb;
    void *user;
    uint32_t daemon_caps;
    bool open, held;
    GByteArray *gout; /* for the guest */
    struct sgl_agent_splitter gsplit;
    GPtrArray *links;
    struct sgl_agent_link *active;
    uint32_t guest_caps[MAX_CAPS_WORDS], n_guest_caps;
    /* The guest message under way on each port: where it goes, what is
     * left of it there, and its bytes when read here. */
    struct sgl_agent_link *dest[N_PORTS];
    uint64_t left[N_PORTS];
    uint32_t gtype[N_PORTS];
    bool keep[N_PORTS];
    uint8_t small[N_PORTS][SMALL_MESSAGE];
    uint32_t small_len[N_PORTS];
};

/* ---- queues ------------------------------------------------------------ */

struct segment {
    GByteArray *bytes; /* NULL: a pad */
    size_t pos;
    uint32_t pad_port;
    uint64_t pad_left;
};

static size_t link_pending(const struct sgl_agent_link *l)
{
    return l->out_bytes;
}

static void segment_free(gpointer data)
{
    struct segment *seg = data;
    if (seg->bytes)
        g_byte_array_unref(seg->bytes);
    g_free(seg);
}

static void link_clear(struct sgl_agent_link *l)
{
    g_queue_clear_full(&l->out, segment_free);
    l->out_bytes = 0;
}

static void link_append(struct sgl_agent_link *l, const uint8_t *bytes, size_t n)
{
    struct segment *tail = g_queue_peek_tail(&l->out);
    if (!tail || !tail->bytes) {
        tail = g_new0(struct segment, 1);
        tail->bytes = g_byte_array_new();
        g_queue_push_tail(&l->out, tail);
    }
    g_byte_array_append(tail->bytes, bytes, (guint)n);
    l->out_bytes += n;
}

/* n bytes on port, for spice-server, in chunks of SGL_AGENT_MAX_CHUNK at
 * most, as clients chunk (the guest's chunks are as long as its messages). */
static void link_put(struct sgl_agent_link *l, uint32_t port, const uint8_t *bytes, uint32_t n)
{
    for (uint32_t off = 0; off < n;) {
        uint32_t k = MIN(n - off, SGL_AGENT_MAX_CHUNK);
        uint8_t ch[SGL_AGENT_CHUNK_HEADER_SIZE];
        sgl_agent_write_chunk_header(ch, port, k);
        link_append(l, ch, sizeof ch);
        link_append(l, bytes + off, k);
        off += k;
    }
    l->wakeup(l->wakeup_data);
}

static void link_message(struct sgl_agent_link *l, uint32_t type, const uint8_t *data, uint32_t n)
{
    uint8_t head[SGL_AGENT_HEADER_SIZE];
    sgl_agent_write_message_header(head, type, n);
    uint8_t ch[SGL_AGENT_CHUNK_HEADER_SIZE];
    sgl_agent_write_chunk_header(ch, VDP_CLIENT_PORT, SGL_AGENT_HEADER_SIZE + n);
    link_append(l, ch, sizeof ch);
    link_append(l, head, sizeof head);
    link_append(l, data, n);
    l->wakeup(l->wakeup_data);
}

static void link_pad(struct sgl_agent_link *l, uint32_t port, uint64_t n)
{
    if (!n)
        return;
    struct segment *pad = g_new0(struct segment, 1);
    pad->pad_port = port;
    pad->pad_left = n;
    g_queue_push_tail(&l->out, pad);
    l->wakeup(l->wakeup_data);
}

static void guest_put(struct sgl_agent_mux *mux, uint32_t port, const uint8_t *bytes, uint32_t n)
{
    uint8_t ch[SGL_AGENT_CHUNK_HEADER_SIZE];
    sgl_agent_write_chunk_header(ch, port, n);
    g_byte_array_append(mux->gout, ch, sizeof ch);
    g_byte_array_append(mux->gout, bytes, n);
}

static void guest_flush(struct sgl_agent_mux *mux)
{
    if (!mux->gout->len)
        return;
    size_t n = mux->cb->guest_write(mux->gout->data, mux->gout->len, mux->user);
    g_byte_array_remove_range(mux->gout, 0, (guint)n);
}

/* ---- capabilities and transfers ----------------------------------------- */

static void send_caps(struct sgl_agent_mux *mux, struct sgl_agent_link *l, bool request)
{
    uint8_t data[4 + 4 * MAX_CAPS_WORDS];
    uint32_t n = mux && mux->open && mux->n_guest_caps ? mux->n_guest_caps : 1;
    sgl_le32_put(data, request ? 1 : 0);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t w = mux && mux->open && i < mux->n_guest_caps ? mux->guest_caps[i] : 0;
        if (i == 0)
            w |= mux ? mux->daemon_caps : 1u << VD_AGENT_CAP_MONITORS_CONFIG;
        sgl_le32_put(data + 4 + 4 * i, w);
    }
    link_message(l, VD_AGENT_ANNOUNCE_CAPABILITIES, data, 4 + 4 * n);
}

static void xfer_status(struct sgl_agent_link *l, uint32_t id, uint32_t result)
{
    uint8_t data[8];
    sgl_le32_put(data, id);
    sgl_le32_put(data + 4, result);
    link_message(l, VD_AGENT_FILE_XFER_STATUS, data, sizeof data);
}

static void xfer_forget(struct sgl_agent_link *l, uint32_t id)
{
    for (uint32_t i = 0; i < l->n_xfers; i++)
        if (l->xfers[i] == id) {
            l->xfers[i] = l->xfers[--l->n_xfers];
            return;
        }
}

/* The guest's agent went: each transfer under way ends in error. */
static void xfers_fail(struct sgl_agent_link *l)
{
    for (uint32_t i = 0; i < l->n_xfers; i++)
        xfer_status(l, l->xfers[i], VD_AGENT_FILE_XFER_STATUS_ERROR);
    l->n_xfers = 0;
}

/* A guest message being sent to l stops there: spice-server's framing
 * needs the rest, which is owed as zeros. */
static void cut_guest_messages(struct sgl_agent_mux *mux, struct sgl_agent_link *l)
{
    for (int p = 0; p < N_PORTS; p++)
        if (mux->dest[p] == l) {
            link_pad(l, (uint32_t)p + 1, mux->left[p]);
            mux->dest[p] = NULL;
        }
}

static void warn_link(struct sgl_agent_link *l, const char *what)
{
    gint64 now = g_get_monotonic_time();
    if (now - l->last_warning < G_USEC_PER_SEC) {
        l->suppressed++;
        return;
    }
    g_warning("agent: %s; the client's agent data was dropped (%" G_GUINT64_FORMAT
              " more such messages suppressed)",
              what, l->suppressed);
    l->last_warning = now;
    l->suppressed = 0;
}

/* ---- a server's stream, to the guest ------------------------------------ */

static void set_active(struct sgl_agent_mux *mux, struct sgl_agent_link *l)
{
    if (mux->active == l)
        return;
    if (mux->active) {
        /* The guest's agent serves one client: the one before is gone
         * for it. */
        cut_guest_messages(mux, mux->active);
        xfers_fail(mux->active);
        if (mux->open) {
            uint8_t head[SGL_AGENT_HEADER_SIZE];
            sgl_agent_write_message_header(head, VD_AGENT_CLIENT_DISCONNECTED, 0);
            guest_put(mux, VDP_SERVER_PORT, head, sizeof head);
        }
    }
    mux->active = l;
}

static bool link_begin(uint32_t port, uint32_t type, uint32_t size, const uint8_t *head, void *user)
{
    struct sgl_agent_link *l = user;
    struct sgl_agent_mux *mux = l->mux;
    int p = (int)port - 1;
    l->type[p] = type;
    l->head_len[p] = 0;
    /* The daemon's; monitors configs go to the guest rewritten
     * (sgl_agent_link_client_monitors). */
    if (type == VD_AGENT_MOUSE_STATE || type == VD_AGENT_MONITORS_CONFIG)
        return false;
    if (mux && type == VD_AGENT_ANNOUNCE_CAPABILITIES && port == VDP_CLIENT_PORT)
        set_active(mux, l);
    l->fwd[p] = mux && mux->open && mux->active == l;
    if (l->fwd[p])
        guest_put(mux, port, head, SGL_AGENT_HEADER_SIZE);
    return l->fwd[p] || type == VD_AGENT_FILE_XFER_START || type == VD_AGENT_FILE_XFER_STATUS;
}

static void link_data(uint32_t port, const uint8_t *bytes, uint32_t n, void *user)
{
    struct sgl_agent_link *l = user;
    int p = (int)port - 1;
    if (l->head_len[p] < XFER_HEAD) {
        uint32_t take = MIN(n, XFER_HEAD - l->head_len[p]);
        memcpy(l->head[p] + l->head_len[p], bytes, take);
        l->head_len[p] += take;
    }
    if (l->fwd[p])
        guest_put(l->mux, port, bytes, n);
}

static void link_end(uint32_t port, void *user)
{
    struct sgl_agent_link *l = user;
    int p = (int)port - 1;
    bool sent = l->fwd[p];
    uint32_t id = l->head_len[p] >= 4 ? sgl_le32_get(l->head[p]) : 0;
    if (l->type[p] == VD_AGENT_FILE_XFER_START && l->head_len[p] >= 4) {
        if (!sent)
            xfer_status(l, id, VD_AGENT_FILE_XFER_STATUS_ERROR);
        else if (l->n_xfers < SGL_AGENT_MUX_XFERS)
            l->xfers[l->n_xfers++] = id;
    } else if (l->type[p] == VD_AGENT_FILE_XFER_STATUS && l->head_len[p] >= 8 &&
               sgl_le32_get(l->head[p] + 4) != VD_AGENT_FILE_XFER_STATUS_CAN_SEND_DATA) {
        xfer_forget(l, id);
    }
    l->fwd[p] = false;
}

static const struct sgl_agent_splitter_callbacks link_split = {link_begin, link_data, link_end};

size_t sgl_agent_link_from_server(struct sgl_agent_link *l, const uint8_t *bytes, size_t n)
{
    struct sgl_agent_mux *mux = l->mux;
    if (mux && mux->gout->len > SGL_AGENT_MUX_QUEUE) {
        guest_flush(mux);
        if (mux->gout->len > SGL_AGENT_MUX_QUEUE)
            return 0; /* spice-server writes it again */
    }
    if (!sgl_agent_splitter_feed(&l->split, bytes, n, &link_split, l)) {
        warn_link(l, l->split.error);
        sgl_agent_splitter_init(&l->split, SGL_AGENT_MAX_CHUNK);
        for (int p = 0; p < N_PORTS; p++)
            l->fwd[p] = false;
        /* A message cut short would desynchronise the guest's agent. */
        if (mux && mux->active == l && mux->open)
            mux->cb->guest_reset(mux->user);
    }
    if (mux)
        guest_flush(mux);
    return n;
}

size_t sgl_agent_link_to_server(struct sgl_agent_link *l, uint8_t *buf, size_t n)
{
    size_t done = 0;
    struct segment *seg;
    while (done < n && (seg = g_queue_peek_head(&l->out))) {
        if (!seg->bytes) {
            /* The next chunk of zeros, as bytes before the pad. */
            static const uint8_t zeros[SGL_AGENT_MAX_CHUNK];
            uint32_t k = (uint32_t)MIN(seg->pad_left, (uint64_t)SGL_AGENT_MAX_CHUNK);
            struct segment *b = g_new0(struct segment, 1);
            b->bytes = g_byte_array_sized_new(SGL_AGENT_CHUNK_HEADER_SIZE + k);
            uint8_t ch[SGL_AGENT_CHUNK_HEADER_SIZE];
            sgl_agent_write_chunk_header(ch, seg->pad_port, k);
            g_byte_array_append(b->bytes, ch, sizeof ch);
            g_byte_array_append(b->bytes, zeros, k);
            l->out_bytes += b->bytes->len;
            seg->pad_left -= k;
            if (!seg->pad_left)
                segment_free(g_queue_pop_head(&l->out));
            g_queue_push_head(&l->out, b);
            continue;
        }
        size_t k = MIN(n - done, seg->bytes->len - seg->pos);
        memcpy(buf + done, seg->bytes->data + seg->pos, k);
        seg->pos += k;
        done += k;
        l->out_bytes -= k;
        if (seg->pos == seg->bytes->len)
            segment_free(g_queue_pop_head(&l->out));
    }
    struct sgl_agent_mux *mux = l->mux;
    if (mux && mux->held && link_pending(l) < SGL_AGENT_MUX_QUEUE / 2) {
        mux->held = false;
        mux->cb->guest_hold(false, mux->user);
    }
    return done;
}

void sgl_agent_link_client_caps(struct sgl_agent_link *l, bool request)
{
    if (request)
        send_caps(l->mux, l, false);
}

void sgl_agent_link_client_monitors(struct sgl_agent_link *l,
                                    const struct sgl_agent_monitor *monitors, uint32_t n)
{
    struct sgl_agent_mux *mux = l->mux;
    if (!mux || !mux->open || mux->active != l || n == 0 || n > SGL_AGENT_MAX_MONITORS)
        return;
    uint8_t msg[SGL_AGENT_HEADER_SIZE + 8 + 20 * SGL_AGENT_MAX_MONITORS];
    uint32_t size = 8 + 20 * n;
    sgl_agent_write_message_header(msg, VD_AGENT_MONITORS_CONFIG, size);
    uint8_t *d = msg + SGL_AGENT_HEADER_SIZE;
    sgl_le32_put(d, n);
    sgl_le32_put(d + 4, 0); /* flags: no physical sizes */
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *m = d + 8 + 20 * i;
        sgl_le32_put(m, monitors[i].height);
        sgl_le32_put(m + 4, monitors[i].width);
        sgl_le32_put(m + 8, 32);
        sgl_le32_put(m + 12, (uint32_t)monitors[i].x);
        sgl_le32_put(m + 16, (uint32_t)monitors[i].y);
    }
    guest_put(mux, VDP_CLIENT_PORT, msg, SGL_AGENT_HEADER_SIZE + size);
    guest_flush(mux);
}

void sgl_agent_link_client_gone(struct sgl_agent_link *l)
{
    struct sgl_agent_mux *mux = l->mux;
    link_clear(l);
    l->n_xfers = 0;
    if (mux && mux->active == l) {
        for (int p = 0; p < N_PORTS; p++)
            if (mux->dest[p] == l)
                mux->dest[p] = NULL;
        mux->active = NULL;
    }
}

struct sgl_agent_link *sgl_agent_link_create(struct sgl_agent_mux *mux, void (*wakeup)(void *),
                                             void *wakeup_data)
{
    struct sgl_agent_link *l = g_new0(struct sgl_agent_link, 1);
    l->mux = mux;
    l->wakeup = wakeup;
    l->wakeup_data = wakeup_data;
    g_queue_init(&l->out);
    sgl_agent_splitter_init(&l->split, SGL_AGENT_MAX_CHUNK);
    if (mux)
        g_ptr_array_add(mux->links, l);
    return l;
}

void sgl_agent_link_destroy(struct sgl_agent_link *l)
{
    if (!l)
        return;
    struct sgl_agent_mux *mux = l->mux;
    if (mux) {
        if (mux->active == l)
            mux->active = NULL;
        for (int p = 0; p < N_PORTS; p++)
            if (mux->dest[p] == l)
                mux->dest[p] = NULL;
        g_ptr_array_remove(mux->links, l);
    }
    link_clear(l);
    g_free(l);
}

/* ---- the guest's stream, to the active link ----------------------------- */

static bool guest_begin(uint32_t port, uint32_t type, uint32_t size, const uint8_t *head,
                        void *user)
{
    struct sgl_agent_mux *mux = user;
    int p = (int)port - 1;
    mux->gtype[p] = type;
    mux->small_len[p] = 0;
    mux->keep[p] = size <= SMALL_MESSAGE &&
                   (type == VD_AGENT_ANNOUNCE_CAPABILITIES || type == VD_AGENT_FILE_XFER_STATUS);
    mux->dest[p] = NULL;
    if (type != VD_AGENT_ANNOUNCE_CAPABILITIES && mux->active) {
        mux->dest[p] = mux->active;
        mux->left[p] = size;
        link_put(mux->active, port, head, SGL_AGENT_HEADER_SIZE);
    }
    return mux->keep[p] || mux->dest[p];
}

static void guest_data(uint32_t port, const uint8_t *bytes, uint32_t n, void *user)
{
    struct sgl_agent_mux *mux = user;
    int p = (int)port - 1;
    if (mux->keep[p]) {
        memcpy(mux->small[p] + mux->small_len[p], bytes, n); /* size <= SMALL_MESSAGE */
        mux->small_len[p] += n;
    }
    struct sgl_agent_link *l = mux->dest[p];
    if (l) {
        link_put(l, port, bytes, n);
        mux->left[p] -= n;
        if (!mux->held && link_pending(l) > SGL_AGENT_MUX_QUEUE) {
            mux->held = true;
            mux->cb->guest_hold(true, mux->user);
        }
    }
}

static void guest_end(uint32_t port, void *user)
{
    struct sgl_agent_mux *mux = user;
    int p = (int)port - 1;
    mux->dest[p] = NULL;
    if (!mux->keep[p])
        return;
    const uint8_t *d = mux->small[p];
    uint32_t n = mux->small_len[p];
    if (mux->gtype[p] == VD_AGENT_ANNOUNCE_CAPABILITIES && n >= 8) {
        bool request = sgl_le32_get(d) != 0;
        mux->n_guest_caps = MIN((n - 4) / 4, MAX_CAPS_WORDS);
        for (uint32_t i = 0; i < mux->n_guest_caps; i++)
            mux->guest_caps[i] = sgl_le32_get(d + 4 + 4 * i);
        if (mux->active)
            send_caps(mux, mux->active, request);
    } else if (mux->gtype[p] == VD_AGENT_FILE_XFER_STATUS && n >= 8 && mux->active &&
               sgl_le32_get(d + 4) != VD_AGENT_FILE_XFER_STATUS_CAN_SEND_DATA) {
        xfer_forget(mux->active, sgl_le32_get(d));
    }
}

static const struct sgl_agent_splitter_callbacks guest_split = {guest_begin, guest_data, guest_end};

void sgl_agent_mux_guest_received(struct sgl_agent_mux *mux, const uint8_t *bytes, size_t n)
{
    if (!mux->open)
        return; /* stale: the port is renewed */
    if (!sgl_agent_splitter_feed(&mux->gsplit, bytes, n, &guest_split, mux)) {
        g_warning("agent: malformed data from the guest's agent: %s; resetting its port",
                  mux->gsplit.error);
        mux->cb->guest_reset(mux->user);
        sgl_agent_mux_guest_opened(mux, false);
    }
}

void sgl_agent_mux_guest_writable(struct sgl_agent_mux *mux)
{
    guest_flush(mux);
    if (mux->gout->len <= SGL_AGENT_MUX_QUEUE)
        for (guint i = 0; i < mux->links->len; i++) {
            struct sgl_agent_link *l = g_ptr_array_index(mux->links, i);
            l->wakeup(l->wakeup_data);
        }
}

void sgl_agent_mux_guest_opened(struct sgl_agent_mux *mux, bool open)
{
    if (open == mux->open)
        return;
    mux->open = open;
    /* Messages under way stop going to the guest: a new agent starts
     * with the next whole message. */
    for (guint i = 0; i < mux->links->len; i++) {
        struct sgl_agent_link *l = g_ptr_array_index(mux->links, i);
        for (int p = 0; p < N_PORTS; p++)
            l->fwd[p] = false;
    }
    g_byte_array_set_size(mux->gout, 0);
    sgl_agent_splitter_init(&mux->gsplit, SGL_AGENT_GUEST_MAX_CHUNK);
    if (mux->held) {
        mux->held = false;
        mux->cb->guest_hold(false, mux->user);
    }
    g_message("agent: the guest's agent %s", open ? "opened its port" : "closed its port");
    if (open)
        return;
    mux->n_guest_caps = 0;
    for (guint i = 0; i < mux->links->len; i++) {
        struct sgl_agent_link *l = g_ptr_array_index(mux->links, i);
        cut_guest_messages(mux, l);
        xfers_fail(l);
    }
    if (mux->active)
        send_caps(mux, mux->active, false);
}

bool sgl_agent_mux_guest_agent(const struct sgl_agent_mux *mux)
{
    return mux->open && mux->n_guest_caps > 0;
}

struct sgl_agent_mux *sgl_agent_mux_create(const struct sgl_agent_mux_callbacks *cb, void *user,
                                           uint32_t daemon_caps)
{
    struct sgl_agent_mux *mux = g_new0(struct sgl_agent_mux, 1);
    mux->cb = cb;
    mux->user = user;
    mux->daemon_caps = daemon_caps;
    mux->gout = g_byte_array_new();
    mux->links = g_ptr_array_new();
    sgl_agent_splitter_init(&mux->gsplit, SGL_AGENT_GUEST_MAX_CHUNK);
    return mux;
}

void sgl_agent_mux_destroy(struct sgl_agent_mux *mux)
{
    if (!mux)
        return;
    g_warn_if_fail(mux->links->len == 0);
    g_ptr_array_unref(mux->links);
    g_byte_array_unref(mux->gout);
    g_free(mux);
}
