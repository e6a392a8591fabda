// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit: what a data file's device access holds and what it leaves
 * behind (drivers/vfio/pci/vfmig/device.c, migf.c): memory_lock only for
 * reading while decoding is on, the function awake, and no buffers kept
 * by a dead file.
 */
#include <kunit/test.h>
#include <linux/debug_locks.h>
#include <linux/file.h>
#include <linux/pm_runtime.h>
#include <linux/vfio.h>

#include "fake.h"
#include "migf.h"

#define S(x)		VFIO_DEVICE_STATE_##x
#define ALL_FLAGS	(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P | \
			 VFIO_MIGRATION_PRE_COPY)

/* What the hook saw inside the bulk copies. */
struct copy_seen {
	int shared;	/* another reader of memory_lock got in */
	int awake;	/* the function was runtime-active, with a reference */
};

static void copy_hook(struct vfmig_fake *fake)
{
	struct copy_seen *seen = fake->test->priv;
	struct rw_semaphore *memory_lock = &fake->vdev->core_device.memory_lock;
	struct device *dev = &fake->pdev->dev;

	/* A guest's trapped BAR access or mapping fault, as vfio takes it. */
	if (down_read_trylock(memory_lock)) {
		seen->shared++;
		up_read(memory_lock);
	}
	if (pm_runtime_active(dev) && atomic_read(&dev->power.usage_count) > 0)
		seen->awake++;
}

/*
 * A PRE_COPY read with memory decoding on lets the guest's accesses in
 * during each 1 MiB copy; with decoding off, vfmig switches it on for the
 * copy and must keep everyone out (vfio changes decoding under the write
 * lock), then put the command register back.
 */
static void copy_shares_memory_lock_when_decoding(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	struct copy_seen seen = {};
	struct file *f;
	u16 cmd;

	test->priv = &seen;
	fake->io_hook = copy_hook;
	f = fake_set_state(fake, S(PRE_COPY));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	KUNIT_EXPECT_GT(test, fake_read(test, f, NULL, FAKE_MEM_SIZE / 2), 0);
	KUNIT_ASSERT_GT(test, fake->io_hook_calls, 0);
	KUNIT_EXPECT_EQ(test, seen.shared, fake->io_hook_calls);

	fake->io_hook_calls = 0;
	seen.shared = 0;
	*(u16 *)&fake->config[PCI_COMMAND] = 0;
	KUNIT_EXPECT_GT(test, fake_read(test, f, NULL, FAKE_MEM_SIZE / 2), 0);
	KUNIT_ASSERT_GT(test, fake->io_hook_calls, 0);
	KUNIT_EXPECT_EQ(test, seen.shared, 0);
	cmd = *(u16 *)&fake->config[PCI_COMMAND];
	KUNIT_EXPECT_EQ(test, cmd, 0);
	fput(f);
	vfmig_fake_close(fake);
	KUNIT_EXPECT_TRUE(test, debug_locks);
}

/*
 * A data file's access wakes a runtime-suspended function and keeps it
 * awake (VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY lets it suspend while the
 * VMM still reads the saving file), then lets it suspend again.
 */
static void copy_wakes_the_function(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	struct device *dev = &fake->pdev->dev;
	struct copy_seen seen = {};
	struct file *f;

	test->priv = &seen;
	fake->io_hook = copy_hook;
	f = fake_set_state(fake, S(PRE_COPY));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	KUNIT_ASSERT_EQ(test, pm_runtime_suspend(dev), 0);
	KUNIT_ASSERT_TRUE(test, pm_runtime_suspended(dev));
	KUNIT_EXPECT_GT(test, fake_read(test, f, NULL, FAKE_MEM_SIZE), 0);
	KUNIT_ASSERT_GT(test, fake->io_hook_calls, 0);
	KUNIT_EXPECT_EQ(test, seen.awake, fake->io_hook_calls);
	/* The reference is given back: nothing keeps it from suspending. */
	KUNIT_EXPECT_EQ(test, atomic_read(&dev->power.usage_count), 0);
	fput(f);
	vfmig_fake_close(fake);
}

static struct vfmig_migf *migf_of(struct file *f)
{
	return f->private_data;
}

/*
 * A file the state machine ends frees its buffers at once; one a reset
 * kills (the reset path cannot wait for its io_lock) at its next
 * operation; neither waits for the VMM to close the fd.
 */
static void dead_files_keep_no_buffers(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, ALL_FLAGS);
	int baseline = vfmig_fake_baseline();
	struct file *f;
	char buf[8];

	f = fake_set_state(fake, S(PRE_COPY));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	KUNIT_EXPECT_NOT_NULL(test, migf_of(f)->buf);
	KUNIT_EXPECT_NULL(test, fake_set_state(fake, S(RUNNING)));
	KUNIT_EXPECT_NULL(test, migf_of(f)->buf);
	KUNIT_EXPECT_EQ(test, fake_read(test, f, buf, sizeof(buf)), -ENODEV);
	fput(f);

	fake_set_state(fake, S(STOP));
	f = fake_set_state(fake, S(RESUMING));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	KUNIT_EXPECT_NOT_NULL(test, migf_of(f)->mem_map);
	vfmig_reset_done(fake->pdev);
	KUNIT_EXPECT_EQ(test, fake_write(test, f, buf, sizeof(buf)), -ENODEV);
	KUNIT_EXPECT_NULL(test, migf_of(f)->buf);
	KUNIT_EXPECT_NULL(test, migf_of(f)->mem_map);
	fput(f);
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
}

static struct kunit_case access_cases[] = {
	KUNIT_CASE(copy_shares_memory_lock_when_decoding),
	KUNIT_CASE(copy_wakes_the_function),
	KUNIT_CASE(dead_files_keep_no_buffers),
	{}
};

static struct kunit_suite access_suite = {
	.name = "vfmig_access",
	.test_cases = access_cases,
};

kunit_test_suites(&access_suite);
