/* The daemon's sandbox, entered once start-up is over (sockets listening,
 * the renderer up): first the unprivileged user, then no_new_privs and a
 * seccomp filter on every thread that allows only the system calls the
 * daemon makes from then on.
 *
 * Outside the list: exec, ptrace, mount, module loading, namespaces,
 * identity changes and the like kill the process (nothing the daemon does
 * needs them; an exploit does); anything else fails with EPERM and the
 * call's number is written to stderr, so a call a library makes only on a
 * rare path degrades that path and says so instead of taking the VM's
 * display down. */
#ifndef SGL_SANDBOX_H
#define SGL_SANDBOX_H

#include <stdbool.h>

#include <glib.h>

/* Becomes user (name or uid): supplementary groups, group and user, with
 * no way back. Needs root; call it before sgl_sandbox_enter. */
bool sgl_sandbox_drop_user(const char *user, GError **error);

/* Sets no_new_privs and loads the filter on all of the process's threads
 * (those it starts later inherit it). There is no leaving it. */
bool sgl_sandbox_enter(GError **error);

#endif
