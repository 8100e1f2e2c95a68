/* Network helpers for tests that listen on loopback only. */
#ifndef SGL_TEST_NET_H
#define SGL_TEST_NET_H

#include <glib.h>

/* A TCP port on 127.0.0.1 that was free a moment ago (0 on failure). */
guint16 sgl_test_free_port(void);

#endif
