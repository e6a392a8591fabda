/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Checks inside a kselftest harness test (tools/testing/selftests/
 * kselftest_harness.h). A harness test is one TAP result; the checks it
 * makes are each printed as a diagnostic line ("# ok: name" or
 * "# FAIL: name # why"), and a test with a failed check fails at
 * checks_end(). The harness runs every test in a process of its own, so
 * a crash fails that test alone, and the count starts at 0 in each.
 * Include this after kselftest_harness.h.
 */
#ifndef VFMIG_CHECK_H
#define VFMIG_CHECK_H

#include <stdarg.h>
#include <stdio.h>

static int check_failed;

/**
 * check_result() - report one check
 * @ok: whether it passed
 * @name: what was checked
 * @fmt: printf format saying why it failed (ignored when @ok)
 *
 * Return: @ok, so callers can stop at a failed precondition.
 */
static inline int __attribute__((format(printf, 3, 4)))
check_result(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("# ok: %s\n", name);
	} else {
		check_failed++;
		printf("# FAIL: %s # ", name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
	return ok;
}

/**
 * checks_end() - the end of a harness test: it fails if a check did
 * @_metadata: the harness's test (named so for its EXPECT macros)
 */
static inline void checks_end(struct __test_metadata *_metadata)
{
	EXPECT_EQ(0, check_failed)
		TH_LOG("%d check(s) failed", check_failed);
}

/* The function under test, from the environment (the harness owns argv). */
static inline const char *bdf_from_env(const char *var)
{
	const char *bdf = getenv(var);

	return bdf && *bdf ? bdf : NULL;
}

#endif /* VFMIG_CHECK_H */
