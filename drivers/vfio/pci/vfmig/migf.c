// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfmig data files.
 *
 * A saving file produces the stream one record at a time into a staging
 * buffer of one record (at most VFMIG_MAX_PAYLOAD bytes of payload) and
 * copies it out as userspace reads: the kernel never holds more than one
 * chunk of device memory. A resuming file copies userspace's bytes
 * straight into the parser's buffers and applies each record to the
 * function once its CRC checked.
 *
 * Every operation holds the file's io_lock and first checks, under the
 * file's lock, that the file is alive; device access re-checks it under
 * memory_lock, so a reset (which holds memory_lock while it disables the
 * file) is never raced by a half-done access. No user copy happens under
 * the device's state mutex or under memory_lock.
 */
#include <kunit/visibility.h>
#include <linux/anon_inodes.h>
#include <linux/bitmap.h>
#include <linux/pm_runtime.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>
#include <linux/vfio.h>

#include "compat.h"
#include "migf.h"

/* Data files allocated and not yet released, in all devices. */
static atomic_t vfmig_migf_count = ATOMIC_INIT(0);

/**
 * vfmig_migf_live() - how many data files exist
 *
 * Return: data files allocated and not yet released, for leak checks and
 * status.
 */
int vfmig_migf_live(void)
{
	return atomic_read(&vfmig_migf_count);
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_migf_live);

/**
 * vfmig_stream_id_init() - the identity streams of a function carry
 * @vdev: the device
 * @id: filled from the function's ids and probed BAR sizes
 */
void vfmig_stream_id_init(struct vfmig_device *vdev, struct vfmig_stream_id *id)
{
	struct pci_dev *pdev = vfmig_pdev(vdev);
	int i;

	memset(id, 0, sizeof(*id));
	id->backend_id = vdev->backend->id;
	id->vendor = pdev->vendor;
	id->device = pdev->device;
	id->subsystem_vendor = pdev->subsystem_vendor;
	id->subsystem_device = pdev->subsystem_device;
	for (i = 0; i < VFMIG_NUM_BARS; i++)
		id->bar_size[i] = vdev->bar_size[i];
	id->mem_bar = vdev->backend->mem_bar;
	id->regs_size = vdev->backend->regs_size;
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_stream_id_init);

/**
 * vfmig_info_text() - the text of a saving stream's INFO record
 * @vdev: the device
 * @buf: destination
 * @len: its size
 *
 * Return: the text's length.
 */
u32 vfmig_info_text(struct vfmig_device *vdev, char *buf, size_t len)
{
	return scnprintf(buf, len, "vfmig stream v%u; backend %s; kernel %s",
			 VFMIG_STREAM_VERSION, vdev->backend->name,
			 init_utsname()->release);
}

/* Record a sticky error; log it the first time. */
static void migf_set_error(struct vfmig_migf *migf, int err, const char *why)
{
	bool first;

	mutex_lock(&migf->lock);
	first = !migf->error && !migf->disabled;
	if (first)
		migf->error = err;
	mutex_unlock(&migf->lock);
	if (first) {
		vfmig_log_limited(migf->vdev, VFMIG_LOG_STREAM, pci_warn,
				  "vfmig: %s stream failed: %s (%d)\n",
				  migf->saving ? "saving" : "resuming", why, err);
		vfmig_note_error(migf->vdev, err, why);
	}
	wake_up_interruptible_all(&migf->wq);
}

/*
 * Error recovery cannot reach the files (it may not wait for the state
 * mutex that owns them): each operation looks at the channel itself.
 */
static void migf_check_channel(struct vfmig_migf *migf)
{
	if (READ_ONCE(migf->vdev->channel_failed))
		migf_set_error(migf, -EIO,
			       "the PCI channel failed (error recovery)");
}

/* Is the file usable? Its errno if not. */
static int migf_live(struct vfmig_migf *migf)
{
	int ret;

	migf_check_channel(migf);
	mutex_lock(&migf->lock);
	ret = migf->disabled ? -ENODEV : migf->error;
	mutex_unlock(&migf->lock);
	/*
	 * A reset the state mutex's holder has not applied yet has not
	 * disabled the file, but the function it describes is gone.
	 */
	if (ret != -ENODEV &&
	    atomic_read(&migf->vdev->reset_gen) != migf->reset_gen)
		ret = -ENODEV;
	return ret;
}

static int migf_io_lock(struct vfmig_migf *migf)
{
	if (migf->filp->f_flags & O_NONBLOCK) {
		if (!mutex_trylock(&migf->io_lock))
			return -EAGAIN;
		return 0;
	}
	return mutex_lock_killable(&migf->io_lock);
}

/*
 * End an operation. A dead file never lives again: its staging buffer
 * (a record, 1 MiB) and its load map go now, not when the last fd closes,
 * so files a reset killed under a VMM that keeps them open hold no memory.
 * Only here and under io_lock: the operations use them under that lock
 * alone, and the reset path must not wait for it (see vfmig.h).
 */
static void migf_io_unlock(struct vfmig_migf *migf)
{
	lockdep_assert_held(&migf->io_lock);
	if (migf->buf && migf_live(migf) == -ENODEV) {
		kvfree(migf->buf);
		migf->buf = NULL;
		kvfree(migf->mem_map);
		migf->mem_map = NULL;
		kvfree(migf->send);
		migf->send = NULL;
		vfmig_held(migf->vdev, -migf->held);
		migf->held = 0;
	}
	mutex_unlock(&migf->io_lock);
}

static int migf_gate(void *ctx)
{
	return migf_live(ctx);
}

/*
 * Device access on behalf of a file: only while the file is alive, and
 * with the function awake. The device's ioctls hold a runtime-PM
 * reference (vfio takes one around each), data files are read and written
 * outside any ioctl: after VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY the
 * function may be suspended, and the uAPI says a host access wakes it, as
 * vfio-pci-core's own region accesses do. Taken before memory_lock: the
 * runtime resume takes memory_lock itself.
 */
static int migf_access_begin(struct vfmig_migf *migf,
			     struct vfmig_access *acc)
{
	struct pci_dev *pdev = vfmig_pdev(migf->vdev);
	int ret;

	lockdep_assert_held(&migf->io_lock);
	ret = pm_runtime_resume_and_get(&pdev->dev);
	if (ret) {
		dev_warn_ratelimited(&pdev->dev, "vfmig: the function did not wake for a data file: %d\n",
				     ret);
		return -EIO;
	}
	ret = vfmig_access_begin(migf->vdev, acc, migf_gate, migf);
	if (ret)
		pm_runtime_put(&pdev->dev);
	return ret;
}

static void migf_access_end(struct vfmig_migf *migf, struct vfmig_access *acc)
{
	vfmig_access_end(migf->vdev, acc);
	pm_runtime_put(&vfmig_pdev(migf->vdev)->dev);
}

/**
 * vfmig_migf_disable() - kill a data file at once
 * @migf: the file
 *
 * Every later operation fails with -ENODEV and poll reports an error.
 * Safe in the reset path: takes only the file's lock. An operation in
 * flight stops at its next device access or when it ends.
 */
void vfmig_migf_disable(struct vfmig_migf *migf)
{
	mutex_lock(&migf->lock);
	migf->disabled = true;
	mutex_unlock(&migf->lock);
	wake_up_interruptible_all(&migf->wq);
}

/**
 * vfmig_migf_disable_sync() - kill a data file and wait for its operation
 * @migf: the file
 *
 * Like vfmig_migf_disable(), and returns only once no operation is in
 * flight; the file's buffers are freed. Must not be called from the reset
 * path (see vfmig.h).
 */
void vfmig_migf_disable_sync(struct vfmig_migf *migf)
{
	mutex_lock(&migf->io_lock);
	vfmig_migf_disable(migf);
	migf_io_unlock(migf);
}

static void migf_free(struct vfmig_migf *migf);

static int migf_release(struct inode *inode, struct file *filp)
{
	struct vfmig_migf *migf = filp->private_data;
	struct vfio_device *core_vdev = &migf->vdev->core_device.vdev;
	struct pci_dev *pdev = vfmig_pdev(migf->vdev);

	migf_free(migf);
	pci_dev_put(pdev);
	put_device(&core_vdev->device);
	return 0;
}

/* ---- saving ---- */

static void save_emit(struct vfmig_migf *migf, u16 type, u16 flags, u32 index,
		      u64 offset, u32 len)
{
	struct vfmig_record *rec = (struct vfmig_record *)migf->buf;

	vfmig_record_build(rec, type, flags, index, offset, migf->seq,
			   migf->buf + sizeof(*rec), len);
	migf->seq++;
	if (type != VFMIG_REC_END)
		migf->payload_bytes += len;
	migf->buf_len = sizeof(*rec) + len;
	migf->buf_pos = 0;
}

/* Largest run of pages one memory record carries. */
#define VFMIG_PAGES_PER_REC	(VFMIG_MAX_PAYLOAD / PAGE_SIZE)

static u64 save_mem_size(struct vfmig_migf *migf)
{
	return migf->id.bar_size[migf->id.mem_bar];
}

static u64 save_pages(struct vfmig_migf *migf)
{
	return DIV_ROUND_UP(save_mem_size(migf), PAGE_SIZE);
}

/*
 * Read [@off, @off + @len) of the memory BAR into a MEM record. Pages of
 * @send in that range were collected before this read, which follows the
 * round's zap (dirty.c): the copy covers their writes, so they are done.
 */
static int save_mem_range(struct vfmig_migf *migf, u64 off, u32 len)
{
	u8 *payload = migf->buf + sizeof(struct vfmig_record);
	struct vfmig_access acc;
	int ret;

	ret = migf_access_begin(migf, &acc);
	if (ret)
		return ret;
	vfmig_mem_read(migf->vdev, off, payload, len);
	migf_access_end(migf, &acc);
	if (migf->send)
		bitmap_clear(migf->send, off / PAGE_SIZE,
			     DIV_ROUND_UP(len, PAGE_SIZE));
	save_emit(migf, VFMIG_REC_MEM, VFMIG_REC_F_MANDATORY, migf->id.mem_bar,
		  off, len);
	return 0;
}

/* The whole-BAR pass: one record of up to VFMIG_MAX_PAYLOAD. 1: done. */
static int save_mem_all_chunk(struct vfmig_migf *migf)
{
	u64 size = save_mem_size(migf);
	u32 len = min_t(u64, size - migf->mem_off, VFMIG_MAX_PAYLOAD);
	int ret;

	ret = save_mem_range(migf, migf->mem_off, len);
	if (ret)
		return ret;
	migf->mem_off += len;
	return migf->mem_off == size;
}

/* The next run of dirty pages as one record. 1: none left. */
static int save_mem_dirty_chunk(struct vfmig_migf *migf)
{
	u64 pages = save_pages(migf), first, end, off;

	if (!migf->send)
		return 1;
	first = find_next_bit(migf->send, pages, migf->send_from);
	if (first >= pages)
		return 1;
	end = find_next_zero_bit(migf->send,
				 min(pages, first + VFMIG_PAGES_PER_REC), first);
	migf->send_from = end;
	off = first * PAGE_SIZE;
	return save_mem_range(migf, off,
			      min(end * PAGE_SIZE, save_mem_size(migf)) - off);
}

/*
 * Bytes of the MEM records that save_mem_dirty_chunk() makes of the set
 * pages of @bits in [0, @to): each run, cut every VFMIG_PAGES_PER_REC.
 */
static u64 save_runs_bytes(struct vfmig_migf *migf, const unsigned long *bits,
			   u64 to)
{
	u64 size = save_mem_size(migf), first, end, bytes = 0;

	if (!bits)
		return 0;
	for (first = find_next_bit(bits, to, 0); first < to;
	     first = find_next_bit(bits, to, end)) {
		end = find_next_zero_bit(bits, to, first);
		bytes += min(end * PAGE_SIZE, size) - first * PAGE_SIZE +
			 DIV_ROUND_UP(end - first, VFMIG_PAGES_PER_REC) *
			 sizeof(struct vfmig_record);
	}
	return bytes;
}

/* Bytes of the whole-BAR pass from @from on. */
static u64 save_all_bytes(struct vfmig_migf *migf, u64 from)
{
	u64 left = save_mem_size(migf) - from;

	return left + DIV_ROUND_UP(left, VFMIG_MAX_PAYLOAD) *
		      sizeof(struct vfmig_record);
}

/* The REGS and END records: what STOP_COPY adds to the memory. */
static u64 save_tail_bytes(struct vfmig_migf *migf)
{
	return 2 * sizeof(struct vfmig_record) + migf->id.regs_size +
	       sizeof(struct vfmig_end_payload);
}

/*
 * The bytes the file still yields, to EOF, if the device went to STOP_COPY
 * now with nothing more written: what is staged, what is left of the
 * whole-BAR pass, the pages in @send and the REGS and END records. With
 * the marks collected first, this is exact.
 */
static u64 save_bytes_left(struct vfmig_migf *migf)
{
	const u64 rec = sizeof(struct vfmig_record);
	u64 end = rec + sizeof(struct vfmig_end_payload);
	u64 tail = save_tail_bytes(migf);
	u64 staged = migf->buf_len - migf->buf_pos;
	u64 pages = save_pages(migf);

	switch (migf->step) {
	case VFMIG_SAVE_HEADER:
		return sizeof(struct vfmig_stream_header) + rec +
		       migf->info_len + save_all_bytes(migf, 0) + tail;
	case VFMIG_SAVE_INFO:
		return staged + rec + migf->info_len + save_all_bytes(migf, 0) +
		       tail;
	case VFMIG_SAVE_MEM_ALL:
		/* Pages ahead of the pass leave @send when it reads them. */
		return staged + save_all_bytes(migf, migf->mem_off) +
		       save_runs_bytes(migf, migf->send,
				       DIV_ROUND_UP(migf->mem_off, PAGE_SIZE)) +
		       tail;
	case VFMIG_SAVE_MEM_DIRTY:
	case VFMIG_SAVE_PRECOPY_END:
		return staged + save_runs_bytes(migf, migf->send, pages) + tail;
	case VFMIG_SAVE_REGS:
		return staged + tail;
	case VFMIG_SAVE_END:
		return staged + end;
	default:
		return staged;
	}
}

/*
 * End a PRE_COPY round: the pages written since the last one join @send,
 * and a file waiting at its temporary end has data again. Only while the
 * device is still in PRE_COPY(_P2P), under io_lock.
 */
static int save_collect(struct vfmig_migf *migf)
{
	int ret;

	lockdep_assert_held(&migf->io_lock);
	if (migf->stop_copy || !migf->send)
		return 0;
	ret = vfmig_dirty_collect(migf->vdev, migf->send);
	if (ret)
		return ret;
	migf->send_from = 0;
	if (migf->step == VFMIG_SAVE_PRECOPY_END &&
	    !bitmap_empty(migf->send, save_pages(migf))) {
		WRITE_ONCE(migf->step, VFMIG_SAVE_MEM_DIRTY);
		wake_up_interruptible_all(&migf->wq);
	}
	return 0;
}

static void save_set_step(struct vfmig_migf *migf, enum vfmig_save_step step)
{
	WRITE_ONCE(migf->step, step);
	if (step == VFMIG_SAVE_MEM_ALL)
		migf->mem_off = 0;
	if (step == VFMIG_SAVE_MEM_DIRTY)
		migf->send_from = 0;
}

/*
 * Stage the next record. Returns 0 with migf->buf_len > 0 (a record),
 * 0 with buf_len == 0 (end of stream), -ENOMSG (no more PRE_COPY data for
 * now) or an error.
 */
static int save_stage_next(struct vfmig_migf *migf)
{
	u8 *payload = migf->buf + sizeof(struct vfmig_record);
	struct vfmig_end_payload end;
	int ret;

	lockdep_assert_held(&migf->io_lock);
	migf->buf_len = 0;
	migf->buf_pos = 0;

	/* In STOP_COPY the last round's pages follow, then the registers. */
	if (migf->stop_copy && migf->step == VFMIG_SAVE_PRECOPY_END)
		save_set_step(migf, VFMIG_SAVE_MEM_DIRTY);

	switch (migf->step) {
	case VFMIG_SAVE_HEADER:
		vfmig_header_build((struct vfmig_stream_header *)migf->buf,
				   &migf->id);
		migf->buf_len = sizeof(struct vfmig_stream_header);
		save_set_step(migf, VFMIG_SAVE_INFO);
		return 0;
	case VFMIG_SAVE_INFO:
		memcpy(payload, migf->info, migf->info_len);
		save_emit(migf, VFMIG_REC_INFO, 0, 0, 0, migf->info_len);
		save_set_step(migf, VFMIG_SAVE_MEM_ALL);
		return 0;
	case VFMIG_SAVE_MEM_ALL:
		ret = save_mem_all_chunk(migf);
		if (ret < 0)
			return ret;
		if (ret)
			save_set_step(migf, VFMIG_SAVE_MEM_DIRTY);
		return 0;
	case VFMIG_SAVE_MEM_DIRTY:
		ret = save_mem_dirty_chunk(migf);
		if (ret <= 0)
			return ret;
		if (!migf->stop_copy) {
			save_set_step(migf, VFMIG_SAVE_PRECOPY_END);
			return -ENOMSG;
		}
		fallthrough;
	case VFMIG_SAVE_REGS:
		memcpy(payload, migf->regs, migf->id.regs_size);
		save_emit(migf, VFMIG_REC_REGS, VFMIG_REC_F_MANDATORY, 0, 0,
			  migf->id.regs_size);
		save_set_step(migf, VFMIG_SAVE_END);
		return 0;
	case VFMIG_SAVE_PRECOPY_END:
		return -ENOMSG;
	case VFMIG_SAVE_END:
		end.records = cpu_to_le64(migf->seq);
		end.payload_bytes = cpu_to_le64(migf->payload_bytes);
		memcpy(payload, &end, sizeof(end));
		save_emit(migf, VFMIG_REC_END, VFMIG_REC_F_MANDATORY, 0, 0,
			  sizeof(end));
		save_set_step(migf, VFMIG_SAVE_EOF);
		return 0;
	case VFMIG_SAVE_EOF:
	default:
		return 0;
	}
}

static ssize_t save_read(struct file *filp, char __user *ubuf, size_t len,
			 loff_t *pos)
{
	struct vfmig_migf *migf = filp->private_data;
	ssize_t done = 0;
	size_t n;
	int ret;

	if (pos)
		return -ESPIPE;
	ret = migf_io_lock(migf);
	if (ret)
		return ret;
	ret = migf_live(migf);
	while (!ret && len) {
		if (migf->buf_pos == migf->buf_len) {
			ret = save_stage_next(migf);
			if (ret || !migf->buf_len)
				break;
		}
		n = min(len, migf->buf_len - migf->buf_pos);
		if (copy_to_user(ubuf + done, migf->buf + migf->buf_pos, n)) {
			ret = -EFAULT;
			break;
		}
		migf->buf_pos += n;
		migf->consumed += n;
		done += n;
		len -= n;
	}
	if (ret && ret != -ENOMSG && ret != -EFAULT && ret != -ENODEV)
		migf_set_error(migf, ret, "reading the function's state");
	/*
	 * Disabled meanwhile (a reset during a device copy): what was read
	 * may be torn, so the whole read fails.
	 */
	if (migf_live(migf) == -ENODEV)
		ret = -ENODEV;
	if (done && ret != -ENODEV) {
		vfmig_account(migf->vdev, true, migf->consumed, done);
		/*
		 * The end's last byte: the STOP_COPY share is known. Only
		 * one read can get here: past the end save_stage_next()
		 * stages nothing, so every later read moves no byte.
		 */
		if (migf->step == VFMIG_SAVE_EOF &&
		    migf->buf_pos == migf->buf_len) {
			vfmig_note_stop_copy(migf->vdev,
					     migf->consumed - migf->sc_from,
					     ktime_to_ns(ktime_sub(ktime_get(),
								   migf->sc_start)));
		}
	}
	migf_io_unlock(migf);
	if (ret == -ENODEV)
		return ret;
	return done ? done : ret;
}

static __poll_t save_poll(struct file *filp, struct poll_table_struct *wait)
{
	struct vfmig_migf *migf = filp->private_data;
	enum vfmig_save_step step;
	__poll_t mask = 0;

	migf_check_channel(migf);
	poll_wait(filp, &migf->wq, wait);
	mutex_lock(&migf->lock);
	if (migf->disabled)
		mask = EPOLLERR | EPOLLHUP;
	else if (migf->error)
		mask = EPOLLERR;
	mutex_unlock(&migf->lock);
	if (mask)
		return mask;
	step = READ_ONCE(migf->step);
	if (step != VFMIG_SAVE_PRECOPY_END || READ_ONCE(migf->stop_copy))
		mask = EPOLLIN | EPOLLRDNORM;
	return mask;
}

static long save_precopy_info(struct vfmig_migf *migf, unsigned int cmd,
			      unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_precopy_info, dirty_bytes);
	struct pci_dev *pdev = vfmig_pdev(migf->vdev);
	struct vfio_precopy_info info;
	int ret;

	ret = vfmig_check_precopy_ioctl(&migf->vdev->core_device.vdev, cmd,
					arg, &info);
	if (ret == -EINVAL)
		dev_warn_ratelimited(&pdev->dev, "vfmig: PRECOPY_INFO argsz %u < %lu\n",
				     info.argsz, minsz);
	if (ret)
		return ret;
	ret = migf_io_lock(migf);
	if (ret)
		return ret;
	ret = migf_live(migf);
	if (!ret && (migf->stop_copy || !migf->precopy_size)) {
		dev_warn_ratelimited(&pdev->dev, "vfmig: PRECOPY_INFO outside PRE_COPY\n");
		ret = -EINVAL;
	}
	if (!ret)
		ret = save_collect(migf);
	if (!ret) {
		info.initial_bytes = migf->consumed < migf->precopy_size ?
				     migf->precopy_size - migf->consumed : 0;
		/*
		 * The pages written since the whole-BAR pass read them, as
		 * records, exactly: the marks were just collected.
		 */
		info.dirty_bytes = save_bytes_left(migf) - save_tail_bytes(migf) -
				   info.initial_bytes;
	}
	/*
	 * No output flags: never VFIO_PRECOPY_INFO_REINIT (the initial data
	 * never changes), and never the caller's own bits echoed back.
	 */
	info.flags = 0;
	migf_io_unlock(migf);
	if (ret)
		return ret;
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}

static long save_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	return save_precopy_info(filp->private_data, cmd, arg);
}

static const struct file_operations vfmig_save_fops = {
	.owner = THIS_MODULE,
	.read = save_read,
	.poll = save_poll,
	.unlocked_ioctl = save_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.release = migf_release,
};

static struct vfmig_migf *migf_alloc(struct vfmig_device *vdev, bool saving,
				     size_t buf_size)
{
	struct vfmig_migf *migf;

	migf = kzalloc(sizeof(*migf), GFP_KERNEL_ACCOUNT);
	if (!migf)
		return ERR_PTR(-ENOMEM);
	migf->buf = kvzalloc(buf_size, GFP_KERNEL_ACCOUNT);
	if (!migf->buf) {
		kfree(migf);
		return ERR_PTR(-ENOMEM);
	}
	atomic_inc(&vfmig_migf_count);
	migf->vdev = vdev;
	migf->held = buf_size;
	vfmig_held(vdev, buf_size);
	migf->saving = saving;
	migf->reset_gen = atomic_read(&vdev->reset_gen);
	mutex_init(&migf->io_lock);
	mutex_init(&migf->lock);
	init_waitqueue_head(&migf->wq);
	vfmig_stream_id_init(vdev, &migf->id);
	return migf;
}

static void migf_free(struct vfmig_migf *migf)
{
	kvfree(migf->buf);
	kvfree(migf->mem_map);
	kvfree(migf->send);
	vfmig_held(migf->vdev, -migf->held);
	mutex_destroy(&migf->io_lock);
	mutex_destroy(&migf->lock);
	kfree(migf);
	atomic_dec(&vfmig_migf_count);
}

static int migf_open_file(struct vfmig_migf *migf,
			  const struct file_operations *fops, int flags)
{
	migf->filp = anon_inode_getfile("vfmig_mig", fops, migf, flags);
	if (IS_ERR(migf->filp))
		return PTR_ERR(migf->filp);
	stream_open(migf->filp->f_inode, migf->filp);
	/*
	 * The file keeps the vfio device's memory alive; see vfmig.h. It
	 * also keeps the pci_dev: after a hot-removal the vfio device no
	 * longer pins its parent, and a file that outlives both still logs
	 * through it (PRECOPY_INFO, a failed save).
	 */
	get_device(&migf->vdev->core_device.vdev.device);
	pci_dev_get(vfmig_pdev(migf->vdev));
	return 0;
}

/* Snapshot the register block: the function is stopped from now on. */
static int save_snapshot_regs(struct vfmig_migf *migf)
{
	struct vfmig_device *vdev = migf->vdev;
	struct vfmig_access acc;
	int ret;

	ret = vfmig_access_begin(vdev, &acc, NULL, NULL);
	if (ret)
		return ret;
	ret = vdev->backend->save_regs(vdev, migf->regs);
	vfmig_access_end(vdev, &acc);
	return ret;
}

/**
 * vfmig_saving_create() - open a saving data file
 * @vdev: the device, state mutex held
 * @stop_copy: the device is entering STOP_COPY (else PRE_COPY)
 *
 * Return: the file's migf (the device owns one file reference), or an
 * ERR_PTR.
 */
struct vfmig_migf *vfmig_saving_create(struct vfmig_device *vdev,
				       bool stop_copy)
{
	struct vfmig_migf *migf;
	size_t size;
	int ret;

	lockdep_assert_held(&vdev->state_mutex);
	migf = migf_alloc(vdev, true,
			  sizeof(struct vfmig_record) + VFMIG_MAX_PAYLOAD);
	if (IS_ERR(migf))
		return migf;
	migf->info_len = vfmig_info_text(vdev, migf->info, sizeof(migf->info));
	migf->stop_copy = stop_copy;
	if (!stop_copy) {
		migf->precopy_size = sizeof(struct vfmig_stream_header) +
				     sizeof(struct vfmig_record) +
				     migf->info_len + save_all_bytes(migf, 0);
		size = BITS_TO_LONGS(save_pages(migf)) * sizeof(unsigned long);
		migf->send = kvzalloc(size, GFP_KERNEL_ACCOUNT);
		if (migf->send) {
			migf->held += size;
			vfmig_held(vdev, size);
		}
		ret = migf->send ? vfmig_dirty_start(vdev) : -ENOMEM;
		if (ret)
			goto out_free;
	} else {
		/* Opened stopped: the whole stream is the STOP_COPY share. */
		migf->sc_start = ktime_get();
		ret = save_snapshot_regs(migf);
		if (ret)
			goto out_free;
	}
	ret = migf_open_file(migf, &vfmig_save_fops, O_RDONLY);
	if (ret)
		goto out_free;
	return migf;
out_free:
	if (migf->send)
		vfmig_dirty_stop(vdev);
	migf_free(migf);
	return ERR_PTR(ret);
}

/**
 * vfmig_saving_stop_copy() - the device moves from PRE_COPY to STOP_COPY
 * @migf: its saving file
 *
 * Snapshots the registers of the now stopped function; the file then
 * yields the final memory pass, the registers and END.
 *
 * Return: 0, or a negative errno (the file is unchanged).
 */
int vfmig_saving_stop_copy(struct vfmig_migf *migf)
{
	struct vfmig_device *vdev = migf->vdev;
	ktime_t start = ktime_get();
	int ret;

	lockdep_assert_held(&vdev->state_mutex);
	mutex_lock(&migf->io_lock);
	ret = migf_live(migf);
	/* The last round: what the VM wrote before it stopped. */
	if (!ret)
		ret = save_collect(migf);
	if (!ret)
		ret = save_snapshot_regs(migf);
	if (!ret) {
		migf->stop_copy = true;
		migf->sc_from = migf->consumed;
		migf->sc_start = start;
		vfmig_dirty_stop(vdev);
	}
	migf_io_unlock(migf);
	wake_up_interruptible_all(&migf->wq);
	return ret;
}

/**
 * vfmig_saving_remaining() - what is left of a saving file's stream
 * @migf: the saving file, its device's state mutex held
 * @bytes: the bytes it yields to EOF if STOP_COPY came now (in
 *	STOP_COPY: the bytes it yields to EOF), counted after the pages
 *	written so far joined the stream
 *
 * Return: 0, or the file's errno when it is dead.
 */
int vfmig_saving_remaining(struct vfmig_migf *migf, u64 *bytes)
{
	int ret;

	lockdep_assert_held(&migf->vdev->state_mutex);
	mutex_lock(&migf->io_lock);
	ret = migf_live(migf);
	if (!ret)
		ret = save_collect(migf);
	if (!ret)
		*bytes = save_bytes_left(migf);
	migf_io_unlock(migf);
	return ret;
}

/* ---- resuming ---- */

static int resume_record(void *ctx, const struct vfmig_rec_info *rec,
			 const void *payload)
{
	struct vfmig_migf *migf = ctx;
	struct vfmig_access acc;
	int ret;

	if (rec->type == VFMIG_REC_REGS) {
		memcpy(migf->regs, payload, rec->length);
		migf->regs_seen = true;
		return 0;
	}
	ret = migf_access_begin(migf, &acc);
	if (ret)
		return ret;
	vfmig_mem_write(migf->vdev, rec->offset, payload, rec->length);
	migf_access_end(migf, &acc);
	bitmap_set(migf->mem_map, rec->offset / VFMIG_MEM_ALIGN,
		   DIV_ROUND_UP(rec->length, VFMIG_MEM_ALIGN));
	return 0;
}

/*
 * What a stream whose END record checked still lacks, or NULL. Asked when
 * END arrives, so that the write() that brought it fails: QEMU then fails
 * the incoming migration. A refusal only at RESUMING -> STOP comes too
 * late for QEMU (10.0 and 11.1 alike), which cannot fail a VM start on it:
 * it resets the function and runs the guest on without its device state.
 * vfmig_resuming_finish() asks again, defensively: every stream that
 * reaches END was asked by the write() that completed it.
 */
static const char *resume_missing(struct vfmig_migf *migf)
{
	u64 units = DIV_ROUND_UP(migf->id.bar_size[migf->id.mem_bar],
				 VFMIG_MEM_ALIGN);

	lockdep_assert_held(&migf->io_lock);
	if (!bitmap_full(migf->mem_map, units))
		return "the stream does not cover the whole memory BAR";
	if (!migf->regs_seen)
		return "the stream carries no register record";
	return NULL;
}

static ssize_t resume_write(struct file *filp, const char __user *ubuf,
			    size_t len, loff_t *pos)
{
	struct vfmig_migf *migf = filp->private_data;
	struct vfmig_parser *p = &migf->parser;
	ssize_t done = 0;
	size_t room, n;
	void *space;
	int ret;

	if (pos)
		return -ESPIPE;
	ret = migf_io_lock(migf);
	if (ret)
		return ret;
	ret = migf_live(migf);
	while (!ret && len) {
		space = vfmig_parser_space(p, &room);
		if (!room) {
			ret = vfmig_parser_extra(p);
			break;
		}
		n = min(len, room);
		if (copy_from_user(space, ubuf + done, n)) {
			ret = -EFAULT;
			break;
		}
		ret = vfmig_parser_commit(p, n);
		if (!ret) {
			done += n;
			len -= n;
		}
	}
	if (!ret && p->stage == VFMIG_PARSE_DONE) {
		const char *missing = resume_missing(migf);

		if (missing)
			ret = vfmig_parser_refuse(p, -EINVAL, missing);
	}
	if (p->error && ret == p->error)
		migf_set_error(migf, ret, p->why);
	/*
	 * write(2) reports what it took. Bytes the parser has cannot be given
	 * back, so a fault in the user buffer after some went in returns
	 * their count: a caller that goes on from there stays in step with
	 * the stream. A parser error is sticky and is returned as such.
	 */
	if (ret && done && !p->error)
		ret = 0;
	if (done && !ret)
		vfmig_account(migf->vdev, false, p->pos, done);
	migf_io_unlock(migf);
	return ret ? ret : done;
}

static __poll_t resume_poll(struct file *filp, struct poll_table_struct *wait)
{
	struct vfmig_migf *migf = filp->private_data;
	__poll_t mask;

	migf_check_channel(migf);
	poll_wait(filp, &migf->wq, wait);
	mutex_lock(&migf->lock);
	if (migf->disabled)
		mask = EPOLLERR | EPOLLHUP;
	else if (migf->error)
		mask = EPOLLERR;
	else
		mask = EPOLLOUT | EPOLLWRNORM;
	mutex_unlock(&migf->lock);
	return mask;
}

static const struct file_operations vfmig_resume_fops = {
	.owner = THIS_MODULE,
	.write = resume_write,
	.poll = resume_poll,
	.release = migf_release,
};

/**
 * vfmig_resuming_create() - open a resuming data file
 * @vdev: the device, state mutex held
 *
 * Return: the file's migf (the device owns one file reference), or an
 * ERR_PTR.
 */
struct vfmig_migf *vfmig_resuming_create(struct vfmig_device *vdev)
{
	struct vfmig_migf *migf;
	u64 units;
	int ret;

	lockdep_assert_held(&vdev->state_mutex);
	migf = migf_alloc(vdev, false, VFMIG_MAX_PAYLOAD);
	if (IS_ERR(migf))
		return migf;
	units = DIV_ROUND_UP(migf->id.bar_size[migf->id.mem_bar],
			     VFMIG_MEM_ALIGN);
	/*
	 * One bit per 4 KiB: 8 MiB for a 256 GiB BAR, more than kmalloc
	 * gives (bitmap_zalloc() failed, with a WARNING), so kvcalloc.
	 */
	migf->mem_map = kvcalloc(BITS_TO_LONGS(units), sizeof(unsigned long),
				 GFP_KERNEL_ACCOUNT);
	if (!migf->mem_map) {
		ret = -ENOMEM;
		goto out_free;
	}
	migf->held += BITS_TO_LONGS(units) * sizeof(unsigned long);
	vfmig_held(vdev, BITS_TO_LONGS(units) * sizeof(unsigned long));
	vfmig_parser_init(&migf->parser, &migf->id, migf->buf, resume_record,
			  migf);
	ret = migf_open_file(migf, &vfmig_resume_fops, O_WRONLY);
	if (ret)
		goto out_free;
	return migf;
out_free:
	migf_free(migf);
	return ERR_PTR(ret);
}

/**
 * vfmig_resuming_finish() - RESUMING -> STOP: check and complete the load
 * @migf: the resuming file
 *
 * The stream must have ended with its END record, covered the whole
 * memory BAR and carried the registers, which are then applied. The last
 * two are first checked when END arrives (resume_write()), where a
 * refusal fails the write() and QEMU can still fail the load.
 *
 * Return: 0, or a negative errno (-EINVAL for a bad stream), logged.
 */
int vfmig_resuming_finish(struct vfmig_migf *migf)
{
	struct vfmig_device *vdev = migf->vdev;
	const char *why = NULL;
	struct vfmig_access acc;
	int ret;

	lockdep_assert_held(&vdev->state_mutex);
	mutex_lock(&migf->io_lock);
	ret = migf_live(migf);
	if (ret) {
		why = migf->parser.error ? migf->parser.why : "the data file failed";
	} else {
		ret = vfmig_parser_finish(&migf->parser);
		if (ret)
			why = migf->parser.why;
	}
	/* resume_write() asked at END; asked again so that no path skips it. */
	if (!ret) {
		why = resume_missing(migf);
		if (why)
			ret = -EINVAL;
	}
	if (!ret && vfmig_fault_resume(vdev)) {
		ret = -EINVAL;
		why = "fault injection: the stream is refused on request";
	}
	if (!ret) {
		ret = vfmig_access_begin(vdev, &acc, NULL, NULL);
		if (!ret) {
			ret = vdev->backend->load_regs(vdev, migf->regs);
			vfmig_access_end(vdev, &acc);
		}
		if (ret)
			why = "the registers could not be loaded";
	}
	migf_io_unlock(migf);
	if (ret) {
		vfmig_log_limited(vdev, VFMIG_LOG_REFUSED, pci_warn,
				  "vfmig: RESUMING->STOP refused: %s (%d)\n", why,
				  ret);
		vfmig_note_error(vdev, ret, why);
	}
	return ret;
}
