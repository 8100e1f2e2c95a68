#include "config.h"

#include "guest-mem.h"

#include <stddef.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* Larger regions or offsets are not guest RAM any VM has: refused rather
 * than mapped, so that sums below cannot wrap. */
#define MAX_REGION_BYTES (1ull << 40)

void vu_guest_mem_init(struct vu_guest_mem *mem)
{
    *mem = (struct vu_guest_mem){0};
}

static void region_unmap(struct vu_mem_region *r)
{
    if (r->map)
        munmap(r->map, r->msg.size + r->msg.mmap_offset);
    *r = (struct vu_mem_region){0};
}

void vu_guest_mem_finish(struct vu_guest_mem *mem)
{
    for (uint32_t i = 0; i < mem->n_regions; i++)
        region_unmap(&mem->regions[i]);
    mem->n_regions = 0;
}

bool vu_guest_mem_add(struct vu_guest_mem *mem, const struct vu_mem_region_msg *m, int fd,
                      const char **why)
{
    if (mem->n_regions >= VU_MAX_MEM_SLOTS) {
        *why = "too many memory regions";
        return false;
    }
    if (!m->size || m->size > MAX_REGION_BYTES || m->mmap_offset > MAX_REGION_BYTES ||
        m->gpa + m->size < m->gpa || m->qva + m->size < m->qva) {
        *why = "memory region size or offset out of range";
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        (uint64_t)st.st_size < m->mmap_offset + m->size) {
        *why = "memory region larger than its file";
        return false;
    }
    void *map = mmap(NULL, m->size + m->mmap_offset, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        *why = "cannot map a memory region";
        return false;
    }
    mem->regions[mem->n_regions++] =
        (struct vu_mem_region){*m, map, (uint8_t *)map + m->mmap_offset};
    return true;
}

bool vu_guest_mem_remove(struct vu_guest_mem *mem, uint64_t gpa, uint64_t size)
{
    for (uint32_t i = 0; i < mem->n_regions; i++) {
        struct vu_mem_region *r = &mem->regions[i];
        if (r->msg.gpa == gpa && r->msg.size == size) {
            region_unmap(r);
            mem->regions[i] = mem->regions[--mem->n_regions];
            mem->regions[mem->n_regions] = (struct vu_mem_region){0};
            return true;
        }
    }
    return false;
}

/* [addr, addr + len) inside one region, addr in the guest's physical
 * space (qva false) or QEMU's (qva true). */
static void *translate(const struct vu_guest_mem *mem, uint64_t addr, uint64_t len, bool qva)
{
    for (uint32_t i = 0; i < mem->n_regions; i++) {
        const struct vu_mem_region *r = &mem->regions[i];
        uint64_t base = qva ? r->msg.qva : r->msg.gpa;
        if (addr >= base && addr - base <= r->msg.size && len <= r->msg.size - (addr - base))
            return r->host + (addr - base);
    }
    return NULL;
}

void *vu_guest_mem_gpa_to_va(const struct vu_guest_mem *mem, uint64_t gpa, uint64_t len)
{
    return translate(mem, gpa, len, false);
}

void *vu_guest_mem_qva_to_va(const struct vu_guest_mem *mem, uint64_t qva, uint64_t len)
{
    return translate(mem, qva, len, true);
}
