/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Userspace stand-in for <linux/kernel.h>: the helpers the stream codec
 * uses, with the kernel's meaning. A WARN in the kernel fails the test rig
 * (tests/harness/tapcheck.py treats it as a splat), so here it is a crash
 * the fuzzer reports: vfmig_fuzz_warn() is the fuzz target's.
 */
#ifndef _VFMIG_SHIM_LINUX_KERNEL_H
#define _VFMIG_SHIM_LINUX_KERNEL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>		/* vsnprintf() */
#include <asm/byteorder.h>
#include <linux/types.h>

#define __printf(a, b)	__attribute__((format(printf, a, b)))

#define ARRAY_SIZE(arr)		(sizeof(arr) / sizeof((arr)[0]))
#define DIV_ROUND_UP(n, d)	(((n) + (d) - 1) / (d))
#define IS_ALIGNED(x, a)	(((x) & ((__typeof__(x))(a) - 1)) == 0)

/* Like the kernel's: each argument evaluated once. */
#define min(x, y) ({						\
	__typeof__(x) __x = (x);				\
	__typeof__(y) __y = (y);				\
	__x < __y ? __x : __y;					\
})
#define max(x, y) ({						\
	__typeof__(x) __x = (x);				\
	__typeof__(y) __y = (y);				\
	__x > __y ? __x : __y;					\
})

void vfmig_fuzz_warn(const char *file, int line, const char *cond)
	__attribute__((noreturn));

#define WARN_ON(cond) ({					\
	int __c = !!(cond);					\
	if (__c)						\
		vfmig_fuzz_warn(__FILE__, __LINE__, #cond);	\
	__c;							\
})
#define WARN_ON_ONCE(cond)	WARN_ON(cond)

#endif
