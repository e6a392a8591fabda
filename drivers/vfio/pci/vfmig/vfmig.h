/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfmig: the per-function state shared by the core files and backends.
 *
 * Lock order (a lock may only be taken while holding those above it):
 *
 *	state_mutex		the migration state machine (fsm.c)
 *	  migf->io_lock		one data-file operation at a time (migf.c)
 *	    mmap_lock		user copies, only under io_lock
 *	    memory_lock		vfio-pci-core's BAR lock, for device access
 *				(read: a data file's copy, decoding on)
 *	      device lock	(trylock only) keeps resets out of an access
 *	        migf->lock	a data file's "disabled" flag and error
 *	      dirty_lock	(spinlock) the dirty-page bitmap (dirty.c);
 *				also taken in the BAR fault handler, under
 *				mmap_lock and memory_lock, and by the reset
 *				path; nothing is taken under it
 *
 * stats.lock and faults.lock (spinlocks, stats.c and fault_inject.c) are
 * leaves: taken from any context above, with nothing taken under them.
 *
 * A dirty round zaps the BAR's mappings (i_mmap_rwsem, page-table locks)
 * under migf->io_lock, after dropping dirty_lock.
 *
 * The reset path (reset_done) runs holding the device lock, and memory_lock
 * for writing when vfio resets; it reaches the state machine only through
 * mutex_trylock(state_mutex) and the reset_lock hand-off (reset.c), which is
 * why it never waits on a lock above memory_lock. It disables data files
 * under migf->lock alone.
 *
 * Error recovery (error_detected, resume) also runs holding the device
 * lock, below state_mutex in this order: it takes no vfmig lock at all.
 * error_detected raises @channel_failed, which every data-file operation
 * reads; resume hands a reset over as reset_done does.
 */
#ifndef _VFMIG_H
#define _VFMIG_H

#include <linux/mutex.h>
#include <linux/ratelimit.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <linux/vfio_pci_core.h>
#include <vfmig/backend.h>

#include "fault_inject.h"

struct vfmig_migf;
struct dentry;

/**
 * struct vfmig_stats - what the status file reports (stats.c)
 * @lock: protects @last_errno, @last_error and the STOP_COPY figures
 * @bytes_saved: bytes userspace read from saving files
 * @bytes_loaded: bytes userspace wrote to resuming files
 * @resets: resets of the function seen by reset_done
 * @arcs: arcs of the state machine taken (vfmig_set_state()), so that a
 *	client that must leave the function alone (QEMU's cpr-transfer)
 *	can be seen to have done so
 * @last_errno: the last error reported, or 0
 * @last_error: what it was
 * @stop_copy_bytes: the last saving file that reached its end: the bytes
 *	userspace read from it after the function stopped (its STOP_COPY
 *	share: what the VM's downtime had to carry), under @lock
 * @stop_copy_ns: and the time from the STOP_COPY arc to the end's last
 *	byte read, under @lock
 */
struct vfmig_stats {
	spinlock_t lock;	/* see @lock above */
	atomic64_t bytes_saved;
	atomic64_t bytes_loaded;
	atomic_t resets;
	atomic64_t arcs;
	int last_errno;
	char last_error[128];
	u64 stop_copy_bytes;
	u64 stop_copy_ns;
};

/**
 * enum vfmig_log - the log lines userspace can repeat at will
 * @VFMIG_LOG_STREAM: a data file failed (migf.c)
 * @VFMIG_LOG_REFUSED: RESUMING -> STOP refused a stream
 * @VFMIG_LOG_ERROR: the device entered ERROR
 * @VFMIG_LOG_BACKEND: a backend callback failed
 * @VFMIG_LOG_RESET: a reset or close ended a migration
 * @VFMIG_LOG_NR: how many
 *
 * Each has its own rate limit per device (vfmig_log_limited()): a VM
 * looping on one failure neither floods the log nor silences the first
 * line of another failure, or of another device, which is the line an
 * operator needs.
 */
enum vfmig_log {
	VFMIG_LOG_STREAM,
	VFMIG_LOG_REFUSED,
	VFMIG_LOG_ERROR,
	VFMIG_LOG_BACKEND,
	VFMIG_LOG_RESET,
	VFMIG_LOG_NR,
};

/* Per kind and device: a burst of 20 lines, then 20 per 5 s. */
#define VFMIG_LOG_INTERVAL	(5 * HZ)
#define VFMIG_LOG_BURST		20

/**
 * struct vfmig_device - a PCI function bound to vfmig
 * @core_device: the vfio-pci-core device; vfio allocates the whole
 *	structure around it.
 * @backend: the device family, from the id table's driver_data.
 * @backend_data: the backend's own per-function data, if it needs any.
 * @bar_size: size of each standard BAR as probed (0 if absent), so that
 *	streams can be checked against the geometry without touching the
 *	function.
 * @state_mutex: serializes the migration state machine and owns
 *	@mig_state, @saving_migf and @resuming_migf. Released only through
 *	vfmig_state_mutex_unlock().
 * @mig_state: the current migration state.
 * @saving_migf: the open saving data file (PRE_COPY, PRE_COPY_P2P,
 *	STOP_COPY), with a file reference, or NULL.
 * @resuming_migf: the open resuming data file (RESUMING) or NULL.
 * @reset_lock: protects @deferred_reset.
 * @deferred_reset: a reset happened while @state_mutex was held by
 *	someone else; the holder applies it when it unlocks. A bool of its
 *	own, never a bitfield sharing storage with fields under other locks.
 * @reset_gen: counts resets, raised by reset_done before anything else.
 *	A reset holds the device lock from the reset itself to reset_done,
 *	so under that lock the count is exact: a data file made before it
 *	changed belongs to a function that has since been reset, even when
 *	the reset is still deferred to the state mutex's holder.
 * @channel_failed: error recovery (AER, DPC, EEH) found the PCI channel
 *	frozen or dead: data files fail with -EIO from their next operation,
 *	and so do the state machine's device accesses, until the recovery's
 *	resume ends the migration. Set and read with no
 *	lock (error_detected runs under the device lock, which state-mutex
 *	holders may be waiting for); cleared only by vfmig_err_resume().
 * @dirty_lock: protects @dirty_bits and @dirty_pages; taken in the BAR
 *	mapping's fault handler, under mmap_lock and memory_lock, so
 *	nothing is taken under it (dirty.c)
 * @dirty_bits: one bit per page of the memory BAR written (or mapped)
 *	since the last round, while a saving file is in PRE_COPY; NULL when
 *	not tracking
 * @dirty_pages: the bitmap's size in pages
 * @dma_logging: userspace started DMA logging (dma_log.c); owned by
 *	@state_mutex
 * @dma_log_reports: DMA logging reports answered (debugfs status)
 * @held_bytes: kernel memory the driver holds for migration now: data
 *	files' buffers and bitmaps, the dirty bitmap (debugfs status)
 * @unbinding: the function is being unbound or removed. Set first thing
 *	by remove, which holds the device lock until the user closes the
 *	device: a device access waiting for that lock gives up (-ENODEV)
 *	instead of waiting for a close its own ioctl prevents.
 * @log_rs: rate limits of the lines in enum vfmig_log
 * @stats: counters and the last error (stats.c)
 * @debugfs_dir: the device's debugfs directory, or NULL (debugfs.c)
 * @faults: the faults requested (fault_inject.h; empty unless
 *	CONFIG_VFMIG_FAULT_INJECTION)
 */
struct vfmig_device {
	struct vfio_pci_core_device core_device;
	const struct vfmig_backend *backend;
	void *backend_data;
	resource_size_t bar_size[PCI_STD_NUM_BARS];

	struct mutex state_mutex;	/* see @state_mutex above */
	enum vfio_device_mig_state mig_state;
	struct vfmig_migf *saving_migf;
	struct vfmig_migf *resuming_migf;

	spinlock_t reset_lock;		/* see @reset_lock above */
	bool deferred_reset;
	atomic_t reset_gen;
	bool channel_failed;
	bool unbinding;

	spinlock_t dirty_lock;		/* see @dirty_lock above */
	unsigned long *dirty_bits;
	u64 dirty_pages;
	bool dma_logging;
	atomic_t dma_log_reports;
	atomic64_t held_bytes;

	struct ratelimit_state log_rs[VFMIG_LOG_NR];
	struct vfmig_stats stats;
	struct dentry *debugfs_dir;
	struct vfmig_faults faults;
};

static inline struct pci_dev *vfmig_pdev(struct vfmig_device *vdev)
{
	return vdev->core_device.pdev;
}

static inline struct vfmig_device *to_vfmig(struct vfio_device *core_vdev)
{
	return container_of(core_vdev, struct vfmig_device, core_device.vdev);
}

/*
 * vfmig_log_limited() - a log line of kind @kind (enum vfmig_log), through
 * @pci_fn (pci_warn, pci_err, pci_info), within that kind's rate limit.
 */
#define vfmig_log_limited(vdev, kind, pci_fn, fmt, ...)			\
	do {								\
		struct vfmig_device *__vd = (vdev);			\
									\
		if (__ratelimit(&__vd->log_rs[kind]))			\
			pci_fn(vfmig_pdev(__vd), fmt, ##__VA_ARGS__);	\
	} while (0)

/* Pages of the memory BAR, the unit of dirty tracking. */
static inline u64 vfmig_mem_pages(struct vfmig_device *vdev)
{
	return DIV_ROUND_UP(vdev->bar_size[vdev->backend->mem_bar], PAGE_SIZE);
}

/* Account @delta bytes of migration memory to @vdev (held_bytes). */
static inline void vfmig_held(struct vfmig_device *vdev, s64 delta)
{
	atomic64_add(delta, &vdev->held_bytes);
}

/* dma_log.c */
void vfmig_dma_log_init(struct vfmig_device *vdev);

/* dirty.c */
void vfmig_dirty_init(struct vfmig_device *vdev);
bool vfmig_dirty_tracking(struct vfmig_device *vdev);
void vfmig_dirty_mark(struct vfmig_device *vdev, u64 offset, u64 len);
int vfmig_dirty_start(struct vfmig_device *vdev);
void vfmig_dirty_stop(struct vfmig_device *vdev);
int vfmig_dirty_collect(struct vfmig_device *vdev, unsigned long *into);
u64 vfmig_dirty_weight(struct vfmig_device *vdev);
int vfmig_mmap(struct vfio_device *core_vdev, struct vm_area_struct *vma);
ssize_t vfmig_write(struct vfio_device *core_vdev, const char __user *buf,
		    size_t count, loff_t *ppos);

/* fsm.c */
extern const struct vfio_migration_ops vfmig_mig_ops;
const char *vfmig_state_name(enum vfio_device_mig_state state);
void vfmig_mig_init(struct vfmig_device *vdev);
void vfmig_mig_uninit(struct vfmig_device *vdev);

/* reset.c */
void vfmig_state_mutex_unlock(struct vfmig_device *vdev);
void vfmig_reset_state(struct vfmig_device *vdev);
enum vfio_device_mig_state vfmig_state_now(struct vfmig_device *vdev);
int vfmig_reset_ioctl(struct vfmig_device *vdev);
void vfmig_close_migration(struct vfmig_device *vdev);
void vfmig_reset_done(struct pci_dev *pdev);
void vfmig_err_resume(struct pci_dev *pdev);
pci_ers_result_t vfmig_error_detected(struct pci_dev *pdev,
				      pci_channel_state_t state);

/* debugfs.c */
void vfmig_debugfs_init(void);
void vfmig_debugfs_exit(void);
void vfmig_debugfs_add(struct vfmig_device *vdev);
void vfmig_debugfs_remove(struct vfmig_device *vdev);

/* stats.c */
void vfmig_stats_init(struct vfmig_device *vdev);
void vfmig_note_error(struct vfmig_device *vdev, int err, const char *why);
void vfmig_account(struct vfmig_device *vdev, bool saving, u64 total, u64 n);
void vfmig_note_stop_copy(struct vfmig_device *vdev, u64 bytes, u64 ns);

/**
 * struct vfmig_access - one access to the state BARs (device.c)
 * @cmd: the command register as it was, restored at the end
 * @shared: memory_lock is held for reading, not writing
 */
struct vfmig_access {
	u16 cmd;
	bool shared;
};

/* device.c: access to the function's state BARs */
int vfmig_access_begin(struct vfmig_device *vdev, struct vfmig_access *acc,
		       int (*gate)(void *ctx), void *ctx);
void vfmig_access_end(struct vfmig_device *vdev, struct vfmig_access *acc);
void vfmig_unbind_begin(struct vfmig_device *vdev);
void vfmig_mem_read(struct vfmig_device *vdev, u64 offset, void *buf,
		    size_t len);
void vfmig_mem_write(struct vfmig_device *vdev, u64 offset, const void *buf,
		     size_t len);
int vfmig_map_state_bars(struct vfmig_device *vdev);
void __iomem *vfmig_regs_bar(struct vfmig_device *vdev);

#endif /* _VFMIG_H */
