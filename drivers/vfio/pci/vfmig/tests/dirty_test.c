// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests of dirty tracking (dirty.c) as the saving file uses it: after
 * the whole-BAR pass, PRE_COPY rounds and STOP_COPY send only the pages
 * marked since, PRECOPY_INFO's dirty_bytes and MIG_DATA_SIZE are the bytes
 * then read, the status file's STOP_COPY share is what was read after the
 * function stopped, and every way out of PRE_COPY leaves no tracking
 * behind.
 *
 * The fake's memory BAR is written directly and marked as the mapping's
 * fault handler or the region write path would mark it.
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
#define REC		sizeof(struct vfmig_record)
#define TAIL(fake)	(2 * REC + (fake)->vdev->backend->regs_size + \
			 sizeof(struct vfmig_end_payload))
#define STREAM_MAX	(FAKE_MEM_SIZE + SZ_1M)

/* A saved stream, grown by read_until(). */
struct saved {
	u8 *buf;
	size_t len;
};

/*
 * Read until the file reports @stop (-ENOMSG: PRE_COPY's temporary end,
 * 0: EOF). Returns the bytes read by this call.
 */
static size_t read_until(struct kunit *test, struct file *f,
			 struct saved *s, ssize_t stop)
{
	size_t before = s->len;
	ssize_t n;

	for (;;) {
		n = fake_read(test, f, s->buf + s->len,
			      min_t(size_t, 256 * 1024, STREAM_MAX - s->len));
		if (n <= 0)
			break;
		s->len += n;
		KUNIT_ASSERT_LT(test, s->len, (size_t)STREAM_MAX);
	}
	KUNIT_EXPECT_EQ(test, n, stop);
	return s->len - before;
}

static void precopy_info(struct kunit *test, struct file *f, u64 *initial,
			 u64 *dirty)
{
	struct vfio_precopy_info info = { .argsz = sizeof(info) };
	struct vfio_precopy_info *out;
	void __user *uarg;

	/* fake_ioctl() copies the argument to user memory: read it back. */
	uarg = (void __user *)kunit_vm_mmap(test, NULL, 0, sizeof(info),
					    PROT_READ | PROT_WRITE,
					    MAP_ANONYMOUS | MAP_PRIVATE, 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(uarg));
	KUNIT_ASSERT_EQ(test, copy_to_user(uarg, &info, sizeof(info)), 0);
	KUNIT_ASSERT_EQ(test, f->f_op->unlocked_ioctl(f, VFIO_MIG_GET_PRECOPY_INFO,
						      (unsigned long)uarg), 0);
	out = kunit_kzalloc(test, sizeof(*out), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, out);
	KUNIT_ASSERT_EQ(test, copy_from_user(out, uarg, sizeof(*out)), 0);
	*initial = out->initial_bytes;
	*dirty = out->dirty_bytes;
}

/* The guest writes page @page (a new byte pattern), and it is marked. */
static void write_page(struct vfmig_fake *fake, unsigned int page, u8 fill,
		       bool mark)
{
	memset(fake->bar2 + page * PAGE_SIZE, fill, PAGE_SIZE);
	if (mark)
		vfmig_dirty_mark(fake->vdev, (u64)page * PAGE_SIZE, PAGE_SIZE);
}

/*
 * The whole BAR once, then two rounds and STOP_COPY with a few pages
 * written before each: every byte of the destination equals the source,
 * each round carries exactly its pages, and the figures the driver gave
 * beforehand are the bytes then read.
 */
static void dirty_rounds_send_written_pages(struct kunit *test)
{
	struct vfmig_fake *src = vfmig_fake_create(test, ALL_FLAGS);
	struct vfmig_fake *dst = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	struct saved s = { .buf = kunit_kzalloc(test, STREAM_MAX, GFP_KERNEL) };
	unsigned int i, unmarked = 200;
	u64 initial, dirty, left;
	u8 *old_page;
	struct file *f, *r;

	KUNIT_ASSERT_NOT_NULL(test, s.buf);
	for (i = 0; i < FAKE_MEM_SIZE; i++)
		src->bar2[i] = i * 7 + 1;
	f = fake_set_state(src, S(PRE_COPY));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	KUNIT_EXPECT_TRUE(test, vfmig_dirty_tracking(src->vdev));

	/* During the pass: a page behind it (sent again), one ahead (once). */
	read_until(test, f, &s, -ENOMSG);
	KUNIT_ASSERT_GT(test, s.len, (size_t)FAKE_MEM_SIZE);
	precopy_info(test, f, &initial, &dirty);
	KUNIT_EXPECT_EQ(test, initial, 0ULL);
	KUNIT_EXPECT_EQ(test, dirty, 0ULL);

	/* Round 1: pages 3, 7-9 (one record) and the last one. */
	write_page(src, 3, 0xa1, true);
	for (i = 7; i <= 9; i++)
		write_page(src, i, 0xa2, true);
	write_page(src, FAKE_MEM_SIZE / PAGE_SIZE - 1, 0xa3, true);
	old_page = kunit_kzalloc(test, PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, old_page);
	memcpy(old_page, src->bar2 + unmarked * PAGE_SIZE, PAGE_SIZE);
	/* Written and never marked: the driver cannot know, and must not send. */
	write_page(src, unmarked, 0xee, false);
	precopy_info(test, f, &initial, &dirty);
	KUNIT_EXPECT_EQ(test, initial, 0ULL);
	KUNIT_EXPECT_EQ(test, dirty, 5 * PAGE_SIZE + 3 * REC);
	KUNIT_EXPECT_EQ(test, read_until(test, f, &s, -ENOMSG), dirty);
	precopy_info(test, f, &initial, &dirty);
	KUNIT_EXPECT_EQ(test, dirty, 0ULL);

	/* Round 2, written after round 1 was read: page 3 again and page 0. */
	write_page(src, 3, 0xb1, true);
	write_page(src, 0, 0xb2, true);
	precopy_info(test, f, &initial, &dirty);
	KUNIT_EXPECT_EQ(test, dirty, 2 * PAGE_SIZE + 2 * REC);
	KUNIT_EXPECT_EQ(test, read_until(test, f, &s, -ENOMSG), dirty);

	/* The last writes before the VM stops: STOP_COPY carries just them. */
	write_page(src, 50, 0xc1, true);
	write_page(src, 51, 0xc2, true);
	left = fake_data_size(test, src);
	KUNIT_EXPECT_EQ(test, left, 2 * PAGE_SIZE + REC + TAIL(src));
	KUNIT_ASSERT_NULL(test, fake_set_state(src, S(PRE_COPY_P2P)));
	KUNIT_ASSERT_NULL(test, fake_set_state(src, S(STOP_COPY)));
	KUNIT_EXPECT_FALSE(test, vfmig_dirty_tracking(src->vdev));
	KUNIT_EXPECT_EQ(test, fake_data_size(test, src), left);
	KUNIT_EXPECT_EQ(test, read_until(test, f, &s, 0), left);
	/* The status file's STOP_COPY share is that, not the whole stream. */
	KUNIT_EXPECT_EQ(test, src->vdev->stats.stop_copy_bytes, left);
	KUNIT_ASSERT_NULL(test, fake_set_state(src, S(STOP)));
	fput(f);

	KUNIT_ASSERT_NULL(test, fake_set_state(dst, S(STOP)));
	r = fake_set_state(dst, S(RESUMING));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(r));
	KUNIT_ASSERT_EQ(test, fake_write(test, r, s.buf, s.len), (ssize_t)s.len);
	KUNIT_ASSERT_NULL(test, fake_set_state(dst, S(STOP)));
	fput(r);
	/* Every page but the unmarked one is the source's last content. */
	KUNIT_EXPECT_EQ(test, memcmp(dst->bar2, src->bar2, unmarked * PAGE_SIZE), 0);
	KUNIT_EXPECT_EQ(test, memcmp(dst->bar2 + unmarked * PAGE_SIZE, old_page,
				     PAGE_SIZE), 0);
	KUNIT_EXPECT_EQ(test, memcmp(dst->bar2 + (unmarked + 1) * PAGE_SIZE,
				     src->bar2 + (unmarked + 1) * PAGE_SIZE,
				     FAKE_MEM_SIZE - (unmarked + 1) * PAGE_SIZE), 0);
	vfmig_fake_close(src);
	vfmig_fake_close(dst);
	vfmig_fake_expect_no_files(test, baseline);
}

/*
 * A page marked while the whole-BAR pass has not reached it yet is read
 * by the pass and not sent again; one the pass already read is.
 */
static void dirty_during_pass(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	struct saved s = { .buf = kunit_kzalloc(test, STREAM_MAX, GFP_KERNEL) };
	unsigned int last = FAKE_MEM_SIZE / PAGE_SIZE - 1;
	u64 initial, dirty;
	struct file *f;
	ssize_t n;

	KUNIT_ASSERT_NOT_NULL(test, s.buf);
	f = fake_set_state(fake, S(PRE_COPY));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	/* The header, INFO and the first memory record (1 MiB). */
	n = fake_read(test, f, s.buf, VFMIG_MAX_PAYLOAD);
	KUNIT_ASSERT_EQ(test, n, (ssize_t)VFMIG_MAX_PAYLOAD);
	write_page(fake, 1, 0x11, true);
	write_page(fake, last, 0x22, true);
	precopy_info(test, f, &initial, &dirty);
	KUNIT_EXPECT_GT(test, initial, (u64)(FAKE_MEM_SIZE - VFMIG_MAX_PAYLOAD));
	KUNIT_EXPECT_EQ(test, dirty, PAGE_SIZE + REC);
	s.len = n;
	read_until(test, f, &s, -ENOMSG);
	precopy_info(test, f, &initial, &dirty);
	KUNIT_EXPECT_EQ(test, initial, 0ULL);
	KUNIT_EXPECT_EQ(test, dirty, 0ULL);
	KUNIT_ASSERT_NULL(test, fake_set_state(fake, S(RUNNING)));
	fput(f);
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
}

/* Every way out of PRE_COPY stops tracking and frees its bitmap. */
static void dirty_stops_on_every_way_out(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	struct file *f;

	/* Marks outside tracking are ignored. */
	vfmig_dirty_mark(fake->vdev, 0, FAKE_MEM_SIZE);
	KUNIT_EXPECT_FALSE(test, vfmig_dirty_tracking(fake->vdev));
	KUNIT_EXPECT_EQ(test, vfmig_dirty_weight(fake->vdev), 0ULL);

	/* PRE_COPY -> RUNNING */
	f = fake_set_state(fake, S(PRE_COPY));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	vfmig_dirty_mark(fake->vdev, 0, 3 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, vfmig_dirty_weight(fake->vdev), 3ULL);
	KUNIT_ASSERT_NULL(test, fake_set_state(fake, S(RUNNING)));
	KUNIT_EXPECT_FALSE(test, vfmig_dirty_tracking(fake->vdev));
	fput(f);

	/* A reset in PRE_COPY_P2P */
	f = fake_set_state(fake, S(PRE_COPY));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	KUNIT_ASSERT_NULL(test, fake_set_state(fake, S(PRE_COPY_P2P)));
	KUNIT_EXPECT_TRUE(test, vfmig_dirty_tracking(fake->vdev));
	vfmig_reset_done(fake->pdev);
	KUNIT_EXPECT_FALSE(test, vfmig_dirty_tracking(fake->vdev));
	KUNIT_EXPECT_TRUE(test, fake_file_dead(f));
	KUNIT_EXPECT_EQ(test, fake_get_state(fake), S(RUNNING));
	fput(f);

	/* ERROR from a failed arc */
	f = fake_set_state(fake, S(PRE_COPY));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	vfmig_fake_fail(fake, FAKE_QUIESCE, 1, -EIO);
	KUNIT_EXPECT_TRUE(test, IS_ERR(fake_set_state(fake, S(PRE_COPY_P2P))));
	KUNIT_EXPECT_EQ(test, fake_get_state(fake), S(ERROR));
	KUNIT_EXPECT_FALSE(test, vfmig_dirty_tracking(fake->vdev));
	fput(f);
	vfmig_reset_done(fake->pdev);

	/* Closing the device */
	f = fake_set_state(fake, S(PRE_COPY));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	vfmig_close_migration(fake->vdev);
	KUNIT_EXPECT_FALSE(test, vfmig_dirty_tracking(fake->vdev));
	KUNIT_EXPECT_TRUE(test, fake_file_dead(f));
	fput(f);

	/* STOP_COPY straight from STOP never tracks. */
	KUNIT_ASSERT_NULL(test, fake_set_state(fake, S(STOP)));
	f = fake_set_state(fake, S(STOP_COPY));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	KUNIT_EXPECT_FALSE(test, vfmig_dirty_tracking(fake->vdev));
	KUNIT_EXPECT_GT(test, atomic64_read(&fake->vdev->held_bytes), 0LL);
	fput(f);
	KUNIT_ASSERT_NULL(test, fake_set_state(fake, S(STOP)));

	/* Every file released: the driver holds no migration memory. */
	vfmig_fake_expect_no_files(test, baseline);
	KUNIT_EXPECT_EQ(test, atomic64_read(&fake->vdev->held_bytes), 0LL);
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
}

/*
 * The status file's STOP_COPY figures: noted when the end is read, not
 * before; a file opened stopped counts its whole stream.
 */
static void dirty_stop_copy_share_noted(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	struct saved s = { .buf = kunit_kzalloc(test, STREAM_MAX, GFP_KERNEL) };
	int baseline = vfmig_fake_baseline();
	struct file *f;
	ssize_t n;
	u64 all;

	KUNIT_ASSERT_NOT_NULL(test, s.buf);
	KUNIT_ASSERT_NULL(test, fake_set_state(fake, S(STOP)));
	f = fake_set_state(fake, S(STOP_COPY));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	all = fake_data_size(test, fake);
	n = fake_read(test, f, s.buf, 100);
	KUNIT_ASSERT_GT(test, n, 0);
	s.len = n;
	KUNIT_EXPECT_EQ(test, fake->vdev->stats.stop_copy_bytes, 0ULL);
	read_until(test, f, &s, 0);
	KUNIT_EXPECT_EQ(test, (u64)s.len, all);
	KUNIT_EXPECT_EQ(test, fake->vdev->stats.stop_copy_bytes, all);
	/* Reads past the end note nothing again. */
	fake->vdev->stats.stop_copy_bytes = 1;
	KUNIT_EXPECT_EQ(test, fake_read(test, f, s.buf, 100), 0);
	KUNIT_EXPECT_EQ(test, fake->vdev->stats.stop_copy_bytes, 1ULL);
	fput(f);
	KUNIT_ASSERT_NULL(test, fake_set_state(fake, S(STOP)));
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
}

static struct kunit_case dirty_cases[] = {
	KUNIT_CASE(dirty_rounds_send_written_pages),
	KUNIT_CASE(dirty_during_pass),
	KUNIT_CASE(dirty_stop_copy_share_noted),
	KUNIT_CASE(dirty_stops_on_every_way_out),
	{}
};

static struct kunit_suite dirty_suite = {
	.name = "vfmig_dirty",
	.test_cases = dirty_cases,
};

kunit_test_suite(dirty_suite);
