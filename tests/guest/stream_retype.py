#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Hide records of a vfmig stream inside any file, keeping it valid.

Usage: stream_retype.py FILE regs|mem-last

Finds vfmig record headers in FILE (a saved QEMU migration, say, where the
device's stream is cut into QEMU's chunks), gives the chosen ones an unknown
type without the MANDATORY flag and reseals their header CRC. The stream
stays valid at every write(): lengths, sequence numbers, payload CRCs and
the END counts are unchanged, and a reader skips an unknown optional record
(Documentation/stream-format.rst). What is lost is what the record carried:
`regs` hides every register record, `mem-last` every memory record of the
last MiB of the memory BAR. A driver must then refuse the stream at
RESUMING -> STOP, the only place it can see that something is missing.
Prints how many records it hid; exits 1 when it found none.
"""
import struct
import sys

HIDDEN_TYPE = 0x0100    # no such type: a reader skips it when optional
MEM, REGS = 1, 2
MANDATORY = 1
MIB = 1 << 20


def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 & -(crc & 1))
    return crc ^ 0xffffffff


def main():
    path, what = sys.argv[1], sys.argv[2]
    with open(path, 'rb') as f:
        data = bytearray(f.read())
    hdr = data.find(struct.pack('<I', 0x474d4656))
    if hdr < 0:
        print('no vfmig stream header ("VFMG")')
        return 1
    bar2 = struct.unpack_from('<Q', data, hdr + 24 + 2 * 8)[0]
    if what == 'regs':
        prefix = struct.pack('<HHII', REGS, MANDATORY, 8, 0)
        want_offset = 0
    elif what == 'mem-last':
        prefix = struct.pack('<HHII', MEM, MANDATORY, MIB, 2)
        want_offset = bar2 - MIB
    else:
        print(f'unknown kind {what}')
        return 2
    hidden = 0
    pos = data.find(prefix, hdr)
    while pos >= 0:
        head = bytes(data[pos:pos + 32])
        offset = struct.unpack_from('<Q', head, 16)[0]
        sealed = struct.unpack_from('<I', head, 28)[0] == crc32c(head[:28])
        if sealed and offset == want_offset:
            struct.pack_into('<HH', data, pos, HIDDEN_TYPE, 0)
            struct.pack_into('<I', data, pos + 28, crc32c(bytes(data[pos:pos + 28])))
            hidden += 1
        pos = data.find(prefix, pos + 1)
    with open(path, 'wb') as f:
        f.write(data)
    print(f'hid {hidden} {what} record(s)')
    return 0 if hidden else 1


if __name__ == '__main__':
    sys.exit(main())
