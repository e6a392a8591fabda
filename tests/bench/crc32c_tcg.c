// SPDX-License-Identifier: GPL-2.0-only
/*
 * crc32c_tcg: how fast CRC32C runs natively and under QEMU's TCG, done the
 * two ways the kernel does it: the SSE4.2 crc32 instruction (crc32c-intel)
 * and a slice-by-8 table (the generic crc32c), beside a memcpy of the same
 * buffer. Prints MB/s; a figure, never a verdict (Documentation/
 * benchmarks.rst, "A steady writer"). Under TCG the instruction is
 * emulated one bit at a time, which is what bounds the data fd in the
 * test VM:
 *
 *	gcc -O2 -o crc32c_tcg tests/bench/crc32c_tcg.c tools/lib/crc32c.c
 *	./crc32c_tcg && qemu-x86_64 -cpu max ./crc32c_tcg
 *
 * The rig builds it into the test VM too (/opt/vfmig/bin/crc32c_tcg). It
 * needs a CPU with SSE4.2 (every x86-64 host of the last decade; not a
 * test VM booted with VFMIG_VM_CPU=max,-sse4.2).
 */
#include <nmmintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../tools/lib/crc32c.h"

#define SIZE	(16u << 20)
#define RUNS	4
#define POLY	0x82f63b78u	/* CRC32C (Castagnoli), reflected */

/*
 * Eight tables, not tools/lib/crc32c.c's four: this models the kernel's
 * generic crc32c (lib/crc32.c, slice-by-8), which a test VM without SSE4.2
 * runs. tools/lib/crc32c.c is the reference both results are checked
 * against.
 */
static uint32_t table[8][256];

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* Built with the rig's flags (no -msse4.2): SSE4.2 for this one only. */
__attribute__((target("sse4.2")))
static uint32_t crc_insn(uint32_t crc, const uint8_t *p, size_t n)
{
	uint64_t c = crc, v;
	size_t i;

	for (i = 0; i < n; i += 8) {
		memcpy(&v, p + i, 8);
		c = _mm_crc32_u64(c, v);
	}
	return c;
}

static void table_init(void)
{
	int i, k, s;

	for (i = 0; i < 256; i++) {
		uint32_t c = i;

		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
		table[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (s = 1; s < 8; s++)
			table[s][i] = (table[s - 1][i] >> 8) ^
				      table[0][table[s - 1][i] & 0xff];
}

static uint32_t crc_table(uint32_t crc, const uint8_t *p, size_t n)
{
	uint64_t v;
	size_t i;

	for (i = 0; i < n; i += 8) {
		memcpy(&v, p + i, 8);
		v ^= crc;
		crc = table[7][v & 0xff] ^ table[6][(v >> 8) & 0xff] ^
		      table[5][(v >> 16) & 0xff] ^ table[4][(v >> 24) & 0xff] ^
		      table[3][(v >> 32) & 0xff] ^ table[2][(v >> 40) & 0xff] ^
		      table[1][(v >> 48) & 0xff] ^ table[0][v >> 56];
	}
	return crc;
}

int main(void)
{
	uint8_t *a = malloc(SIZE), *b = malloc(SIZE);
	uint32_t c1 = 0, c2 = 0;
	double t;
	size_t i;
	int r;

	if (!a || !b)
		return 1;
	for (i = 0; i < SIZE; i++)
		a[i] = i * 7;
	memset(b, 0, SIZE);	/* fault it in before timing */
	table_init();
	c1 = crc32c_update(~0u, a, SIZE);
	if (crc_insn(~0u, a, SIZE) != c1 || crc_table(~0u, a, SIZE) != c1) {
		fprintf(stderr, "crc32c_tcg: a CRC disagrees with tools/lib/crc32c.c\n");
		return 1;
	}
	c1 = 0;
	t = now();
	for (r = 0; r < RUNS; r++)
		memcpy(b, a, SIZE);
	printf("memcpy             %7.0f MB/s\n", RUNS * SIZE / 1e6 / (now() - t));
	t = now();
	for (r = 0; r < RUNS; r++)
		c1 += crc_insn(r, a, SIZE);
	printf("crc32c insn        %7.0f MB/s\n", RUNS * SIZE / 1e6 / (now() - t));
	t = now();
	for (r = 0; r < RUNS; r++)
		c2 += crc_table(r, a, SIZE);
	printf("crc32c slice-by-8  %7.0f MB/s\n", RUNS * SIZE / 1e6 / (now() - t));
	return c1 != c2 || b[1] != a[1];
}
