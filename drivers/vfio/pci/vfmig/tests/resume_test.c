// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit: what a save carries and what a load must have before it is
 * accepted (drivers/vfio/pci/vfmig/migf.c, ivshmem.c).
 *
 * - A stream well formed record by record (CRCs, sequence numbers, END
 *   counts all right) that leaves part of the memory BAR or the register
 *   record out is refused by the write() that completes its END record,
 *   the first place the whole can be seen (QEMU fails the load there; a
 *   refusal only at RESUMING -> STOP it cannot report), and again at
 *   RESUMING -> STOP.
 * - MIG_DATA_SIZE is exactly what a STOP_COPY save then yields.
 * - ivshmem's INTRSTATUS clears when read: a save must carry it, put it
 *   back on the source, and a load must restore it, through the real
 *   ivshmem backend running on the fake's register BAR.
 */
#include <kunit/test.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vfio.h>

#include "fake.h"
#include "migf.h"

#define S(x)		VFIO_DEVICE_STATE_##x
#define ALL_FLAGS	(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P | \
			 VFIO_MIGRATION_PRE_COPY)
#define CHUNK		(256 * 1024)
#define HDR		sizeof(struct vfmig_stream_header)

static u32 reg(struct vfmig_fake *fake, unsigned int off)
{
	u32 v;

	memcpy(&v, fake->bar0 + off, sizeof(v));
	return v;
}

/* Write @stream whole to a fresh RESUMING file; returns the file. */
static struct file *resume_with(struct kunit *test, struct vfmig_fake *fake,
				const u8 *stream, size_t len)
{
	struct file *f;

	KUNIT_ASSERT_NULL(test, fake_set_state(fake, S(STOP)));
	f = fake_set_state(fake, S(RESUMING));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	/* Every byte is accepted: nothing is wrong with any one record. */
	KUNIT_ASSERT_EQ(test, fake_write(test, f, stream, len), (ssize_t)len);
	return f;
}

static void expect_refused_at_end(struct kunit *test, enum fake_omit omit,
				  const char *why)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	struct file *f;
	size_t len;
	u8 *stream;

	stream = vfmig_fake_stream_omit(fake, 0x6b, omit, &len);
	KUNIT_ASSERT_NULL(test, fake_set_state(fake, S(STOP)));
	f = fake_set_state(fake, S(RESUMING));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	/* Nothing is wrong with any one record: all but END's last byte go in. */
	KUNIT_EXPECT_EQ(test, fake_write(test, f, stream, len - 1),
			(ssize_t)(len - 1));
	KUNIT_EXPECT_EQ(test, fake->vdev->stats.last_errno, 0);
	/* The byte that completes END: now the whole is known, and wanting. */
	KUNIT_EXPECT_EQ(test, fake_write(test, f, stream + len - 1, 1),
			(ssize_t)-EINVAL);
	KUNIT_EXPECT_EQ(test, fake->vdev->stats.last_errno, -EINVAL);
	KUNIT_EXPECT_NOT_NULL_MSG(test,
				  strstr(fake->vdev->stats.last_error, why),
				  "last error: %s", fake->vdev->stats.last_error);
	/* And the arc, whatever the VMM did with the failed write(). */
	KUNIT_EXPECT_EQ(test, PTR_ERR(fake_set_state(fake, S(STOP))), -EINVAL);
	/* Documentation/migration.rst, ERROR policy 4: part of a stream. */
	KUNIT_EXPECT_EQ(test, fake_get_state(fake), S(ERROR));
	KUNIT_EXPECT_TRUE(test, fake_file_dead(f));
	KUNIT_EXPECT_EQ(test, fake->vdev->stats.last_errno, -EINVAL);
	KUNIT_EXPECT_NOT_NULL_MSG(test,
				  strstr(fake->vdev->stats.last_error, why),
				  "last error: %s", fake->vdev->stats.last_error);
	KUNIT_EXPECT_EQ(test, fake->seen[FAKE_LOAD_REGS], 0);
	fput(f);
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
}

static void resume_refuses_missing_memory(struct kunit *test)
{
	expect_refused_at_end(test, FAKE_OMIT_LAST_MEM,
			      "does not cover the whole memory BAR");
}

static void resume_refuses_missing_registers(struct kunit *test)
{
	expect_refused_at_end(test, FAKE_OMIT_REGS,
			      "carries no register record");
}

/* The same stream builder, nothing left out: the control. */
static void resume_loads_complete_stream(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	struct file *f;
	size_t len;
	u8 *stream;

	stream = vfmig_fake_stream_omit(fake, 0x6b, FAKE_OMIT_NONE, &len);
	f = resume_with(test, fake, stream, len);
	KUNIT_EXPECT_NULL(test, fake_set_state(fake, S(STOP)));
	KUNIT_EXPECT_EQ(test, fake_get_state(fake), S(STOP));
	KUNIT_EXPECT_EQ(test, fake->seen[FAKE_LOAD_REGS], 1);
	KUNIT_EXPECT_EQ(test, fake->bar2[0], 0x6b);
	KUNIT_EXPECT_EQ(test, fake->bar2[FAKE_MEM_SIZE - 1], 0x6b);
	KUNIT_EXPECT_EQ(test, fake->bar0[FAKE_REGS_SIZE - 1], 0x6b);
	fput(f);
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
}

/*
 * write(2) returns what it took: a fault in the user buffer after the
 * header went into the parser reports the header's bytes, and the rest,
 * written from there, loads. An -EFAULT here would have the caller resend
 * bytes the parser already has, and the stream would fail on a record
 * number or CRC.
 */
static void resume_write_fault_reports_bytes_taken(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	unsigned long addr;
	char __user *ubuf;
	struct file *f;
	size_t len;
	ssize_t n;
	u8 *stream;

	stream = vfmig_fake_stream(fake, 0x5a, &len);
	/* The header ends the first page; the second is not mapped. */
	addr = kunit_vm_mmap(test, NULL, 0, 2 * PAGE_SIZE,
			     PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE,
			     0);
	KUNIT_ASSERT_NE_MSG(test, addr, 0, "no user memory");
	KUNIT_ASSERT_EQ(test, vm_munmap(addr + PAGE_SIZE, PAGE_SIZE), 0);
	ubuf = (char __user *)(addr + PAGE_SIZE - HDR);
	KUNIT_ASSERT_EQ(test, copy_to_user(ubuf, stream, HDR), 0);

	KUNIT_ASSERT_NULL(test, fake_set_state(fake, S(STOP)));
	f = fake_set_state(fake, S(RESUMING));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	n = f->f_op->write(f, ubuf, len, NULL);
	KUNIT_EXPECT_EQ(test, n, (ssize_t)HDR);
	if (n == HDR) {
		KUNIT_EXPECT_EQ(test,
				fake_write(test, f, stream + n, len - n),
				(ssize_t)(len - n));
		KUNIT_EXPECT_NULL(test, fake_set_state(fake, S(STOP)));
		KUNIT_EXPECT_EQ(test, fake->bar2[FAKE_MEM_SIZE - 1], 0x5a);
	}
	fput(f);
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
}

/*
 * A function with a 256 GiB memory BAR: RESUMING's coverage map, one bit
 * per 4 KiB, is 8 MiB, more than kmalloc gives; the resuming file must
 * open all the same (kernel review #15). Only that map is sized by the
 * BAR here, so the fake's 2 MiB of memory can stand in for it.
 */
static void resume_opens_for_a_huge_bar(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	struct file *f;

	fake->vdev->bar_size[2] = 256ULL << 30;
	KUNIT_ASSERT_NULL(test, fake_set_state(fake, S(STOP)));
	f = fake_set_state(fake, S(RESUMING));
	KUNIT_EXPECT_FALSE_MSG(test, IS_ERR_OR_NULL(f), "RESUMING: %ld",
			       PTR_ERR(f));
	if (!IS_ERR_OR_NULL(f))
		fput(f);
	fake->vdev->bar_size[2] = FAKE_MEM_SIZE;
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
}

/* Read a saving file to its end; returns the bytes, sets @len. */
static u8 *save_all(struct kunit *test, struct file *f, size_t max,
		    size_t *len)
{
	u8 *buf = kunit_kzalloc(test, max, GFP_KERNEL);
	ssize_t n;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	*len = 0;
	do {
		n = fake_read(test, f, buf + *len, min_t(size_t, CHUNK, max - *len));
		KUNIT_ASSERT_GE_MSG(test, n, 0, "read at %zu", *len);
		*len += n;
	} while (n > 0 && *len < max);
	KUNIT_ASSERT_LT_MSG(test, *len, max, "the save never ended");
	return buf;
}

/* QEMU sizes its switchover on MIG_DATA_SIZE: it must be the real size. */
static void save_size_is_mig_data_size(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	unsigned long promised;
	struct file *f;
	size_t len;

	KUNIT_ASSERT_NULL(test, fake_set_state(fake, S(STOP)));
	f = fake_set_state(fake, S(STOP_COPY));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	promised = fake_data_size(test, fake);
	save_all(test, f, 2 * FAKE_MEM_SIZE, &len);
	KUNIT_EXPECT_EQ(test, (unsigned long)len, promised);
	/* More than one memory record: the BAR is larger than a payload. */
	static_assert(FAKE_MEM_SIZE > VFMIG_MAX_PAYLOAD);
	KUNIT_EXPECT_GT(test, len, (size_t)FAKE_MEM_SIZE);
	fput(f);
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
}

#define IVSHMEM_INTRMASK	0x00
#define IVSHMEM_INTRSTATUS	0x04

/*
 * The real ivshmem backend on the fake's register BAR, whose INTRSTATUS
 * clears when read as ivshmem's does: the save must carry the status and
 * leave it set on the source (which may resume), the load must restore it.
 */
static void ivshmem_intrstatus_round_trip(struct kunit *test)
{
	struct vfmig_fake *src = vfmig_fake_create(test, ALL_FLAGS);
	struct vfmig_fake *dst = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	const u32 mask = 0xfffffffe, status = 0x5;
	struct file *f;
	size_t len;
	u8 *stream;

	src->vdev->backend = &vfmig_ivshmem_backend;
	dst->vdev->backend = &vfmig_ivshmem_backend;
	memcpy(src->bar0 + IVSHMEM_INTRMASK, &mask, 4);
	memcpy(src->bar0 + IVSHMEM_INTRSTATUS, &status, 4);

	KUNIT_ASSERT_NULL(test, fake_set_state(src, S(STOP)));
	f = fake_set_state(src, S(STOP_COPY));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	stream = save_all(test, f, 2 * FAKE_MEM_SIZE, &len);
	fput(f);
	/* The read that cleared it was undone. */
	KUNIT_EXPECT_EQ(test, reg(src, IVSHMEM_INTRSTATUS),
			status);

	memset(dst->bar0, 0, sizeof(dst->bar0));
	f = resume_with(test, dst, stream, len);
	KUNIT_EXPECT_NULL(test, fake_set_state(dst, S(STOP)));
	KUNIT_EXPECT_EQ(test, reg(dst, IVSHMEM_INTRMASK),
			mask);
	KUNIT_EXPECT_EQ(test, reg(dst, IVSHMEM_INTRSTATUS),
			status);
	fput(f);
	vfmig_fake_close(src);
	vfmig_fake_close(dst);
	vfmig_fake_expect_no_files(test, baseline);
}

static struct kunit_case resume_cases[] = {
	KUNIT_CASE(resume_refuses_missing_memory),
	KUNIT_CASE(resume_refuses_missing_registers),
	KUNIT_CASE(resume_loads_complete_stream),
	KUNIT_CASE(resume_write_fault_reports_bytes_taken),
	KUNIT_CASE(resume_opens_for_a_huge_bar),
	KUNIT_CASE(save_size_is_mig_data_size),
	KUNIT_CASE(ivshmem_intrstatus_round_trip),
	{}
};

static struct kunit_suite resume_suite = {
	.name = "vfmig_resume",
	.test_cases = resume_cases,
};

kunit_test_suite(resume_suite);
