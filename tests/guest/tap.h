/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A minimal TAP producer for the guest tests: every check prints one
 * "ok N - name" or "not ok N - name # why" line, which the rig counts.
 */
#ifndef VFMIG_TAP_H
#define VFMIG_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_count;
static int tap_failed;

/**
 * tap_result() - report one check
 * @ok: whether it passed
 * @name: what was checked
 * @fmt: printf format saying why it failed (ignored when @ok)
 *
 * Return: @ok, so callers can stop at a failed precondition.
 */
static inline int __attribute__((format(printf, 3, 4)))
tap_result(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	if (ok) {
		printf("ok %d - %s\n", tap_count, name);
	} else {
		tap_failed++;
		printf("not ok %d - %s # ", tap_count, name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
	return ok;
}

#endif /* VFMIG_TAP_H */
