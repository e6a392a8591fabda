/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Userspace stand-in for <linux/types.h>, for building the driver's stream
 * codec into the fuzzer (tests/fuzz/). Only what stream_codec.c and
 * include/vfmig/stream.h use. The __le types are plain integers: the host
 * is checked to be little-endian in <asm/byteorder.h>.
 */
#ifndef _VFMIG_SHIM_LINUX_TYPES_H
#define _VFMIG_SHIM_LINUX_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>		/* ssize_t */

/* As in the kernel, u64 is unsigned long long everywhere: "%llu" fits. */
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef unsigned long long u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef long long s64;

typedef uint16_t __le16;
typedef uint32_t __le32;
typedef unsigned long long __le64;

#define U32_MAX	UINT32_MAX
#define U64_MAX	(~0ULL)

#endif
