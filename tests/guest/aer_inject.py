#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Inject one PCIe AER error through the kernel's aer_inject (/dev/aer_inject).

Usage: aer_inject.py BDF [UNCOR_STATUS]

BDF is the function that reports the error: it must have an AER capability
and a root port with the AER service (the test VM's PCIe root ports do;
ivshmem-plain itself has no AER capability, so the suites inject at its
root port, whose fatal error makes the recovery reset the link below it).
UNCOR_STATUS defaults to Malformed TLP (bit 18), fatal by default severity.
The layout is struct aer_error_inj of drivers/pci/pcie/aer_inject.c.
"""
import os
import struct
import sys


def main():
    bdf = sys.argv[1]
    uncor = int(sys.argv[2], 0) if len(sys.argv) > 2 else 1 << 18
    domain, bus, devfn = bdf.split(":")
    dev, fn = devfn.split(".")
    einj = struct.pack("<BBBxIIIIIII", int(bus, 16), int(dev, 16), int(fn, 16),
                       uncor, 0, 0, 0, 0, 0, int(domain, 16))
    fd = os.open("/dev/aer_inject", os.O_WRONLY)
    try:
        os.write(fd, einj)
    finally:
        os.close(fd)


if __name__ == "__main__":
    main()
