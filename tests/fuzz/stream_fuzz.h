/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the stream fuzzer (stream_fuzz.c) and its seed generator
 * (stream_seeds.c) share: the layout of a fuzz input and the functions a
 * stream is parsed for.
 *
 * A fuzz input is a control block, then the stream bytes:
 *
 *	byte 0	which function (vfmig_fuzz_ids[], modulo their count)
 *	byte 1	VFMIG_FUZZ_FIX_*: fields the target repairs before parsing
 *	byte 2	seed of the write() sizes of the chunked parse
 *	byte 3	1..VFMIG_FUZZ_FAIL_MAX: the record callback with that number
 *		(counting MEM and REGS records from 1) fails with -EIO;
 *		anything else: no callback fails
 *
 * The repairs let mutations reach past the CRCs, the sequence numbers and
 * the END counts (a random byte flip breaks at least one of them, and the
 * parser would never look further); with them off, those checks are
 * fuzzed themselves.
 */
#ifndef _VFMIG_STREAM_FUZZ_H
#define _VFMIG_STREAM_FUZZ_H

#include "stream_codec.h"

#define VFMIG_FUZZ_CTL		4

#define VFMIG_FUZZ_FIX_CRC	0x1	/* every header, record and payload CRC */
#define VFMIG_FUZZ_FIX_SEQ	0x2	/* record numbers 0, 1, 2, ... */
#define VFMIG_FUZZ_FIX_END	0x4	/* the counts in a 16-byte END payload */
#define VFMIG_FUZZ_FIX_ALL	0x7

#define VFMIG_FUZZ_FAIL_MAX	15

/*
 * Small functions, so that a whole stream fits a fuzz input: ivshmem-plain
 * (BAR0 256 bytes of registers, BAR2 memory, 8 bytes of register state)
 * with a one-unit and a 64 KiB memory BAR, a BAR smaller than one 4 KiB
 * unit, and a BAR that ends half-way through a unit, both of which only a
 * record "reaching the BAR's end" can cover (another backend id and register
 * size, with a BAR1, so that the header's other fields vary too).
 */
static const struct vfmig_stream_id vfmig_fuzz_ids[] = {
	{
		.backend_id = 1,
		.vendor = 0x1af4, .device = 0x1110,
		.subsystem_vendor = 0x1af4, .subsystem_device = 0x1100,
		.bar_size = { 256, 0, 4096, 0, 0, 0 },
		.mem_bar = 2,
		.regs_size = 8,
	},
	{
		.backend_id = 1,
		.vendor = 0x1af4, .device = 0x1110,
		.subsystem_vendor = 0x1af4, .subsystem_device = 0x1100,
		.bar_size = { 256, 0, 65536, 0, 0, 0 },
		.mem_bar = 2,
		.regs_size = 8,
	},
	{
		.backend_id = 1,
		.vendor = 0x1af4, .device = 0x1110,
		.subsystem_vendor = 0x1af4, .subsystem_device = 0x1100,
		.bar_size = { 256, 0, 2048, 0, 0, 0 },
		.mem_bar = 2,
		.regs_size = 8,
	},
	{
		.backend_id = 77,
		.vendor = 0x1234, .device = 0x5678,
		.subsystem_vendor = 0x9abc, .subsystem_device = 0xdef0,
		.bar_size = { 0, 4096, 6144, 0, 0, 1 << 20 },
		.mem_bar = 2,
		.regs_size = 12,
	},
};

#define VFMIG_FUZZ_NUM_IDS \
	(sizeof(vfmig_fuzz_ids) / sizeof(vfmig_fuzz_ids[0]))

#endif /* _VFMIG_STREAM_FUZZ_H */
