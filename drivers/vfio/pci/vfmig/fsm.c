// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfmig migration state machine: the vfio_migration_ops.
 *
 * SET_STATE walks vfio_mig_get_next_state() one arc at a time, under the
 * state mutex, and vfmig_step() carries out exactly one arc. The backend
 * is asked to quiesce (P2P), stop and restart the function; the data files
 * are opened on the arcs into PRE_COPY, STOP_COPY and RESUMING, and
 * closed on the arcs out of them.
 *
 * ERROR policy (Documentation/migration.rst):
 *  - A request the uAPI forbids (ERROR, anything while in ERROR,
 *    STOP_COPY -> PRE_COPY*, a state needing an unadvertised feature)
 *    fails with -EINVAL before any arc runs: the state is unchanged.
 *  - An arc that fails with the function as it was (backend callbacks are
 *    atomic, a data file could not be allocated) fails the request; the
 *    state is the last one reached, data files as they were.
 *  - An arc that fails leaving the function in an unknown state (a backend
 *    callback returned -EIO, or a roll-back failed: the "unknown" flag of
 *    vfmig_step(), never a bare errno) and a refused RESUMING -> STOP (the
 *    function holds part of a stream) move to ERROR and kill every data
 *    file. Only a reset (VFIO_DEVICE_RESET, also on a function without a
 *    PCI reset method: vfmig_reset_ioctl(); a bus or function reset;
 *    closing the device) leaves ERROR, to RUNNING.
 */
#include <kunit/visibility.h>
#include <linux/file.h>
#include <linux/vfio.h>

#include "migf.h"

static const char * const vfmig_state_names[] = {
	[VFIO_DEVICE_STATE_ERROR] = "ERROR",
	[VFIO_DEVICE_STATE_STOP] = "STOP",
	[VFIO_DEVICE_STATE_RUNNING] = "RUNNING",
	[VFIO_DEVICE_STATE_STOP_COPY] = "STOP_COPY",
	[VFIO_DEVICE_STATE_RESUMING] = "RESUMING",
	[VFIO_DEVICE_STATE_RUNNING_P2P] = "RUNNING_P2P",
	[VFIO_DEVICE_STATE_PRE_COPY] = "PRE_COPY",
	[VFIO_DEVICE_STATE_PRE_COPY_P2P] = "PRE_COPY_P2P",
};

/**
 * vfmig_state_name() - a migration state's name, for logs
 * @state: the state
 *
 * Return: its uAPI name, or "?" for a value that is no state.
 */
const char *vfmig_state_name(enum vfio_device_mig_state state)
{
	if ((unsigned int)state >= ARRAY_SIZE(vfmig_state_names))
		return "?";
	return vfmig_state_names[state];
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_state_name);

static void vfmig_drop_saving(struct vfmig_device *vdev)
{
	vfmig_dirty_stop(vdev);
	vfmig_migf_disable_sync(vdev->saving_migf);
	fput(vdev->saving_migf->filp);
	vdev->saving_migf = NULL;
}

static void vfmig_drop_resuming(struct vfmig_device *vdev)
{
	vfmig_migf_disable_sync(vdev->resuming_migf);
	fput(vdev->resuming_migf->filp);
	vdev->resuming_migf = NULL;
}

/* The function's state is unknown: ERROR, with every data file dead. */
static void vfmig_enter_error(struct vfmig_device *vdev, const char *why)
{
	lockdep_assert_held(&vdev->state_mutex);
	vfmig_log_limited(vdev, VFMIG_LOG_ERROR, pci_err,
			  "vfmig: %s: device state is now ERROR, reset it to recover\n",
			  why);
	if (vdev->saving_migf)
		vfmig_drop_saving(vdev);
	if (vdev->resuming_migf)
		vfmig_drop_resuming(vdev);
	vdev->mig_state = VFIO_DEVICE_STATE_ERROR;
}

/*
 * One backend callback; optional ones that are absent succeed. A backend
 * returns -EIO when it cannot promise the function is as it was (struct
 * vfmig_backend): that, and only that, makes the state unknown. Other
 * sources of -EIO (a data file's sticky error, an access to a function not
 * in D0) leave the function as it was, so the state is a flag of its own.
 */
static int vfmig_call(struct vfmig_device *vdev,
		      int (*op)(struct vfmig_device *vdev), const char *what,
		      bool *unknown)
{
	int ret;

	if (!op)
		return 0;
	ret = op(vdev);
	if (ret) {
		vfmig_log_limited(vdev, VFMIG_LOG_BACKEND, pci_warn,
				  "vfmig: %s backend: %s failed: %d\n",
				  vdev->backend->name, what, ret);
		vfmig_note_error(vdev, ret, "a backend callback failed");
		if (ret == -EIO)
			*unknown = true;
	}
	return ret;
}

/*
 * Run @first then @second; if @second fails, undo @first with @undo. Used
 * by the arcs that merge two steps when P2P is not advertised, and by the
 * arcs into STOP_COPY. Returns 0 or the errno of what failed; -EIO, with
 * *@unknown set, if the roll-back failed too.
 */
static int vfmig_call_pair(struct vfmig_device *vdev,
			   int (*first)(struct vfmig_device *vdev),
			   const char *first_what,
			   int (*second)(struct vfmig_device *vdev),
			   const char *second_what,
			   int (*undo)(struct vfmig_device *vdev),
			   const char *undo_what, bool *unknown)
{
	int ret;

	ret = vfmig_call(vdev, first, first_what, unknown);
	if (ret)
		return ret;
	ret = vfmig_call(vdev, second, second_what, unknown);
	if (ret && vfmig_call(vdev, undo, undo_what, unknown)) {
		*unknown = true;
		ret = -EIO;
	}
	return ret;
}

static struct file *vfmig_open_saving(struct vfmig_device *vdev,
				      bool stop_copy)
{
	struct vfmig_migf *migf;

	migf = vfmig_saving_create(vdev, stop_copy);
	if (IS_ERR(migf))
		return ERR_CAST(migf);
	vdev->saving_migf = migf;
	get_file(migf->filp);
	return migf->filp;
}

/*
 * PRE_COPY(_P2P) -> STOP_COPY: stop the function, then the final pass. A
 * saving file that fails (its sticky error, a reset, a function that left
 * D0) restarts the function: the device stays in PRE_COPY(_P2P), known.
 */
static int vfmig_precopy_to_stop_copy(struct vfmig_device *vdev, bool p2p,
				      bool *unknown)
{
	const struct vfmig_backend *be = vdev->backend;
	int ret;

	if (p2p)
		ret = vfmig_call(vdev, be->stop, "stop", unknown);
	else
		ret = vfmig_call_pair(vdev, be->quiesce, "quiesce", be->stop,
				      "stop", be->unquiesce, "unquiesce",
				      unknown);
	if (ret)
		return ret;
	ret = vfmig_saving_stop_copy(vdev->saving_migf);
	if (!ret)
		return 0;
	if (p2p ? vfmig_call(vdev, be->start, "start", unknown) :
		  vfmig_call_pair(vdev, be->start, "start", be->unquiesce,
				  "unquiesce", NULL, NULL, unknown)) {
		*unknown = true;
		return -EIO;
	}
	return ret;
}

/*
 * One arc, from vdev->mig_state to @new. Returns the data file the arc
 * opens, NULL, or an ERR_PTR; the caller records the new state.
 */
static struct file *vfmig_step(struct vfmig_device *vdev,
			       enum vfio_device_mig_state new)
{
	const struct vfmig_backend *be = vdev->backend;
	enum vfio_device_mig_state cur = vdev->mig_state;
	struct vfmig_migf *migf;
	bool unknown = false;
	int ret;

	lockdep_assert_held(&vdev->state_mutex);

	ret = vfmig_fault_arc(vdev, cur, new);
	if (ret) {
		vfmig_note_error(vdev, ret, "fault injection: the arc failed on request");
		if (ret == -EIO)
			vfmig_enter_error(vdev, "fault injection");
		return ERR_PTR(ret);
	}
	ret = -EINVAL;

#define ARC(from, to) \
	(cur == VFIO_DEVICE_STATE_##from && new == VFIO_DEVICE_STATE_##to)

	if (ARC(RUNNING, RUNNING_P2P) || ARC(PRE_COPY, PRE_COPY_P2P)) {
		ret = vfmig_call(vdev, be->quiesce, "quiesce", &unknown);
	} else if (ARC(RUNNING_P2P, RUNNING) || ARC(PRE_COPY_P2P, PRE_COPY)) {
		ret = vfmig_call(vdev, be->unquiesce, "unquiesce", &unknown);
	} else if (ARC(RUNNING_P2P, STOP)) {
		ret = vfmig_call(vdev, be->stop, "stop", &unknown);
	} else if (ARC(STOP, RUNNING_P2P)) {
		ret = vfmig_call(vdev, be->start, "start", &unknown);
	} else if (ARC(RUNNING, STOP)) {
		ret = vfmig_call_pair(vdev, be->quiesce, "quiesce", be->stop,
				      "stop", be->unquiesce, "unquiesce", &unknown);
	} else if (ARC(STOP, RUNNING)) {
		ret = vfmig_call_pair(vdev, be->start, "start", be->unquiesce,
				      "unquiesce", be->stop, "stop",
				      &unknown);
	} else if (ARC(RUNNING, PRE_COPY) || ARC(RUNNING_P2P, PRE_COPY_P2P)) {
		return vfmig_open_saving(vdev, false);
	} else if (ARC(STOP, STOP_COPY)) {
		return vfmig_open_saving(vdev, true);
	} else if (ARC(PRE_COPY_P2P, STOP_COPY) || ARC(PRE_COPY, STOP_COPY)) {
		ret = vfmig_precopy_to_stop_copy(vdev, cur ==
						 VFIO_DEVICE_STATE_PRE_COPY_P2P,
						 &unknown);
	} else if (ARC(STOP_COPY, STOP) || ARC(PRE_COPY, RUNNING) ||
		   ARC(PRE_COPY_P2P, RUNNING_P2P)) {
		vfmig_drop_saving(vdev);
		ret = 0;
	} else if (ARC(STOP, RESUMING)) {
		migf = vfmig_resuming_create(vdev);
		if (IS_ERR(migf))
			return ERR_CAST(migf);
		vdev->resuming_migf = migf;
		get_file(migf->filp);
		return migf->filp;
	} else if (ARC(RESUMING, STOP)) {
		ret = vfmig_resuming_finish(vdev->resuming_migf);
		if (ret) {
			vfmig_enter_error(vdev, "the migration stream was refused");
			return ERR_PTR(ret);
		}
		vfmig_drop_resuming(vdev);
	} else {
		pci_warn(vfmig_pdev(vdev), "vfmig: no arc %s -> %s\n",
			 vfmig_state_name(cur), vfmig_state_name(new));
	}
#undef ARC

	if (unknown)
		vfmig_enter_error(vdev, "a failed arc left the function in an unknown state");
	return ret ? ERR_PTR(ret) : NULL;
}

/* The requests the uAPI forbids, refused before any arc. */
static bool vfmig_request_ok(struct vfmig_device *vdev,
			     enum vfio_device_mig_state new)
{
	enum vfio_device_mig_state cur = vdev->mig_state;
	struct pci_dev *pdev = vfmig_pdev(vdev);

	if (new == VFIO_DEVICE_STATE_ERROR ||
	    (unsigned int)new >= ARRAY_SIZE(vfmig_state_names)) {
		dev_warn_ratelimited(&pdev->dev, "vfmig: state %u cannot be requested\n",
				     new);
		return false;
	}
	/*
	 * vfio_mig_get_next_state() WARNs from ERROR, and before a 2026 fix
	 * looped for ever on arcs its table marks ERROR: refuse both here.
	 */
	if (cur == VFIO_DEVICE_STATE_ERROR) {
		dev_warn_ratelimited(&pdev->dev, "vfmig: device is in ERROR, %s refused: reset it first\n",
				     vfmig_state_name(new));
		return false;
	}
	if (cur == VFIO_DEVICE_STATE_STOP_COPY &&
	    (new == VFIO_DEVICE_STATE_PRE_COPY ||
	     new == VFIO_DEVICE_STATE_PRE_COPY_P2P)) {
		dev_warn_ratelimited(&pdev->dev, "vfmig: STOP_COPY -> %s is not a valid request\n",
				     vfmig_state_name(new));
		return false;
	}
	return true;
}

static struct file *vfmig_set_state(struct vfio_device *core_vdev,
				    enum vfio_device_mig_state new)
{
	struct vfmig_device *vdev = to_vfmig(core_vdev);
	enum vfio_device_mig_state next;
	struct file *res = NULL;
	int ret;

	mutex_lock(&vdev->state_mutex);
	if (!vfmig_request_ok(vdev, new)) {
		res = ERR_PTR(-EINVAL);
		goto out;
	}
	while (vdev->mig_state != new) {
		ret = vfio_mig_get_next_state(core_vdev, vdev->mig_state, new,
					      &next);
		if (ret) {
			dev_warn_ratelimited(&vfmig_pdev(vdev)->dev,
					     "vfmig: no path %s -> %s\n",
					     vfmig_state_name(vdev->mig_state),
					     vfmig_state_name(new));
			res = ERR_PTR(ret);
			break;
		}
		res = vfmig_step(vdev, next);
		pci_dbg(vfmig_pdev(vdev), "vfmig: %s -> %s: %ld\n",
			vfmig_state_name(vdev->mig_state),
			vfmig_state_name(next), IS_ERR(res) ? PTR_ERR(res) : 0);
		if (IS_ERR(res))
			break;
		vdev->mig_state = next;
		atomic64_inc(&vdev->stats.arcs);
		/* The core never puts a state with a data file mid-path. */
		if (WARN_ON(res && next != new)) {
			fput(res);
			res = ERR_PTR(-EINVAL);
			break;
		}
	}
out:
	vfmig_state_mutex_unlock(vdev);
	return res;
}

static int vfmig_get_state(struct vfio_device *core_vdev,
			   enum vfio_device_mig_state *curr_state)
{
	struct vfmig_device *vdev = to_vfmig(core_vdev);

	mutex_lock(&vdev->state_mutex);
	*curr_state = vfmig_state_now(vdev);
	vfmig_state_mutex_unlock(vdev);
	return 0;
}

static int vfmig_get_data_size(struct vfio_device *core_vdev,
			       unsigned long *stop_copy_length)
{
	struct vfmig_device *vdev = to_vfmig(core_vdev);
	struct vfmig_stream_id id;
	char info[VFMIG_INFO_MAX];
	u64 left = 0;
	u32 info_len;
	int ret = -ENODEV;

	/*
	 * A saving file: what it still yields to EOF if STOP_COPY came now
	 * (after PRE_COPY, only the pages written since they were read).
	 * Otherwise a full STOP_COPY stream.
	 */
	mutex_lock(&vdev->state_mutex);
	if (vdev->saving_migf)
		ret = vfmig_saving_remaining(vdev->saving_migf, &left);
	vfmig_state_mutex_unlock(vdev);
	if (!ret) {
		*stop_copy_length = left;
		return 0;
	}
	vfmig_stream_id_init(vdev, &id);
	info_len = vfmig_info_text(vdev, info, sizeof(info));
	*stop_copy_length = vfmig_stream_full_size(&id, info_len);
	return 0;
}

const struct vfio_migration_ops vfmig_mig_ops = {
	.migration_set_state = vfmig_set_state,
	.migration_get_state = vfmig_get_state,
	.migration_get_data_size = vfmig_get_data_size,
};

/**
 * vfmig_mig_init() - set up migration for a device being probed
 * @vdev: the device, before vfio_pci_core_register_device()
 */
void vfmig_mig_init(struct vfmig_device *vdev)
{
	int i;

	mutex_init(&vdev->state_mutex);
	spin_lock_init(&vdev->reset_lock);
	atomic_set(&vdev->reset_gen, 0);
	atomic64_set(&vdev->held_bytes, 0);
	for (i = 0; i < VFMIG_LOG_NR; i++)
		ratelimit_state_init(&vdev->log_rs[i], VFMIG_LOG_INTERVAL,
				     VFMIG_LOG_BURST);
	vfmig_stats_init(vdev);
	vfmig_faults_init(vdev);
	vfmig_dirty_init(vdev);
	vdev->mig_state = VFIO_DEVICE_STATE_RUNNING;
	vdev->core_device.vdev.migration_flags = VFIO_MIGRATION_STOP_COPY |
						 VFIO_MIGRATION_P2P |
						 VFIO_MIGRATION_PRE_COPY;
	vdev->core_device.vdev.mig_ops = &vfmig_mig_ops;
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_mig_init);

/**
 * vfmig_mig_uninit() - undo vfmig_mig_init()
 * @vdev: the device, being released
 */
void vfmig_mig_uninit(struct vfmig_device *vdev)
{
	mutex_destroy(&vdev->state_mutex);
}
