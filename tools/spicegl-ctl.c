/* spicegl-ctl: a person's tool for a running spicegl-gpu's control socket
 * (--control): parse, send one request, print the reply. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ctl-client.h"
#include "ctl-print.h"
#include "ctl-request.h"

int main(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(spicegl_ctl_usage, stdout);
        return 0;
    }
    /* A ticket never on the command line, where ps shows it. */
    char stdin_ticket[256] = "";
    if (spicegl_ctl_wants_stdin_ticket(argc, argv) &&
        !fgets(stdin_ticket, sizeof(stdin_ticket), stdin))
        stdin_ticket[0] = '\0';
    struct spicegl_ctl_invocation inv;
    g_autoptr(GError) error = NULL;
    bool ok = spicegl_ctl_parse(&inv, argc, argv, stdin_ticket[0] ? stdin_ticket : NULL, &error);
    memset(stdin_ticket, 0, sizeof(stdin_ticket));
    if (!ok) {
        fprintf(stderr, "spicegl-ctl: %s\n%s", error->message, spicegl_ctl_usage);
        spicegl_ctl_finish(&inv);
        return 2;
    }
    g_autofree char *reply = spicegl_ctl_exchange(inv.control, inv.request, &error);
    int status = 1;
    if (reply)
        status = spicegl_ctl_print(&inv, reply);
    else
        fprintf(stderr, "spicegl-ctl: %s\n", error->message);
    spicegl_ctl_finish(&inv);
    return status;
}
