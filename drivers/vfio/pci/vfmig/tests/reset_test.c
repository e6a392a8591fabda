// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit: the deferred reset (drivers/vfio/pci/vfmig/reset.c), failure
 * injection at every arc (the ERROR policy), and the races.
 *
 * Every scenario must end with the device RUNNING and every data file
 * dead, without a deadlock, a lockdep report (debug_locks stays on) or a
 * leaked file.
 */
#include <kunit/test.h>
#include <linux/debug_locks.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/kthread.h>
#include <linux/random.h>
#include <linux/vfio.h>

#include "compat.h"
#include "fake.h"
#include "migf.h"

#define S(x)		VFIO_DEVICE_STATE_##x
#define ALL_FLAGS	(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P | \
			 VFIO_MIGRATION_PRE_COPY)

static void expect_reset_outcome(struct kunit *test, struct vfmig_fake *fake,
				 struct file *file)
{
	char buf[16];

	KUNIT_EXPECT_EQ(test, fake_get_state(fake), S(RUNNING));
	KUNIT_EXPECT_NULL(test, fake->vdev->saving_migf);
	KUNIT_EXPECT_NULL(test, fake->vdev->resuming_migf);
	if (!file)
		return;
	KUNIT_EXPECT_TRUE(test, fake_file_dead(file));
	if (fake_file_saving(file))
		KUNIT_EXPECT_EQ(test, fake_read(test, file, buf, sizeof(buf)),
				-ENODEV);
	else
		KUNIT_EXPECT_EQ(test, fake_write(test, file, buf, sizeof(buf)),
				-ENODEV);
}

static void reset_nobody_holds(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	struct file *f = fake_set_state(fake, S(PRE_COPY));

	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	vfmig_reset_done(fake->pdev);
	expect_reset_outcome(test, fake, f);
	/* A new migration works after it. */
	KUNIT_EXPECT_NULL(test, fake_set_state(fake, S(STOP)));
	fput(f);
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
	KUNIT_EXPECT_TRUE(test, debug_locks);
}

static void reset_while_mutex_held(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	struct vfmig_device *vdev = fake->vdev;
	int baseline = vfmig_fake_baseline();
	struct file *f = fake_set_state(fake, S(STOP_COPY));

	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	/* We are the holder: reset_done must not wait for us. */
	mutex_lock(&vdev->state_mutex);
	vfmig_reset_done(fake->pdev);
	KUNIT_EXPECT_TRUE(test, vdev->deferred_reset);
	KUNIT_EXPECT_EQ(test, vdev->mig_state, S(STOP_COPY));
	KUNIT_EXPECT_FALSE(test, fake_file_dead(f));
	/* Twice: still one reset, applied once. */
	vfmig_reset_done(fake->pdev);
	vfmig_state_mutex_unlock(vdev);
	KUNIT_EXPECT_FALSE(test, vdev->deferred_reset);
	expect_reset_outcome(test, fake, f);
	fput(f);
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
	KUNIT_EXPECT_TRUE(test, debug_locks);
}

static void reset_twice_in_a_row(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	struct file *f;

	fake_set_state(fake, S(STOP));
	f = fake_set_state(fake, S(RESUMING));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	vfmig_reset_done(fake->pdev);
	vfmig_reset_done(fake->pdev);
	expect_reset_outcome(test, fake, f);
	fput(f);
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
}

/* Another thread holds the state mutex, stuck in the backend's stop(). */
struct holder {
	struct vfmig_fake *fake;
	struct file *res;
	struct completion done;
};

static int holder_fn(void *data)
{
	struct holder *h = data;

	h->res = fake_set_state(h->fake, S(STOP_COPY));
	complete(&h->done);
	return 0;
}

static void reset_while_other_thread_holds(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	struct holder h = { .fake = fake };
	struct task_struct *t;

	init_completion(&h.done);
	fake->block_stop = true;
	t = kthread_run(holder_fn, &h, "vfmig-holder");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	wait_for_completion(&fake->stop_entered);
	/* The holder is inside set_state: reset_done must return at once. */
	vfmig_reset_done(fake->pdev);
	KUNIT_EXPECT_TRUE(test, fake->vdev->deferred_reset);
	complete(&fake->stop_release);
	wait_for_completion(&h.done);
	/*
	 * The function was reset under the holder, before its snapshot:
	 * the request fails rather than read the reset function and report
	 * success (kernel review #3), and the holder's unlock applied the
	 * reset: RUNNING, no file.
	 */
	KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(h.res), -ENODEV);
	if (!IS_ERR_OR_NULL(h.res))
		fput(h.res);
	expect_reset_outcome(test, fake, NULL);
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
	KUNIT_EXPECT_TRUE(test, debug_locks);
}

/* Another thread holds the state mutex, as a holder waiting for the device lock. */
struct mutex_holder {
	struct vfmig_device *vdev;
	struct completion held, release, done;
};

static int mutex_holder_fn(void *data)
{
	struct mutex_holder *h = data;

	mutex_lock(&h->vdev->state_mutex);
	complete(&h->held);
	wait_for_completion(&h->release);
	vfmig_state_mutex_unlock(h->vdev);
	complete(&h->done);
	return 0;
}

/* Start @h's thread on @vdev and return once it holds the state mutex. */
static void hold_state_mutex(struct kunit *test, struct mutex_holder *h,
			     struct vfmig_device *vdev)
{
	struct task_struct *t;

	h->vdev = vdev;
	init_completion(&h->held);
	init_completion(&h->release);
	init_completion(&h->done);
	t = kthread_run(mutex_holder_fn, h, "vfmig-holder");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	wait_for_completion(&h->held);
}

/* Let @h's thread go: it unlocks, applying any deferred reset. */
static void release_state_mutex(struct mutex_holder *h)
{
	complete(&h->release);
	wait_for_completion(&h->done);
}

/*
 * A reset deferred to the state mutex's holder has not disabled the data
 * files yet, but the function they describe is gone: every operation
 * must fail at once, before the holder lets go (kernel review #3; they
 * read and wrote the reset function).
 */
static void deferred_reset_ends_files_at_once(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	struct vfmig_fake *fake2 = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	struct mutex_holder h, h2;
	struct file *saving, *resuming;
	size_t len;
	u8 buf[16];
	u8 *stream;

	saving = fake_set_state(fake, S(PRE_COPY));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(saving));
	KUNIT_ASSERT_NULL(test, fake_set_state(fake2, S(STOP)));
	resuming = fake_set_state(fake2, S(RESUMING));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(resuming));
	stream = vfmig_fake_stream(fake2, 0x33, &len);

	hold_state_mutex(test, &h, fake->vdev);
	hold_state_mutex(test, &h2, fake2->vdev);
	vfmig_reset_done(fake->pdev);
	vfmig_reset_done(fake2->pdev);
	KUNIT_EXPECT_TRUE(test, fake->vdev->deferred_reset);
	KUNIT_EXPECT_TRUE(test, fake2->vdev->deferred_reset);
	/* Still deferred: the holders have the mutex. */
	KUNIT_EXPECT_EQ(test, fake_read(test, saving, buf, sizeof(buf)),
			-ENODEV);
	KUNIT_EXPECT_EQ(test, fake_write(test, resuming, stream, len),
			-ENODEV);
	KUNIT_EXPECT_NE(test, fake2->bar2[0], 0x33);
	release_state_mutex(&h);
	release_state_mutex(&h2);
	expect_reset_outcome(test, fake, saving);
	expect_reset_outcome(test, fake2, resuming);
	fput(saving);
	fput(resuming);
	vfmig_fake_close(fake);
	vfmig_fake_close(fake2);
	vfmig_fake_expect_no_files(test, baseline);
}

/* A reset in the middle of a device copy, as the reset path holds memory_lock. */
static void reset_hook(struct vfmig_fake *fake)
{
	if (fake->io_hook_calls == 1)
		vfmig_reset_done(fake->pdev);
}

static void reset_during_saving_read(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	struct file *f = fake_set_state(fake, S(PRE_COPY));

	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	fake->io_hook = reset_hook;
	/* Header, INFO, then the first memory chunk hits the reset. */
	KUNIT_EXPECT_EQ(test, fake_read(test, f, NULL, 2 * FAKE_MEM_SIZE),
			-ENODEV);
	KUNIT_EXPECT_EQ(test, fake->io_hook_calls, 1);
	expect_reset_outcome(test, fake, f);
	fput(f);
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
	KUNIT_EXPECT_TRUE(test, debug_locks);
}

static void reset_during_resuming_write(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	size_t len;
	u8 *stream;
	struct file *f;

	fake_set_state(fake, S(STOP));
	f = fake_set_state(fake, S(RESUMING));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	stream = vfmig_fake_stream(fake, 0x33, &len);
	fake->io_hook = reset_hook;
	/* The memory record is applied, the reset strikes inside it. */
	fake_write(test, f, stream, len);
	KUNIT_EXPECT_EQ(test, fake->io_hook_calls, 1);
	expect_reset_outcome(test, fake, f);
	/* Nothing more is accepted, and nothing can claim to be loaded. */
	KUNIT_EXPECT_EQ(test, fake_write(test, f, stream, len), -ENODEV);
	KUNIT_EXPECT_EQ(test, fake->seen[FAKE_LOAD_REGS], 0);
	fput(f);
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
	KUNIT_EXPECT_TRUE(test, debug_locks);
}

/* GET_STATE on another thread, for get_state_sees_a_deferred_reset(). */
struct state_reader {
	struct vfmig_fake *fake;
	enum vfio_device_mig_state state;
	struct completion done;
};

static int state_reader_fn(void *data)
{
	struct state_reader *r = data;

	r->state = fake_get_state(r->fake);
	complete(&r->done);
	return 0;
}

/*
 * A reset that reaches reset_done while GET_STATE holds the state mutex is
 * deferred to GET_STATE's own unlock; it has happened, and reset_done has
 * returned, so GET_STATE must report RUNNING, not the state the reset
 * ended (kernel review #14). Made deterministic: the test takes the mutex,
 * lets reset_done defer to it, and hands the mutex over with the reset
 * still pending, as GET_STATE finds it when the reset comes just after
 * its lock.
 */
static void get_state_sees_a_deferred_reset(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	struct vfmig_device *vdev = fake->vdev;
	struct state_reader r = { .fake = fake };
	struct task_struct *t;
	struct file *f;

	f = fake_set_state(fake, S(STOP_COPY));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	init_completion(&r.done);
	mutex_lock(&vdev->state_mutex);
	t = kthread_run(state_reader_fn, &r, "vfmig-get-state");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	vfmig_reset_done(fake->pdev);
	KUNIT_ASSERT_TRUE(test, vdev->deferred_reset);
	/* Not vfmig_state_mutex_unlock(): the reader gets the pending reset. */
	mutex_unlock(&vdev->state_mutex);
	wait_for_completion(&r.done);
	KUNIT_EXPECT_EQ(test, r.state, S(RUNNING));
	/* The reader's unlock applied it. */
	KUNIT_EXPECT_FALSE(test, vdev->deferred_reset);
	expect_reset_outcome(test, fake, f);
	fput(f);
	vfmig_fake_close(fake);
	KUNIT_EXPECT_TRUE(test, debug_locks);
}

/*
 * PRE_COPY -> STOP_COPY when the saving file has failed with -EIO for an
 * ordinary reason (here: the function was out of D0 for one read): the
 * function is restarted and known, so the device stays in the last state
 * reached (PRE_COPY_P2P, on the way with P2P) with its files. ERROR is
 * for a function in an unknown state only (kernel review #8: it went to
 * ERROR and killed every file).
 */
static void precopy_file_error_is_not_error_state(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	struct file *f;

	f = fake_set_state(fake, S(PRE_COPY));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	fake->pdev->current_state = PCI_D3hot;
	fake_read(test, f, NULL, FAKE_MEM_SIZE);
	fake->pdev->current_state = PCI_D0;
	KUNIT_ASSERT_EQ(test, fake_read(test, f, NULL, 16), -EIO);
	vfmig_fake_clear_calls(fake);
	KUNIT_EXPECT_EQ(test, PTR_ERR(fake_set_state(fake, S(STOP_COPY))), -EIO);
	KUNIT_EXPECT_EQ(test, fake_get_state(fake), S(PRE_COPY_P2P));
	KUNIT_EXPECT_EQ(test, fake->seen[FAKE_STOP], 1);
	KUNIT_EXPECT_EQ(test, fake->seen[FAKE_START], 1);
	KUNIT_EXPECT_FALSE(test, fake_file_dead(f));
	KUNIT_EXPECT_NULL(test, fake_set_state(fake, S(RUNNING)));
	KUNIT_EXPECT_TRUE(test, fake_file_dead(f));
	fput(f);
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
}

/* Refuse a stream: STOP -> RESUMING -> STOP with nothing written. */
static void refuse_empty_stream(struct kunit *test, struct vfmig_fake *fake)
{
	struct file *f;

	KUNIT_EXPECT_NULL(test, fake_set_state(fake, S(STOP)));
	f = fake_set_state(fake, S(RESUMING));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	KUNIT_EXPECT_EQ(test, PTR_ERR(fake_set_state(fake, S(STOP))), -EINVAL);
	KUNIT_EXPECT_EQ(test, fake_get_state(fake), S(ERROR));
	fput(f);
}

/*
 * A function with no PCI reset method (vfio's reset_works is false) in
 * ERROR: VFIO_DEVICE_RESET resets it through the backend and leaves ERROR
 * (kernel review #4: -EINVAL, stuck in ERROR until the device is closed).
 * Outside ERROR, or where a PCI reset exists, the ioctl is vfio's.
 */
static void reset_ioctl_without_reset_method(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	struct vfmig_device *vdev = fake->vdev;
	int baseline = vfmig_fake_baseline();

	KUNIT_EXPECT_EQ(test, vfmig_reset_ioctl(vdev), -ENOTTY);
	refuse_empty_stream(test, fake);
	vdev->core_device.reset_works = true;
	KUNIT_EXPECT_EQ(test, vfmig_reset_ioctl(vdev), -ENOTTY);
	vdev->core_device.reset_works = false;

	/* A backend reset that fails leaves the device in ERROR. */
	vfmig_fake_fail(fake, FAKE_RESET, 1, -EIO);
	KUNIT_EXPECT_EQ(test, vfmig_reset_ioctl(vdev), -EIO);
	KUNIT_EXPECT_EQ(test, fake_get_state(fake), S(ERROR));

	memset(fake->bar0, 0x5a, FAKE_REGS_SIZE);
	KUNIT_EXPECT_EQ(test, vfmig_reset_ioctl(vdev), 0);
	KUNIT_EXPECT_EQ(test, fake_get_state(fake), S(RUNNING));
	KUNIT_EXPECT_EQ(test, fake->seen[FAKE_RESET], 2);
	KUNIT_EXPECT_TRUE(test, mem_is_zero(fake->bar0, FAKE_REGS_SIZE));
	/* And a migration works again. */
	refuse_empty_stream(test, fake);
	KUNIT_EXPECT_EQ(test, vfmig_reset_ioctl(vdev), 0);
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
	KUNIT_EXPECT_TRUE(test, debug_locks);
}

/*
 * A VMM looping on a refused stream gets a burst of log lines, then
 * silence, per kind of line and per device (kernel review #16).
 */
static void refusal_loop_is_rate_limited(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	struct vfmig_fake *other = vfmig_fake_create(test, ALL_FLAGS);
	int kinds[] = { VFMIG_LOG_REFUSED, VFMIG_LOG_ERROR, VFMIG_LOG_RESET };
	struct ratelimit_state *rs;
	unsigned int i;

	for (i = 0; i < VFMIG_LOG_BURST + 10; i++) {
		refuse_empty_stream(test, fake);
		vfmig_reset_done(fake->pdev);
	}
	/* Within one interval, unless the machine is very slow. */
	for (i = 0; i < ARRAY_SIZE(kinds); i++)
		KUNIT_EXPECT_GT(test,
				vfmig_rs_missed(&fake->vdev->log_rs[kinds[i]]), 0);
	/* Another device's first refusal is still told. */
	refuse_empty_stream(test, other);
	rs = &other->vdev->log_rs[VFMIG_LOG_REFUSED];
	KUNIT_EXPECT_EQ(test, vfmig_rs_missed(rs), 0);
	KUNIT_EXPECT_EQ(test, vfmig_rs_printed(rs), 1);
	vfmig_fake_close(fake);
	vfmig_fake_close(other);
}

static void reset_leaves_error(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	struct file *f;

	fake_set_state(fake, S(STOP));
	f = fake_set_state(fake, S(RESUMING));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	/* Nothing written: the load is refused, ERROR. */
	KUNIT_EXPECT_EQ(test, PTR_ERR(fake_set_state(fake, S(STOP))), -EINVAL);
	KUNIT_EXPECT_EQ(test, fake_get_state(fake), S(ERROR));
	KUNIT_EXPECT_TRUE(test, fake_file_dead(f));
	KUNIT_EXPECT_EQ(test, PTR_ERR(fake_set_state(fake, S(RUNNING))),
			-EINVAL);
	vfmig_reset_done(fake->pdev);
	KUNIT_EXPECT_EQ(test, fake_get_state(fake), S(RUNNING));
	fput(f);
}

static void close_ends_migration(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	struct file *f = fake_set_state(fake, S(PRE_COPY));
	char buf[8];

	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	vfmig_fake_close(fake);
	/* The file outlives the device: dead, and safe to use and close. */
	KUNIT_EXPECT_TRUE(test, fake_file_dead(f));
	KUNIT_EXPECT_EQ(test, fake_read(test, f, buf, sizeof(buf)), -ENODEV);
	fput(f);
	vfmig_fake_expect_no_files(test, baseline);
}

/* A thread in SET_STATE, as QEMU's migration thread. */
struct arc_thread {
	struct vfmig_fake *fake;
	enum vfio_device_mig_state to;
	struct file *res;
	struct completion done;
};

static int arc_fn(void *data)
{
	struct arc_thread *a = data;

	a->res = fake_set_state(a->fake, a->to);
	complete(&a->done);
	return 0;
}

/*
 * Unbind holds the function's device lock while it waits for the user to
 * close the device. STOP -> STOP_COPY reads the function, waiting for that
 * lock inside an ioctl that keeps the device open: it waited for ever
 * (kernel review #2). Once remove has begun it must fail, and the state
 * roll back, so the user can close.
 */
static void unbind_ends_an_arc_waiting_for_the_device(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	struct arc_thread a = { .fake = fake, .to = S(STOP_COPY) };
	struct task_struct *t;
	bool early, returned;

	KUNIT_ASSERT_NULL(test, fake_set_state(fake, S(STOP)));
	init_completion(&a.done);
	device_lock(&fake->pdev->dev);		/* as unbind holds it */
	t = kthread_run(arc_fn, &a, "vfmig-arc");
	if (IS_ERR(t))
		device_unlock(&fake->pdev->dev);
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	early = wait_for_completion_timeout(&a.done, HZ / 10);
	KUNIT_EXPECT_FALSE_MSG(test, early,
			       "the arc did not wait for the device lock");
	vfmig_unbind_begin(fake->vdev);
	returned = early || wait_for_completion_timeout(&a.done, 2 * HZ);
	KUNIT_EXPECT_TRUE_MSG(test, returned,
			      "the arc still waits for the device lock 2 s after remove began");
	device_unlock(&fake->pdev->dev);
	if (!returned)
		wait_for_completion(&a.done);
	KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(a.res), -ENODEV);
	if (!IS_ERR_OR_NULL(a.res))
		fput(a.res);
	KUNIT_EXPECT_EQ(test, fake_get_state(fake), S(STOP));
	KUNIT_EXPECT_NULL(test, fake->vdev->saving_migf);
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
}

/*
 * A file that outlives a hot-removed function keeps its pci_dev: the
 * vfio device stops pinning its parent once unregistered, and the file
 * still logs through the pci_dev (PRECOPY_INFO with a short argsz).
 */
static void file_keeps_pci_dev(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	int pdevs = vfmig_fake_pdevs_live();
	struct vfio_precopy_info info = { .argsz = 4 };
	struct file *f = fake_set_state(fake, S(PRE_COPY));

	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	vfmig_fake_close(fake);	/* what a hot-removal ends with */
	KUNIT_EXPECT_EQ_MSG(test, vfmig_fake_pdevs_live(), pdevs,
			    "the pci_dev went while a data file was open");
	KUNIT_EXPECT_EQ(test, fake_ioctl(test, f, VFIO_MIG_GET_PRECOPY_INFO,
					 &info, sizeof(info)), -EINVAL);
	fput(f);
	vfmig_fake_expect_no_files(test, baseline);
	KUNIT_EXPECT_EQ(test, vfmig_fake_pdevs_live(), pdevs - 1);
}

struct detector {
	struct pci_dev *pdev;
	struct completion done;
};

static int detector_fn(void *data)
{
	struct detector *d = data;

	vfmig_error_detected(d->pdev, pci_channel_io_frozen);
	complete(&d->done);
	return 0;
}

/*
 * The PCI core calls error_detected holding the device lock, and a
 * state-mutex holder may be waiting for that lock (a device access in
 * STOP_COPY or RESUMING -> STOP): error_detected must not wait for the
 * state mutex, or recovery and the holder wait for each other for ever
 * (kernel review #1). The data file fails at once all the same, and the
 * recovery's resume ends the migration.
 */
static void error_detected_waits_for_nobody(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	struct mutex_holder h;
	struct detector d = { .pdev = fake->pdev };
	struct file *f = fake_set_state(fake, S(PRE_COPY));
	struct task_struct *t;
	char buf[16];
	bool returned;

	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	init_completion(&d.done);
	hold_state_mutex(test, &h, fake->vdev);
	t = kthread_run(detector_fn, &d, "vfmig-detector");
	if (IS_ERR(t))
		release_state_mutex(&h);
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	returned = wait_for_completion_timeout(&d.done, 2 * HZ);
	KUNIT_EXPECT_TRUE_MSG(test, returned,
			      "error_detected still waits for the state mutex after 2 s");
	/* The holder is still in: the file fails without it. */
	KUNIT_EXPECT_EQ(test, fake_read(test, f, buf, sizeof(buf)), -EIO);
	KUNIT_EXPECT_TRUE(test, f->f_op->poll(f, NULL) & EPOLLERR);
	release_state_mutex(&h);
	if (!returned)		/* it had not: it gets the mutex now */
		wait_for_completion(&d.done);
	vfmig_err_resume(fake->pdev);
	expect_reset_outcome(test, fake, f);
	fput(f);
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
	KUNIT_EXPECT_TRUE(test, debug_locks);
}

/*
 * A failed channel leaves the function unknown: an arc that would read it
 * (the STOP_COPY snapshot) fails with EIO without touching it, rather than
 * hand out a file of garbage; it changed nothing, so the state stays STOP
 * (ERROR policy 2), and the recovery's resume ends the migration.
 */
static void error_detected_fails_arcs(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	struct file *f;

	KUNIT_ASSERT_NULL(test, fake_set_state(fake, S(STOP)));
	vfmig_error_detected(fake->pdev, pci_channel_io_frozen);
	f = fake_set_state(fake, S(STOP_COPY));
	KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(f), -EIO);
	if (!IS_ERR_OR_NULL(f))
		fput(f);
	KUNIT_EXPECT_EQ(test, fake_get_state(fake), S(STOP));
	KUNIT_EXPECT_EQ(test, fake->seen[FAKE_SAVE_REGS], 0);
	vfmig_err_resume(fake->pdev);
	expect_reset_outcome(test, fake, NULL);
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
}

static void error_detected_fails_files(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	struct file *f = fake_set_state(fake, S(PRE_COPY));
	char buf[16];
	int resets;

	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	/* A normal channel changes nothing. */
	KUNIT_EXPECT_EQ(test, vfmig_error_detected(fake->pdev,
						   pci_channel_io_normal),
			PCI_ERS_RESULT_CAN_RECOVER);
	KUNIT_EXPECT_EQ(test, fake_read(test, f, buf, sizeof(buf)),
			(ssize_t)sizeof(buf));
	/* A frozen one: the state cannot be trusted, the save fails. */
	KUNIT_EXPECT_EQ(test, vfmig_error_detected(fake->pdev,
						   pci_channel_io_frozen),
			PCI_ERS_RESULT_CAN_RECOVER);
	KUNIT_EXPECT_EQ(test, fake_read(test, f, buf, sizeof(buf)), -EIO);
	KUNIT_EXPECT_TRUE(test, f->f_op->poll(f, NULL) & EPOLLERR);
	/*
	 * An AER bus reset calls no reset_done: the recovery's resume ends
	 * the migration, once, and a later resume changes nothing.
	 */
	vfmig_err_resume(fake->pdev);
	expect_reset_outcome(test, fake, f);
	KUNIT_EXPECT_FALSE(test, fake->vdev->channel_failed);
	resets = atomic_read(&fake->vdev->stats.resets);
	vfmig_err_resume(fake->pdev);
	KUNIT_EXPECT_EQ(test, atomic_read(&fake->vdev->stats.resets), resets);
	fput(f);
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
}

/* ---- failure injection at every arc ---- */

struct fail_case {
	const char *name;
	enum vfio_device_mig_state from, to;
	unsigned int flags;
	enum fake_call fail;
	int err;
	enum vfio_device_mig_state after;
	int ncalls;
	enum fake_call calls[5];
};

#define Q FAKE_QUIESCE
#define UQ FAKE_UNQUIESCE
#define ST FAKE_STOP
#define GO FAKE_START
#define SR FAKE_SAVE_REGS
#define LR FAKE_LOAD_REGS
#define NOP2P (VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_PRE_COPY)

static const struct fail_case fail_cases[] = {
	/* Atomic failures: state and files as they were. */
	{ "RUNNING->RUNNING_P2P quiesce", S(RUNNING), S(RUNNING_P2P), ALL_FLAGS,
	  Q, -EBUSY, S(RUNNING), 1, { Q } },
	{ "RUNNING_P2P->RUNNING unquiesce", S(RUNNING_P2P), S(RUNNING), ALL_FLAGS,
	  UQ, -EBUSY, S(RUNNING_P2P), 1, { UQ } },
	{ "RUNNING_P2P->STOP stop", S(RUNNING_P2P), S(STOP), ALL_FLAGS,
	  ST, -EBUSY, S(RUNNING_P2P), 1, { ST } },
	{ "STOP->RUNNING_P2P start", S(STOP), S(RUNNING_P2P), ALL_FLAGS,
	  GO, -EBUSY, S(STOP), 1, { GO } },
	{ "PRE_COPY->PRE_COPY_P2P quiesce", S(PRE_COPY), S(PRE_COPY_P2P),
	  ALL_FLAGS, Q, -EBUSY, S(PRE_COPY), 1, { Q } },
	{ "PRE_COPY_P2P->PRE_COPY unquiesce", S(PRE_COPY_P2P), S(PRE_COPY),
	  ALL_FLAGS, UQ, -EBUSY, S(PRE_COPY_P2P), 1, { UQ } },
	{ "PRE_COPY_P2P->STOP_COPY stop", S(PRE_COPY_P2P), S(STOP_COPY),
	  ALL_FLAGS, ST, -EBUSY, S(PRE_COPY_P2P), 1, { ST } },
	{ "PRE_COPY_P2P->STOP_COPY snapshot, start rolls back", S(PRE_COPY_P2P),
	  S(STOP_COPY), ALL_FLAGS, SR, -EBUSY, S(PRE_COPY_P2P), 3,
	  { ST, SR, GO } },
	{ "STOP->STOP_COPY snapshot", S(STOP), S(STOP_COPY), ALL_FLAGS,
	  SR, -EBUSY, S(STOP), 1, { SR } },
	/* The backend cannot say what state it is in: ERROR. */
	{ "RUNNING_P2P->STOP stop -EIO", S(RUNNING_P2P), S(STOP), ALL_FLAGS,
	  ST, -EIO, S(ERROR), 1, { ST } },
	{ "PRE_COPY->PRE_COPY_P2P quiesce -EIO", S(PRE_COPY), S(PRE_COPY_P2P),
	  ALL_FLAGS, Q, -EIO, S(ERROR), 1, { Q } },
	{ "RESUMING->STOP load registers", S(RESUMING), S(STOP), ALL_FLAGS,
	  LR, -EBUSY, S(ERROR), 1, { LR } },
};

static void fail_desc(const struct fail_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(fail, fail_cases, fail_desc);

/*
 * Without P2P the merged arcs roll their first step back. vfmig always
 * advertises P2P today (vfmig_mig_init()), so these are checks of fsm.c's
 * merged-arc code for a backend without P2P, kept in a suite of their own
 * (vfmig_fsm_no_p2p) so they are not counted as configurations vfmig runs.
 */
static const struct fail_case fail_cases_no_p2p[] = {
	{ "RUNNING->STOP quiesce", S(RUNNING), S(STOP), NOP2P,
	  Q, -EBUSY, S(RUNNING), 1, { Q } },
	{ "RUNNING->STOP stop, unquiesce rolls back", S(RUNNING), S(STOP),
	  NOP2P, ST, -EBUSY, S(RUNNING), 3, { Q, ST, UQ } },
	{ "STOP->RUNNING start", S(STOP), S(RUNNING), NOP2P,
	  GO, -EBUSY, S(STOP), 1, { GO } },
	{ "STOP->RUNNING unquiesce, stop rolls back", S(STOP), S(RUNNING),
	  NOP2P, UQ, -EBUSY, S(STOP), 3, { GO, UQ, ST } },
	{ "PRE_COPY->STOP_COPY snapshot, both roll back", S(PRE_COPY),
	  S(STOP_COPY), NOP2P, SR, -EBUSY, S(PRE_COPY), 5,
	  { Q, ST, SR, GO, UQ } },
};

KUNIT_ARRAY_PARAM(fail_no_p2p, fail_cases_no_p2p, fail_desc);

static void fsm_failure_injection(struct kunit *test)
{
	const struct fail_case *c = test->param_value;
	struct vfmig_fake *fake = vfmig_fake_create(test, c->flags);
	int baseline = vfmig_fake_baseline();
	struct file *held = NULL, *res;
	int i;

	if (c->from == S(RESUMING)) {
		size_t len;
		u8 *stream;

		fake_set_state(fake, S(STOP));
		held = fake_set_state(fake, S(RESUMING));
		KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(held));
		stream = vfmig_fake_stream(fake, 0x11, &len);
		KUNIT_ASSERT_EQ(test, fake_write(test, held, stream, len),
				(ssize_t)len);
	} else {
		held = fake_set_state(fake, c->from);
		KUNIT_ASSERT_FALSE(test, IS_ERR(held));
	}
	KUNIT_ASSERT_EQ(test, fake_get_state(fake), c->from);
	vfmig_fake_clear_calls(fake);
	vfmig_fake_fail(fake, c->fail, 1, c->err);

	res = fake_set_state(fake, c->to);
	KUNIT_EXPECT_EQ(test, PTR_ERR(res), c->err);
	KUNIT_EXPECT_EQ(test, fake_get_state(fake), c->after);
	KUNIT_EXPECT_EQ(test, fake->ncalls, c->ncalls);
	for (i = 0; i < min(c->ncalls, fake->ncalls); i++)
		KUNIT_EXPECT_EQ_MSG(test, fake->calls[i], c->calls[i], "call %d", i);
	if (held)
		KUNIT_EXPECT_EQ(test, fake_file_dead(held), c->after == S(ERROR));
	if (c->after == S(ERROR)) {
		/* Only a reset leaves ERROR. */
		KUNIT_EXPECT_EQ(test, PTR_ERR(fake_set_state(fake, S(RUNNING))),
				-EINVAL);
		vfmig_reset_done(fake->pdev);
		KUNIT_EXPECT_EQ(test, fake_get_state(fake), S(RUNNING));
	}
	if (held)
		fput(held);
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
}

static void fsm_rollback_fails(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, NOP2P);

	/* stop fails, and so does the unquiesce that should undo quiesce. */
	fake->fail_always = BIT(FAKE_STOP) | BIT(FAKE_UNQUIESCE);
	fake->fail_errno = -EBUSY;
	KUNIT_EXPECT_EQ(test, PTR_ERR(fake_set_state(fake, S(STOP))), -EIO);
	KUNIT_EXPECT_EQ(test, fake_get_state(fake), S(ERROR));
	fake->fail_always = 0;
	vfmig_reset_done(fake->pdev);
	KUNIT_EXPECT_EQ(test, fake_get_state(fake), S(RUNNING));
}

/* ---- races ---- */

struct hammer {
	struct vfmig_fake *fake;
	atomic_t stop;
	unsigned long ops;
	unsigned long contended;
	bool resetter;
};

static int hammer_fn(void *data)
{
	static const enum vfio_device_mig_state targets[] = {
		S(RUNNING), S(RUNNING_P2P), S(STOP), S(STOP_COPY), S(RESUMING),
		S(PRE_COPY), S(PRE_COPY_P2P), S(ERROR),
	};
	struct hammer *h = data;
	struct file *f;

	while (!atomic_read(&h->stop)) {
		if (h->resetter) {
			/* Did this reset meet a holder (the deferred path)? */
			if (mutex_is_locked(&h->fake->vdev->state_mutex))
				h->contended++;
			vfmig_reset_done(h->fake->pdev);
			usleep_range(10, 50);
		} else {
			f = fake_set_state(h->fake,
					   targets[get_random_u32_below(ARRAY_SIZE(targets))]);
			if (!IS_ERR_OR_NULL(f))
				fput(f);
		}
		h->ops++;
		cond_resched();
	}
	return 0;
}

static void race_set_state_and_reset(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	struct hammer h[3] = {};
	struct task_struct *t[3];
	int i;

	fake->jitter = true;
	for (i = 0; i < 3; i++) {
		h[i].fake = fake;
		h[i].resetter = i == 2;
		t[i] = kthread_run(hammer_fn, &h[i], "vfmig-hammer-%d", i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(t[i]));
		get_task_struct(t[i]);
	}
	msleep(2000);
	for (i = 0; i < 3; i++)
		atomic_set(&h[i].stop, 1);
	for (i = 0; i < 3; i++) {
		kthread_stop(t[i]);
		put_task_struct(t[i]);
		KUNIT_EXPECT_GT(test, h[i].ops, 10UL);
	}
	kunit_info(test, "set_state %lu + %lu, reset_done %lu (%lu deferred)\n",
		   h[0].ops, h[1].ops, h[2].ops, h[2].contended);
	KUNIT_EXPECT_GT_MSG(test, h[2].contended, 0UL,
			    "no reset met a holder: the race was not exercised");
	vfmig_reset_done(fake->pdev);
	expect_reset_outcome(test, fake, NULL);
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
	KUNIT_EXPECT_TRUE(test, debug_locks);
}

static struct kunit_case reset_cases[] = {
	KUNIT_CASE(reset_nobody_holds),
	KUNIT_CASE(reset_while_mutex_held),
	KUNIT_CASE(reset_twice_in_a_row),
	KUNIT_CASE(reset_while_other_thread_holds),
	KUNIT_CASE(deferred_reset_ends_files_at_once),
	KUNIT_CASE(reset_during_saving_read),
	KUNIT_CASE(reset_during_resuming_write),
	KUNIT_CASE(reset_leaves_error),
	KUNIT_CASE(get_state_sees_a_deferred_reset),
	KUNIT_CASE(precopy_file_error_is_not_error_state),
	KUNIT_CASE(reset_ioctl_without_reset_method),
	KUNIT_CASE(refusal_loop_is_rate_limited),
	KUNIT_CASE(close_ends_migration),
	KUNIT_CASE(file_keeps_pci_dev),
	KUNIT_CASE(unbind_ends_an_arc_waiting_for_the_device),
	KUNIT_CASE(error_detected_fails_files),
	KUNIT_CASE(error_detected_waits_for_nobody),
	KUNIT_CASE(error_detected_fails_arcs),
	KUNIT_CASE_PARAM(fsm_failure_injection, fail_gen_params),
	KUNIT_CASE_SLOW(race_set_state_and_reset),
	{}
};

static struct kunit_suite reset_suite = {
	.name = "vfmig_reset",
	.test_cases = reset_cases,
};

static struct kunit_case no_p2p_cases[] = {
	KUNIT_CASE_PARAM(fsm_failure_injection, fail_no_p2p_gen_params),
	KUNIT_CASE(fsm_rollback_fails),
	{}
};

/* fsm.c's merged arcs, for a backend without P2P (not vfmig's flags). */
static struct kunit_suite no_p2p_suite = {
	.name = "vfmig_fsm_no_p2p",
	.test_cases = no_p2p_cases,
};

kunit_test_suites(&reset_suite, &no_p2p_suite);
