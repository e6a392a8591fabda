#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A minimal ivshmem server for the test VM's ivshmem-doorbell (boot.sh).

QEMU's ivshmem-doorbell will not realize without a server: at startup it
reads, on its chardev socket, the protocol version (0), its own peer id,
then the shared memory as an fd with the message -1 (QEMU's
docs/specs/ivshmem-spec.rst). Debian ships no ivshmem-server, and the
device only has to exist, with its MSI-X BAR, for vfmig to refuse it, so
this serves one client with no peers and no eventfds, and keeps the
connection open until QEMU closes it.

Usage: ivshmem_server.py SOCKET [SIZE]
"""
import os
import socket
import struct
import sys


def main():
    path = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 1 << 20
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    conn, _ = srv.accept()
    shm = os.memfd_create("vfmig-ivshmem-doorbell")
    os.ftruncate(shm, size)
    # One message per sendmsg: an fd travels with the message it belongs to.
    conn.sendall(struct.pack("<q", 0))      # protocol version
    conn.sendall(struct.pack("<q", 0))      # the client's peer id
    socket.send_fds(conn, [struct.pack("<q", -1)], [shm])  # shared memory
    print("served one client", flush=True)
    while conn.recv(4096):
        pass


if __name__ == "__main__":
    main()
