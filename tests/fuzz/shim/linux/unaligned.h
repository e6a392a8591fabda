/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Userspace stand-in for <linux/unaligned.h>. memcpy() through a local is
 * how an unaligned access is written without undefined behaviour, so UBSan
 * still reports any unaligned access the codec makes outside these helpers.
 */
#ifndef _VFMIG_SHIM_LINUX_UNALIGNED_H
#define _VFMIG_SHIM_LINUX_UNALIGNED_H

#include <string.h>
#include <asm/byteorder.h>
#include <linux/types.h>

/* The cast drops a const the pointed-to type may have. */
#define get_unaligned(ptr) ({					\
	__typeof__((__typeof__(*(ptr)))0) __v;			\
	memcpy(&__v, (ptr), sizeof(__v));			\
	__v;							\
})

#define put_unaligned(val, ptr) do {				\
	__typeof__(*(ptr)) __v = (val);				\
	memcpy((ptr), &__v, sizeof(__v));			\
} while (0)

static inline u16 get_unaligned_le16(const void *p)
{
	return le16_to_cpu(get_unaligned((const __le16 *)p));
}

static inline u32 get_unaligned_le32(const void *p)
{
	return le32_to_cpu(get_unaligned((const __le32 *)p));
}

static inline u64 get_unaligned_le64(const void *p)
{
	return le64_to_cpu(get_unaligned((const __le64 *)p));
}

static inline void put_unaligned_le16(u16 val, void *p)
{
	put_unaligned(cpu_to_le16(val), (__le16 *)p);
}

static inline void put_unaligned_le32(u32 val, void *p)
{
	put_unaligned(cpu_to_le32(val), (__le32 *)p);
}

static inline void put_unaligned_le64(u64 val, void *p)
{
	put_unaligned(cpu_to_le64(val), (__le64 *)p);
}

#endif
