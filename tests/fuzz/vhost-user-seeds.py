#!/usr/bin/env python3
"""Seeds for fuzz-vhost-user from a recorded guest session.

Reads a session.bin that spicegl-gpu --record-commands wrote (each
request a little-endian u32 length, bit 31 for the cursor queue, and its
bytes) and writes fuzz-vhost-user inputs that replay its first requests
on the rings, with loop turns for the fences and memory-map changes
between them (see the operation list in fuzz-vhost-user.c).

usage: vhost-user-seeds.py SESSION.bin OUTDIR NAME
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


def main():
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
