#include "config.h"

#include "input-report.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <stdio.h>
#include <unistd.h>

void sgl_input_report_open(struct sgl_input_report *r)
{
    r->n = 0;
    for (int i = 0; i < SGL_INPUT_REPORT_MAX; i++) {
        char path[32];
        snprintf(path, sizeof(path), "/dev/input/event%d", i);
        int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0)
            r->fds[r->n++] = fd;
    }
    printf("@@SGL input-devices count=%d\n", r->n);
}

void sgl_input_report_poll(struct sgl_input_report *r)
{
    static const char *const types[] = {[EV_KEY] = "key", [EV_REL] = "rel", [EV_ABS] = "abs"};
    for (int i = 0; i < r->n; i++) {
        struct input_event ev[64];
        ssize_t n;
        while ((n = read(r->fds[i], ev, sizeof(ev))) > 0) {
            for (size_t k = 0; k < (size_t)n / sizeof(ev[0]); k++) {
                if (ev[k].type > EV_ABS || !types[ev[k].type] ||
                    (ev[k].type == EV_KEY && ev[k].value == 2))
                    continue;
                printf("@@SGL input type=%s code=%u value=%d\n", types[ev[k].type], ev[k].code,
                       ev[k].value);
            }
        }
    }
}

void sgl_input_report_close(struct sgl_input_report *r)
{
    for (int i = 0; i < r->n; i++)
        close(r->fds[i]);
    r->n = 0;
}
