// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfmig DMA logging: the VFIO_DEVICE_FEATURE_DMA_LOGGING_* reports of a
 * function that cannot write guest memory.
 *
 * Without an IOMMU that tracks dirty pages, and without a device that logs
 * its own DMA, QEMU's type1 container reports all guest RAM dirty at every
 * sync of a VM holding a VFIO device: it resends the whole RAM in every
 * round and at switchover. A family whose functions never initiate DMA
 * (struct vfmig_backend, @dma false: ivshmem-plain has no DMA engine) can
 * say so exactly: it dirties no guest page, so its report is empty and
 * QEMU then tracks guest RAM by the vCPUs' writes alone. A family that can
 * DMA must not get these operations (it would lose its writes), so probe
 * sets them only for @dma false.
 *
 * Only where the kernel can report at all: the report path walks the
 * user's bitmap with iova_bitmap, which is built with IOMMUFD_DRIVER;
 * without it the feature would exist and every report fail with
 * -EOPNOTSUPP, and QEMU fails the migration at its setup. Debian's kernels
 * (trixie's 6.12, sid's 7.2) build without IOMMUFD, so there vfmig offers
 * no DMA logging (Documentation/migration.rst says what that costs).
 */
#include <linux/interval_tree.h>
#include <linux/iova_bitmap.h>
#include <linux/vfio.h>

#include "vfmig.h"

#if IS_ENABLED(CONFIG_IOMMUFD_DRIVER)

static int vfmig_log_start(struct vfio_device *core_vdev,
			   struct rb_root_cached *ranges, u32 nnodes,
			   u64 *page_size)
{
	struct vfmig_device *vdev = to_vfmig(core_vdev);
	int ret = 0;

	mutex_lock(&vdev->state_mutex);
	/* The core keeps no state: a second start without a stop is refused. */
	if (vdev->dma_logging) {
		dev_warn_ratelimited(&vfmig_pdev(vdev)->dev,
				     "vfmig: DMA_LOGGING_START while logging: stop it first\n");
		ret = -EBUSY;
	} else {
		/* Any page size: nothing is ever reported at any size. */
		vdev->dma_logging = true;
	}
	vfmig_state_mutex_unlock(vdev);
	return ret;
}

static int vfmig_log_stop(struct vfio_device *core_vdev)
{
	struct vfmig_device *vdev = to_vfmig(core_vdev);

	mutex_lock(&vdev->state_mutex);
	vdev->dma_logging = false;
	vfmig_state_mutex_unlock(vdev);
	return 0;
}

static int vfmig_log_read_and_clear(struct vfio_device *core_vdev,
				    unsigned long iova, unsigned long length,
				    struct iova_bitmap *dirty)
{
	struct vfmig_device *vdev = to_vfmig(core_vdev);
	int ret = 0;

	mutex_lock(&vdev->state_mutex);
	if (!vdev->dma_logging) {
		dev_warn_ratelimited(&vfmig_pdev(vdev)->dev,
				     "vfmig: DMA_LOGGING_REPORT without DMA_LOGGING_START\n");
		ret = -EINVAL;
	}
	/* Logging: the function wrote no guest page, no bit to set. */
	if (!ret)
		atomic_inc(&vdev->dma_log_reports);
	vfmig_state_mutex_unlock(vdev);
	return ret;
}

static const struct vfio_log_ops vfmig_log_ops = {
	.log_start = vfmig_log_start,
	.log_stop = vfmig_log_stop,
	.log_read_and_clear = vfmig_log_read_and_clear,
};

/**
 * vfmig_dma_log_init() - offer DMA logging if the function cannot DMA
 * @vdev: the device, before vfio_pci_core_register_device()
 */
void vfmig_dma_log_init(struct vfmig_device *vdev)
{
	if (!vdev->backend->dma)
		vdev->core_device.vdev.log_ops = &vfmig_log_ops;
}

#else

void vfmig_dma_log_init(struct vfmig_device *vdev)
{
}

#endif /* CONFIG_IOMMUFD_DRIVER */
