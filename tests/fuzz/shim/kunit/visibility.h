/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Userspace stand-in for <kunit/visibility.h>. The fuzzer links the codec
 * directly, so nothing is exported; VISIBLE_IF_KUNIT makes a symbol visible
 * to the test, as it does in a KUnit build. EXPORT_SYMBOL_IF_KUNIT() must
 * still expand to a declaration, because the codec puts a ';' after it at
 * file scope.
 */
#ifndef _VFMIG_SHIM_KUNIT_VISIBILITY_H
#define _VFMIG_SHIM_KUNIT_VISIBILITY_H

#define VISIBLE_IF_KUNIT
#define EXPORT_SYMBOL_IF_KUNIT(sym)	_Static_assert(1, #sym)

#endif
