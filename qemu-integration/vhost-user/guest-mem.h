/* Guest memory as vhost-user maps it: the regions QEMU passes (each an fd
 * with the guest-physical address, QEMU's own address and the offset of
 * the region in the file), mapped into this process, and the translation
 * of guest addresses to host pointers.
 *
 * Caller-allocated (vu_guest_mem_init/finish); one thread, the vhost-user
 * thread. A host pointer returned here is valid until the next change of
 * the map (add, remove, clear): the owner of the rings and the device are
 * told before each change and keep guest addresses, never pointers. */
#ifndef VU_GUEST_MEM_H
#define VU_GUEST_MEM_H

#include <stdbool.h>
#include <stdint.h>

#define VU_MAX_MEM_SLOTS 32

/* A region as QEMU describes it (VhostUserMemoryRegion). */
struct vu_mem_region_msg {
    uint64_t gpa, size, qva, mmap_offset;
};

struct vu_mem_region {
    struct vu_mem_region_msg msg;
    uint8_t *map; /* mmap of msg.mmap_offset + msg.size bytes */
    uint8_t *host;
};

struct vu_guest_mem {
    struct vu_mem_region regions[VU_MAX_MEM_SLOTS];
    uint32_t n_regions;
};

void vu_guest_mem_init(struct vu_guest_mem *mem);
/* Unmaps every region. */
void vu_guest_mem_finish(struct vu_guest_mem *mem);

/* Maps a region from fd (the caller keeps fd). Refused, with *why, past
 * VU_MAX_MEM_SLOTS regions, for sizes or offsets past 1 TiB or that wrap,
 * and for a region larger than its file (touching pages past a file's end
 * raises SIGBUS). */
bool vu_guest_mem_add(struct vu_guest_mem *mem, const struct vu_mem_region_msg *m, int fd,
                      const char **why);

/* Unmaps the region at gpa of this size; false when there is none. */
bool vu_guest_mem_remove(struct vu_guest_mem *mem, uint64_t gpa, uint64_t size);

/* Host pointer for guest-physical [gpa, gpa + len) when it lies in one
 * region; NULL otherwise. */
void *vu_guest_mem_gpa_to_va(const struct vu_guest_mem *mem, uint64_t gpa, uint64_t len);

/* The same for an address in QEMU's own address space (ring addresses). */
void *vu_guest_mem_qva_to_va(const struct vu_guest_mem *mem, uint64_t qva, uint64_t len);

#endif
