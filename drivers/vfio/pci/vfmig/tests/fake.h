/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A fake PCI function for the vfmig KUnit suites: a vfmig_device whose PCI
 * config space is an array behind a fake bus, whose BARs are emulated IO
 * memory (UML's logic_iomem), and whose backend records every call and
 * can be told to fail any of them.
 */
#ifndef _VFMIG_KUNIT_FAKE_H
#define _VFMIG_KUNIT_FAKE_H

#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/pci.h>
#include <linux/sizes.h>

#include "vfmig.h"

/* The fake function's runtime PM is enabled and active at creation. */

/* Larger than one stream record, so a save spans several. */
#define FAKE_MEM_SIZE	SZ_2M
#define FAKE_REGS_SIZE	8
#define FAKE_MAX_CALLS	64

enum fake_call {
	FAKE_QUIESCE,
	FAKE_UNQUIESCE,
	FAKE_STOP,
	FAKE_START,
	FAKE_SAVE_REGS,
	FAKE_LOAD_REGS,
	FAKE_RESET,
	FAKE_NR_CALLS,
};

/**
 * struct vfmig_fake - one fake function
 * @test: the test that owns it
 * @vdev: the vfmig device under test
 * @pdev: its fake PCI function
 * @bus: the fake bus carrying its config space
 * @config: config space
 * @bar0: register BAR content (BAR0 offset 4 clears on read, as ivshmem's
 *	INTRSTATUS does)
 * @bar2: memory BAR content
 * @calls: backend calls in order
 * @ncalls: how many
 * @fail_call: the call to fail, or FAKE_NR_CALLS for none
 * @fail_nth: fail the @fail_nth-th such call (from 1); 0: every one
 * @fail_errno: the errno the failing call returns
 * @fail_always: bit mask of calls that fail every time, with @fail_errno
 * @seen: calls of each kind so far
 * @block_stop: make the stop callback wait for @stop_release, after
 *	completing @stop_entered (to hold the state mutex in another thread)
 * @stop_entered: see @block_stop
 * @stop_release: see @block_stop
 * @io_hook: called inside every bulk BAR copy (memcpy_fromio/toio), that
 *	is with memory_lock held, as a reset would be
 * @io_hook_calls: how many bulk copies the hook saw
 * @jitter: every backend call sleeps a little, so that on a uniprocessor
 *	kernel without preemption (UML) other threads run while the state
 *	mutex is held
 * @slot: this fake's place in the emulated IO memory region
 */
struct vfmig_fake {
	struct kunit *test;
	struct vfmig_device *vdev;
	struct pci_dev *pdev;
	struct pci_bus *bus;
	u8 config[256];
	u8 bar0[256];
	u8 *bar2;
	enum fake_call calls[FAKE_MAX_CALLS];
	int ncalls;
	enum fake_call fail_call;
	int fail_nth;
	int fail_errno;
	unsigned int fail_always;
	int seen[FAKE_NR_CALLS];
	bool block_stop;
	struct completion stop_entered;
	struct completion stop_release;
	void (*io_hook)(struct vfmig_fake *fake);
	int io_hook_calls;
	bool jitter;
	int slot;
};

struct vfmig_fake *vfmig_fake_create(struct kunit *test, unsigned int flags);
void vfmig_fake_close(struct vfmig_fake *fake);
void vfmig_fake_fail(struct vfmig_fake *fake, enum fake_call call, int nth,
		     int err);
void vfmig_fake_clear_calls(struct vfmig_fake *fake);
int vfmig_fake_baseline(void);
void vfmig_fake_expect_no_files(struct kunit *test, int baseline);

struct file *fake_set_state(struct vfmig_fake *fake,
			    enum vfio_device_mig_state state);
enum vfio_device_mig_state fake_get_state(struct vfmig_fake *fake);

extern const struct vfmig_backend vfmig_fake_backend;

/* What vfmig_fake_stream_omit() leaves out. */
enum fake_omit {
	FAKE_OMIT_NONE,
	FAKE_OMIT_LAST_MEM,
	FAKE_OMIT_REGS,
};

u8 *vfmig_fake_stream(struct vfmig_fake *fake, u8 fill, size_t *len);
u8 *vfmig_fake_stream_omit(struct vfmig_fake *fake, u8 fill,
			   enum fake_omit omit, size_t *len);
ssize_t fake_write(struct kunit *test, struct file *file, const void *buf,
		   size_t len);
ssize_t fake_read(struct kunit *test, struct file *file, void *buf,
		  size_t len);
long fake_ioctl(struct kunit *test, struct file *file, unsigned int cmd,
		const void *arg, size_t len);
unsigned long fake_data_size(struct kunit *test, struct vfmig_fake *fake);
int vfmig_fake_pdevs_live(void);
bool fake_file_dead(struct file *file);
bool fake_file_saving(struct file *file);
#endif /* _VFMIG_KUNIT_FAKE_H */
