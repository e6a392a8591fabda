/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Userspace stand-in for <asm/byteorder.h>: cpu_to_le*() and le*_to_cpu().
 * The shim's __le types are plain integers, so these are identities, which
 * is only right on a little-endian host: refuse to build anywhere else
 * rather than fuzz a codec that byte-swaps nothing.
 */
#ifndef _VFMIG_SHIM_ASM_BYTEORDER_H
#define _VFMIG_SHIM_ASM_BYTEORDER_H

#include <linux/types.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the fuzzer's kernel shim assumes a little-endian host"
#endif

#define cpu_to_le16(x)	((__le16)(u16)(x))
#define cpu_to_le32(x)	((__le32)(u32)(x))
#define cpu_to_le64(x)	((__le64)(u64)(x))
#define le16_to_cpu(x)	((u16)(__le16)(x))
#define le32_to_cpu(x)	((u32)(__le32)(x))
#define le64_to_cpu(x)	((u64)(__le64)(x))

#endif
