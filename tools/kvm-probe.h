/* Whether KVM works on this host, in two steps, each with a timeout (a
 * broken nested setup can hang in the kernel):
 * - spicegl_kvm_probe: /dev/kvm opens, its API is the stable one, and a
 *   vCPU runs one instruction (in a child process);
 * - spicegl_kvm_probe_qemu: QEMU itself starts a paused q35 machine with
 *   -accel kvm -cpu host and reports KVM enabled over QMP. Some nested
 *   hosts pass the first and fail here (QEMU cannot set the host CPU's
 *   MSRs). */
#ifndef SPICEGL_VM_KVM_PROBE_H
#define SPICEGL_VM_KVM_PROBE_H

#include <stdbool.h>

/* True when KVM works. False with *why (the caller frees it) saying what
 * failed, e.g. "/dev/kvm: No such file or directory". */
bool spicegl_kvm_probe(int timeout_ms, char **why);

/* qemu: the QEMU binary. False with *why: QEMU's last complaint. */
bool spicegl_kvm_probe_qemu(const char *qemu, int timeout_ms, char **why);

#endif
