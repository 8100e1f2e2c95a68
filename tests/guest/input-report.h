/* In the test guest: reports what the input devices deliver on the serial
 * console, as "@@SGL input type=key code=30 value=1" lines (linux/input.h
 * numbers; key repeats and sync events left out), so a test on the host
 * can see a client's keys and pointer arrive. */
#ifndef SGL_INPUT_REPORT_H
#define SGL_INPUT_REPORT_H

#define SGL_INPUT_REPORT_MAX 16

struct sgl_input_report {
    int fds[SGL_INPUT_REPORT_MAX];
    int n;
};

/* Opens every /dev/input/event* there is; prints how many. */
void sgl_input_report_open(struct sgl_input_report *r);
/* Prints what arrived since the last call; never blocks. */
void sgl_input_report_poll(struct sgl_input_report *r);
void sgl_input_report_close(struct sgl_input_report *r);

#endif
