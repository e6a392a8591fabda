/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfmig backend interface: the device-specific half of the driver.
 *
 * The vfmig core owns everything that is the same for every function it
 * drives: the vfio-pci-core plumbing, the migration state machine, the
 * locking, the data files and the stream format. A backend knows one
 * device family: which BAR holds device memory, which registers carry
 * state and how to quiesce, stop and restart the function. A new family
 * plugs in with one struct vfmig_backend and one id-table entry whose
 * driver_data points at it.
 *
 * The state of a function, as the core moves it, is the whole content of
 * one memory BAR (@mem_bar, read and written by the core in chunks) plus a
 * small register block (@regs_size bytes, read and written by the backend).
 */
#ifndef _VFMIG_BACKEND_H
#define _VFMIG_BACKEND_H

#include <linux/types.h>

struct vfmig_device;

/**
 * struct vfmig_backend - one device family
 * @name: short name, shown in logs.
 * @id: stable number identifying the family; never reused, so that a saved
 *	state can be matched with the backend that understands it.
 * @mem_bar: the BAR whose whole content is device memory state.
 * @regs_bar: the BAR holding the registers @save_regs and @load_regs use.
 * @regs_size: bytes of register state, at most 4096.
 * @dma: the function can initiate DMA (write guest memory). A family
 *	that cannot (false) gets vfmig's DMA logging, whose reports are
 *	empty, so that QEMU need not treat all guest RAM as dirty; a family
 *	that can must set this until it logs its own writes.
 * @probe: called once at bind time, before the vfio device is registered.
 *	Checks the function is one the backend can drive (geometry,
 *	revision). Returns 0 or a negative errno, which fails the bind.
 * @quiesce: optional; RUNNING -> RUNNING_P2P: the function stops
 *	initiating DMA and peer-to-peer traffic but still answers MMIO.
 * @unquiesce: optional; RUNNING_P2P -> RUNNING: undo @quiesce.
 * @stop: optional; RUNNING_P2P -> STOP: the function stops changing its
 *	own state.
 * @start: optional; STOP -> RUNNING_P2P: undo @stop.
 * @save_regs: read the register block into @buf (@regs_size bytes), with
 *	the function stopped and its memory decoding on. Reads must not
 *	change the function's state (undo read-to-clear effects).
 * @load_regs: check and apply a register block saved by @save_regs, with
 *	the function stopped and its memory decoding on. Returns -EINVAL
 *	(and logs why) for values the function cannot take.
 * @reset: optional; put the state the function carries (what @save_regs
 *	and the memory BAR hold) to what a function reset leaves, without a
 *	PCI reset, for a function that has no reset method (a root-bus or
 *	shared-bridge function without FLR or PM reset): VFIO_DEVICE_RESET
 *	then leaves ERROR through it. Runs as @load_regs does. Leave it NULL
 *	unless the family's reset is exactly that: such a function then
 *	leaves ERROR only when the device is closed.
 *
 * The optional transition callbacks must be atomic: on error the function
 * is as it was. A callback that cannot guarantee that returns -EIO, and
 * the core moves the device to ERROR. All callbacks run under the
 * device's state mutex; @save_regs and @load_regs also hold the vfio
 * memory lock for writing.
 */
struct vfmig_backend {
	const char *name;
	u32 id;
	int mem_bar;
	int regs_bar;
	size_t regs_size;
	bool dma;
	int (*probe)(struct vfmig_device *vdev);
	int (*quiesce)(struct vfmig_device *vdev);
	int (*unquiesce)(struct vfmig_device *vdev);
	int (*stop)(struct vfmig_device *vdev);
	int (*start)(struct vfmig_device *vdev);
	int (*save_regs)(struct vfmig_device *vdev, void *buf);
	int (*load_regs)(struct vfmig_device *vdev, const void *buf);
	int (*reset)(struct vfmig_device *vdev);
};

/* Stable backend ids, as written in stream headers. */
#define VFMIG_BACKEND_IVSHMEM	1

extern const struct vfmig_backend vfmig_ivshmem_backend;

#endif /* _VFMIG_BACKEND_H */
