/* spicegl-ctl's output: a reply shown for people (or as it came, with
 * --json), and a screenshot written to its file. */
#ifndef SPICEGL_CTL_PRINT_H
#define SPICEGL_CTL_PRINT_H

#include "ctl-request.h"

/* Prints the reply to inv's request on stdout (an error reply on stderr);
 * the exit status: 0 for a return, 1 for an error or a reply that is not
 * one. */
int spicegl_ctl_print(const struct spicegl_ctl_invocation *inv, const char *reply);

#endif
