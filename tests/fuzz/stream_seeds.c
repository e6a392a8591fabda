// SPDX-License-Identifier: GPL-2.0-only
/*
 * Seed corpus of the stream fuzzer: writes, into the directory given, the
 * streams the codec's own writer makes for each of the fuzzer's functions
 * (stream_fuzz.h), as fuzz inputs (control block, then stream):
 *
 *	valid-*	streams the parser must accept: the full STOP_COPY stream,
 *		one that went through PRE_COPY (memory twice, the first time
 *		a record per 4 KiB unit), one with records of types it does
 *		not know, and the shortest, header and END;
 *	bad-*	streams it must refuse, one rule broken in each.
 *
 * tests/fuzz/run.sh checks that the fuzz target agrees with both lists
 * before fuzzing: a target whose checks cannot fail would pass the
 * fuzzing step whatever the parser did. Generated, not stored, so that the
 * seeds follow the format when it changes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kernel.h>

#include "stream_fuzz.h"

#define MAX_STREAM	(3 * 65536 + 4096)

/* A fuzz input under construction. */
struct input {
	u8 data[VFMIG_FUZZ_CTL + MAX_STREAM];
	size_t len;		/* of the stream, after the control block */
	u32 seq;
	u64 payload_bytes;
};

static const char *outdir;
static int written;

/* The shim's WARN_ON(): the writer has none, but the codec is linked whole. */
void vfmig_fuzz_warn(const char *file, int line, const char *cond)
{
	fprintf(stderr, "stream_seeds: WARN_ON(%s) at %s:%d\n", cond, file, line);
	abort();
}

static void start(struct input *in, int g, u8 fix, u8 seed, u8 fail_at)
{
	memset(in, 0, sizeof(*in));
	in->data[0] = g;
	in->data[1] = fix;
	in->data[2] = seed;
	in->data[3] = fail_at;
}

static void put(struct input *in, const void *p, size_t len)
{
	if (in->len + len > MAX_STREAM) {
		fprintf(stderr, "stream_seeds: MAX_STREAM too small\n");
		exit(1);
	}
	memcpy(in->data + VFMIG_FUZZ_CTL + in->len, p, len);
	in->len += len;
}

static void put_header(struct input *in, const struct vfmig_stream_id *id)
{
	struct vfmig_stream_header hdr;

	vfmig_header_build(&hdr, id);
	put(in, &hdr, sizeof(hdr));
}

static void put_record(struct input *in, u16 type, u16 flags, u32 index,
		       u64 offset, const void *payload, u32 len)
{
	struct vfmig_record rec;

	vfmig_record_build(&rec, type, flags, index, offset, in->seq++, payload,
			   len);
	put(in, &rec, sizeof(rec));
	put(in, payload, len);
	in->payload_bytes += len;
}

static void put_end(struct input *in, u64 records, u64 payload_bytes)
{
	struct vfmig_end_payload end = {
		.records = cpu_to_le64(records),
		.payload_bytes = cpu_to_le64(payload_bytes),
	};

	put_record(in, VFMIG_REC_END, VFMIG_REC_F_MANDATORY, 0, 0, &end,
		   sizeof(end));
}

static void put_good_end(struct input *in)
{
	put_end(in, in->seq, in->payload_bytes);
}

static u8 *stream_byte(struct input *in, size_t off)
{
	return in->data + VFMIG_FUZZ_CTL + off;
}

static void save(const struct input *in, const char *kind, int g,
		 const char *what)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s-id%d-%s", outdir, kind, g, what);
	f = fopen(path, "wb");
	if (!f || fwrite(in->data, 1, VFMIG_FUZZ_CTL + in->len, f) !=
		  VFMIG_FUZZ_CTL + in->len || fclose(f)) {
		fprintf(stderr, "stream_seeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	written++;
}

static const u8 regs[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 };
static const char info[] = "vfmig stream v1; backend ivshmem; fuzz seed";

/* One pass over the memory BAR, in records of at most @step bytes. */
static void put_mem(struct input *in, const struct vfmig_stream_id *id,
		    const u8 *mem, u64 step, bool backwards)
{
	u64 size = id->bar_size[id->mem_bar];
	u64 n = (size + step - 1) / step, i, off, len;

	for (i = 0; i < n; i++) {
		off = (backwards ? n - 1 - i : i) * step;
		len = size - off < step ? size - off : step;
		put_record(in, VFMIG_REC_MEM, VFMIG_REC_F_MANDATORY,
			   id->mem_bar, off, mem + off, len);
	}
}

/* What a saving file writes opened in STOP_COPY: header, INFO, MEM, REGS, END. */
static void full_stream(struct input *in, const struct vfmig_stream_id *id,
			const u8 *mem)
{
	put_header(in, id);
	put_record(in, VFMIG_REC_INFO, 0, 0, 0, info, sizeof(info) - 1);
	put_mem(in, id, mem, VFMIG_MAX_PAYLOAD, false);
	put_record(in, VFMIG_REC_REGS, VFMIG_REC_F_MANDATORY, 0, 0, regs,
		   id->regs_size);
	put_good_end(in);
}

static void seeds_for(int g)
{
	const struct vfmig_stream_id *id = &vfmig_fuzz_ids[g];
	u64 size = id->bar_size[id->mem_bar];
	static struct input in;
	static u8 mem[65536];
	size_t i;

	for (i = 0; i < sizeof(mem); i++)
		mem[i] = i * 7 + 3 + g;

	/* ---- accepted ---- */
	start(&in, g, 0, 1 + g, 0);
	full_stream(&in, id, mem);
	if (in.len != vfmig_stream_full_size(id, sizeof(info) - 1)) {
		fprintf(stderr, "stream_seeds: id%d: the full stream has %zu bytes, vfmig_stream_full_size() says %llu\n",
			g, in.len, vfmig_stream_full_size(id, sizeof(info) - 1));
		exit(1);
	}
	save(&in, "valid", g, "full");

	start(&in, g, VFMIG_FUZZ_FIX_ALL, 17 + g, 0);
	put_header(&in, id);
	put_record(&in, VFMIG_REC_INFO, 0, 0, 0, info, sizeof(info) - 1);
	put_mem(&in, id, mem, VFMIG_MEM_ALIGN, false);
	put_mem(&in, id, mem, VFMIG_MAX_PAYLOAD, false);
	put_record(&in, VFMIG_REC_REGS, VFMIG_REC_F_MANDATORY, 0, 0, regs,
		   id->regs_size);
	put_good_end(&in);
	save(&in, "valid", g, "precopy");

	start(&in, g, VFMIG_FUZZ_FIX_ALL, 33 + g, 0);
	put_header(&in, id);
	put_record(&in, 0x4242, 0, 9, 9, mem, 100);
	put_mem(&in, id, mem, VFMIG_MEM_ALIGN, true);
	put_record(&in, VFMIG_REC_REGS, VFMIG_REC_F_MANDATORY, 0, 0, regs,
		   id->regs_size);
	put_record(&in, VFMIG_REC_INFO, 0, 0, 0, "", 0);
	put_record(&in, 0, 0, 0, 0, "", 0);
	put_good_end(&in);
	save(&in, "valid", g, "unknown-types");

	/* Header and END only: the parser's part is done (not migf's). */
	start(&in, g, 0, 49 + g, 0);
	put_header(&in, id);
	put_good_end(&in);
	save(&in, "valid", g, "header-end");

	/* ---- refused ---- */
	start(&in, g, 0, 2 + g, 0);
	full_stream(&in, id, mem);
	in.len--;
	save(&in, "bad", g, "truncated");

	start(&in, g, 0, 3 + g, 0);
	full_stream(&in, id, mem);
	put(&in, "", 1);
	save(&in, "bad", g, "after-end");

	start(&in, g, 0, 4 + g, 0);
	full_stream(&in, id, mem);
	*stream_byte(&in, 30) ^= 0x10;		/* BAR0's size */
	save(&in, "bad", g, "header-crc");

	/* Another function's stream (CRCs right). */
	start(&in, g, 0, 5 + g, 0);
	full_stream(&in, &vfmig_fuzz_ids[(g + 1) % VFMIG_FUZZ_NUM_IDS], mem);
	save(&in, "bad", g, "other-function");

	start(&in, g, 0, 6 + g, 0);
	full_stream(&in, id, mem);
	*stream_byte(&in, in.len - sizeof(struct vfmig_end_payload) -
		     sizeof(struct vfmig_record) - id->regs_size - 1) ^= 1;
	save(&in, "bad", g, "payload-crc");

	/* Repaired CRCs, so that the rule itself is what refuses it. */
	start(&in, g, VFMIG_FUZZ_FIX_ALL, 7 + g, 0);
	put_header(&in, id);
	put_record(&in, VFMIG_REC_MEM, VFMIG_REC_F_MANDATORY, id->mem_bar,
		   (size + VFMIG_MEM_ALIGN - 1) & ~(u64)(VFMIG_MEM_ALIGN - 1),
		   mem, VFMIG_MEM_ALIGN);
	put_good_end(&in);
	save(&in, "bad", g, "mem-past-bar");

	start(&in, g, VFMIG_FUZZ_FIX_ALL, 8 + g, 0);
	put_header(&in, id);
	put_record(&in, VFMIG_REC_MEM, VFMIG_REC_F_MANDATORY, id->mem_bar, 512,
		   mem, 512);
	put_good_end(&in);
	save(&in, "bad", g, "mem-unaligned");

	start(&in, g, VFMIG_FUZZ_FIX_ALL, 9 + g, 0);
	put_header(&in, id);
	put_record(&in, VFMIG_REC_MEM, VFMIG_REC_F_MANDATORY, id->mem_bar,
		   0, mem, 0);
	put_good_end(&in);
	save(&in, "bad", g, "mem-empty");

	start(&in, g, VFMIG_FUZZ_FIX_CRC, 10 + g, 0);
	put_header(&in, id);
	put_record(&in, VFMIG_REC_INFO, 0, 0, 0, info, 4);
	in.seq++;
	put_record(&in, VFMIG_REC_REGS, VFMIG_REC_F_MANDATORY, 0, 0, regs,
		   id->regs_size);
	put_end(&in, 2, 4 + id->regs_size);
	save(&in, "bad", g, "seq-gap");

	start(&in, g, VFMIG_FUZZ_FIX_CRC | VFMIG_FUZZ_FIX_SEQ, 11 + g, 0);
	put_header(&in, id);
	put_record(&in, VFMIG_REC_REGS, VFMIG_REC_F_MANDATORY, 0, 0, regs,
		   id->regs_size);
	put_end(&in, 2, id->regs_size);
	save(&in, "bad", g, "end-counts");

	start(&in, g, VFMIG_FUZZ_FIX_CRC | VFMIG_FUZZ_FIX_SEQ, 15 + g, 0);
	put_header(&in, id);
	put_record(&in, VFMIG_REC_REGS, VFMIG_REC_F_MANDATORY, 0, 0, regs,
		   id->regs_size);
	put_end(&in, 1, id->regs_size + 1);
	save(&in, "bad", g, "end-bytes");

	start(&in, g, VFMIG_FUZZ_FIX_ALL, 12 + g, 0);
	put_header(&in, id);
	put_record(&in, 0x4242, VFMIG_REC_F_MANDATORY, 0, 0, mem, 100);
	put_good_end(&in);
	save(&in, "bad", g, "unknown-mandatory");

	start(&in, g, VFMIG_FUZZ_FIX_ALL, 13 + g, 0);
	put_header(&in, id);
	put_record(&in, VFMIG_REC_REGS, VFMIG_REC_F_MANDATORY, 0, 0, regs,
		   id->regs_size - 1);
	put_good_end(&in);
	save(&in, "bad", g, "regs-short");

	/* A valid stream whose first record cannot be applied (-EIO). */
	start(&in, g, 0, 14 + g, 1);
	full_stream(&in, id, mem);
	save(&in, "bad", g, "apply-fails");
}

int main(int argc, char **argv)
{
	size_t g;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	for (g = 0; g < VFMIG_FUZZ_NUM_IDS; g++)
		seeds_for(g);
	printf("%d seeds written to %s\n", written, outdir);
	return 0;
}
