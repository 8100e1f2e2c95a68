#!/usr/bin/env python3
"""Seeds for fuzz-vhost-user from a recorded guest session.

Reads a session.bin that spicegl-gpu --record-commands wrote (each
request a little-endian u32 length, bit 31 for the cursor queue, and its
bytes) and writes fuzz-vhost-user inputs that replay its first requests
on the rings, with loop turns for the fences and memory-map changes
between them (see the operation list in fuzz-vhost-user.c).

usage: vhost-user-seeds.py SESSION.bin OUTDIR NAME
       vhost-user-seeds.py --crafted OUTDIR
With --crafted, writes crafted.bin: QEMU's display socket, then a 3D
resource with backing in the second region, transfers both ways, a
scanout, flushes (fenced too), a cursor, a 3D context with a command
stream, and the display and capset queries.
"""
import struct
import sys

MAX_REQ = 0x2000 - 0x100


def requests(path):
    data = open(path, "rb").read()
    off = 0
    while off + 4 <= len(data):
        (head,) = struct.unpack_from("<I", data, off)
        off += 4
        n = head & 0x7FFFFFFF
        yield (1 if head & 0x80000000 else 0), data[off:off + n]
        off += n


def post(q, req):
    req = req[:MAX_REQ]
    return bytes([2, q]) + struct.pack("<H", len(req)) + req


def turns(n):
    return bytes([7, n])


def hdr(cmd, flags=0, fence=0, ctx=0):
    return struct.pack("<IIQII", cmd, flags, fence, ctx, 0)


BACKING_GPA = 0x10000000  # the harness's second region


def crafted():
    gpu_set_socket = bytes([0]) + struct.pack("<IIH", 33, 1, 0)
    create_3d = hdr(0x0208) + struct.pack("<IIIIIIIIIIII", 5, 2, 1, 0x2 | 0x8, 64, 64, 1, 1, 0,
                                           0, 0, 0)
    attach = hdr(0x0106) + struct.pack("<II", 5, 1) + struct.pack("<QII", BACKING_GPA, 64 * 64 * 4, 0)
    box = struct.pack("<IIIIII", 0, 0, 0, 64, 64, 1)
    to_host = hdr(0x0209) + box + struct.pack("<QIIII", 0, 5, 0, 256, 0)
    from_host = hdr(0x020A) + box + struct.pack("<QIIII", 0, 5, 0, 256, 0)
    scanout = hdr(0x0103) + struct.pack("<IIIIII", 0, 0, 64, 64, 0, 5)
    flush = hdr(0x0104) + struct.pack("<IIIIII", 0, 0, 64, 64, 5, 0)
    fenced_flush = hdr(0x0104, 1, 7) + struct.pack("<IIIIII", 0, 0, 64, 64, 5, 0)
    cursor = hdr(0x0300) + struct.pack("<IIII", 0, 10, 20, 0) + struct.pack("<IIII", 5, 1, 1, 0)
    move = hdr(0x0301) + struct.pack("<IIII", 0, 30, 40, 0) + struct.pack("<IIII", 0, 0, 0, 0)
    ctx = hdr(0x0200, ctx=3) + struct.pack("<II", 4, 0) + b"test".ljust(64, b"\0")
    submit = hdr(0x0206, ctx=3) + struct.pack("<II", 4, 0) + struct.pack("<I", 0)
    ctx_destroy = hdr(0x0201, ctx=3)
    queries = [hdr(0x0100), hdr(0x010A) + struct.pack("<II", 0, 0),
               hdr(0x0108) + struct.pack("<II", 0, 0),
               hdr(0x0109) + struct.pack("<II", 1, 0)]
    out = gpu_set_socket + turns(2)
    for q, r in [(0, create_3d), (0, attach), (0, to_host), (0, from_host), (0, scanout),
                 (0, flush), (0, fenced_flush), (1, cursor), (1, move), (0, ctx), (0, submit),
                 (0, ctx_destroy)] + [(0, r) for r in queries]:
        out += post(q, r) + turns(8)
    # The backing's region goes and comes back: transfers then fail, then
    # the guest attaches again.
    out += bytes([4, 1]) + post(0, to_host) + turns(4) + bytes([5, 1]) + post(0, attach) + \
        post(0, to_host) + turns(4) + bytes([7, 200])
    return out


def main():
    if sys.argv[1] == "--crafted":
        open(f"{sys.argv[2]}/crafted.bin", "wb").write(crafted())
        return
    session, outdir, name = sys.argv[1:4]
    reqs = [r for r in requests(session) if len(r[1]) <= MAX_REQ][:48]
    plain = b"".join(post(q, r) + turns(4) for q, r in reqs)
    open(f"{outdir}/{name}.bin", "wb").write(plain)
    # The same, with the memory map changing under it: the backing region
    # removed and added again, then a new table, mid-session.
    third = len(reqs) // 3
    moved = b""
    for i, (q, r) in enumerate(reqs):
        if i == third:
            moved += bytes([4, 1]) + turns(2) + bytes([5, 1])
        if i == 2 * third:
            moved += bytes([6, 1]) + turns(2) + bytes([6, 0])
        moved += post(q, r) + turns(4)
    open(f"{outdir}/{name}-remap.bin", "wb").write(moved)
    # Heads made available again while in flight.
    again = b"".join(post(q, r) + bytes([3, q]) for q, r in reqs[:8])
    open(f"{outdir}/{name}-again.bin", "wb").write(again)


if __name__ == "__main__":
    main()
