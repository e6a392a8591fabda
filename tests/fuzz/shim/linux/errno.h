/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Userspace stand-in for <linux/errno.h>. This shadows the uapi header of
 * the same name, which libc's <errno.h> includes, so it does what the uapi
 * one does: the kernel's values, from <asm/errno.h>.
 */
#ifndef _VFMIG_SHIM_LINUX_ERRNO_H
#define _VFMIG_SHIM_LINUX_ERRNO_H

#include <asm/errno.h>

#endif
