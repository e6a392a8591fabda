/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfmig backend interface: the device-specific half of the driver.
 *
 * The vfmig core owns everything that is the same for every function it
 * drives: the vfio-pci-core plumbing, and (with migration) the state
 * machine, the locking and the data files. A backend knows one device
 * family: which BARs carry state and how to quiesce, stop, save and restore
 * it. A new family plugs in with one struct vfmig_backend and one id-table
 * entry whose driver_data points at it.
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
 * @probe: called once at bind time, before the vfio device is registered,
 *	with the function's config space and BARs described but not enabled.
 *	Checks the function is one the backend can drive (geometry, revision)
 *	and fills the backend's part of the device. Returns 0 or a negative
 *	errno, which fails the bind.
 */
struct vfmig_backend {
	const char *name;
	u32 id;
	int (*probe)(struct vfmig_device *vdev);
};

/* Stable backend ids. */
#define VFMIG_BACKEND_IVSHMEM	1

extern const struct vfmig_backend vfmig_ivshmem_backend;

#endif /* _VFMIG_BACKEND_H */
