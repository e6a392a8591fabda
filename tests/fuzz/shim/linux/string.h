/* SPDX-License-Identifier: GPL-2.0-only */
/* Userspace stand-in for <linux/string.h>: memcpy(), memset() and the like. */
#ifndef _VFMIG_SHIM_LINUX_STRING_H
#define _VFMIG_SHIM_LINUX_STRING_H

#include <string.h>

#endif
