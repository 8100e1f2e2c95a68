/* The VM's SPICE server: listening (TCP and/or a unix socket), and
 * authentication. A non-loopback address, plain or TLS, needs a ticket
 * unless `insecure` says otherwise: the network is hostile, and TLS
 * authenticates no client. */
#ifndef SGL_SERVER_H
#define SGL_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <spice.h>
#include <spice/protocol.h>

/* The longest ticket: spice-server keeps it in SPICE_MAX_PASSWORD_LENGTH
 * bytes with its terminating NUL. It refuses a longer one, and cuts one of
 * exactly SPICE_MAX_PASSWORD_LENGTH bytes short, which no client's password
 * then matches. */
#define SGL_SERVER_TICKET_MAX (SPICE_MAX_PASSWORD_LENGTH - 1)

struct sgl_server_options {
    const char *addr;      /* TCP address; NULL: 127.0.0.1 */
    int port;              /* 0: no TCP listener */
    const char *unix_path; /* NULL: no unix socket */
    const char *ticket;    /* NULL: no password */
    int ticket_lifetime_s; /* 0: no expiry */
    const char *tls_dir;   /* x509 directory (ca-cert.pem, server-cert.pem, server-key.pem) */
    int tls_port;
    bool insecure; /* allow a non-loopback address without a ticket */
};

/* Checks the options (the start-up errors say what to change). */
bool sgl_server_options_check(const struct sgl_server_options *options, GError **error);

/* Creates and starts a server on the thread-default main context. One server
 * listens on TCP or on a unix socket; spicegl-gpu runs two for both. */
SpiceServer *sgl_server_create(const struct sgl_server_options *options, bool use_unix,
                               GError **error);

#endif
