/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Userspace stand-in for <linux/crc32c.h>: the kernel's crc32c() is the raw
 * reflected CRC32C without pre- or post-inversion, which is what
 * tools/lib/crc32c.c's crc32c_update() computes (found through -I tools/lib;
 * the fuzzer checks the "123456789" value at start-up).
 */
#ifndef _VFMIG_SHIM_LINUX_CRC32C_H
#define _VFMIG_SHIM_LINUX_CRC32C_H

#include <crc32c.h>
#include <linux/types.h>

static inline u32 crc32c(u32 crc, const void *address, size_t length)
{
	return crc32c_update(crc, address, length);
}

#endif
