// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfmig: a vfio-pci variant driver that gives PCI functions VFIO live
 * migration. This file is the PCI and vfio glue: probe, remove, open,
 * close and the vfio_device_ops every vfio-pci-core variant driver has.
 * The device-specific part lives behind struct vfmig_backend.
 *
 * Functions are bound with driver_override only (the id table uses
 * PCI_DRIVER_OVERRIDE_DEVICE_VFIO), as every variant driver is, so loading
 * the module never takes a device from its native driver.
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

#include "compat.h"
#include "migf.h"

static int vfmig_open_device(struct vfio_device *core_vdev)
{
	struct vfmig_device *vdev = to_vfmig(core_vdev);
	int ret;

	ret = vfio_pci_core_enable(&vdev->core_device);
	if (ret)
		return ret;
	ret = vfmig_map_state_bars(vdev);
	if (ret) {
		vfio_pci_core_disable(&vdev->core_device);
		return ret;
	}
	vfio_pci_core_finish_enable(&vdev->core_device);
	return 0;
}

static void vfmig_close_device(struct vfio_device *core_vdev)
{
	/* The data files are dead before vfio-pci-core unmaps the BARs. */
	vfmig_close_migration(to_vfmig(core_vdev));
	vfio_pci_core_close_device(core_vdev);
}

/* Only VFIO_DEVICE_RESET is ours, and only sometimes: vfmig_reset_ioctl(). */
static long vfmig_ioctl(struct vfio_device *core_vdev, unsigned int cmd,
			unsigned long arg)
{
	long ret;

	if (cmd == VFIO_DEVICE_RESET) {
		ret = vfmig_reset_ioctl(to_vfmig(core_vdev));
		if (ret != -ENOTTY)
			return ret;
	}
	return vfio_pci_core_ioctl(core_vdev, cmd, arg);
}

static void vfmig_release_dev(struct vfio_device *core_vdev)
{
	vfmig_mig_uninit(to_vfmig(core_vdev));
	vfio_pci_core_release_dev(core_vdev);
}

static const struct vfio_device_ops vfmig_ops = {
	.name = "vfmig-vfio-pci",
	.init = vfio_pci_core_init_dev,
	.release = vfmig_release_dev,
	.open_device = vfmig_open_device,
	.close_device = vfmig_close_device,
	.ioctl = vfmig_ioctl,
	VFMIG_OPS_REGION_INFO_CAPS
	.device_feature = vfio_pci_core_ioctl_feature,
	.read = vfio_pci_core_read,
	.write = vfmig_write,
	.mmap = vfmig_mmap,
	.request = vfio_pci_core_request,
	.match = vfio_pci_core_match,
	VFMIG_OPS_MATCH_TOKEN_UUID
	.bind_iommufd = vfio_iommufd_physical_bind,
	.unbind_iommufd = vfio_iommufd_physical_unbind,
	.attach_ioas = vfio_iommufd_physical_attach_ioas,
	.detach_ioas = vfio_iommufd_physical_detach_ioas,
	VFMIG_OPS_PASID
};

static int vfmig_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	const struct vfmig_backend *backend;
	struct vfmig_device *vdev;
	int bar, ret;

	/*
	 * driver_override also binds functions that are not in the id
	 * table (they match a catch-all id without driver_data); without a
	 * backend there is nothing this driver can do that vfio-pci does not.
	 */
	backend = (const struct vfmig_backend *)id->driver_data;
	if (!backend) {
		pci_warn(pdev, "vfmig: no backend for %04x:%04x, use vfio-pci\n",
			 pdev->vendor, pdev->device);
		return -ENODEV;
	}

	vdev = vfio_alloc_device(vfmig_device, core_device.vdev, &pdev->dev,
				 &vfmig_ops);
	if (IS_ERR(vdev))
		return PTR_ERR(vdev);
	vdev->backend = backend;
	vfmig_mig_init(vdev);
	for (bar = 0; bar < PCI_STD_NUM_BARS; bar++)
		vdev->bar_size[bar] = pci_resource_len(pdev, bar);

	ret = backend->probe(vdev);
	if (ret) {
		pci_err(pdev, "vfmig: %s backend refused the function: %d\n",
			backend->name, ret);
		goto out_put;
	}
	if (backend->regs_size > VFMIG_REGS_MAX) {
		pci_err(pdev, "vfmig: %s backend: %zu bytes of registers, at most %u\n",
			backend->name, backend->regs_size, VFMIG_REGS_MAX);
		ret = -EINVAL;
		goto out_put;
	}

	vfmig_dma_log_init(vdev);
	dev_set_drvdata(&pdev->dev, &vdev->core_device);
	ret = vfio_pci_core_register_device(&vdev->core_device);
	if (ret)
		goto out_put;

	/* After registering: the directory may be inside vfio's own. */
	vfmig_debugfs_add(vdev);
	pci_info(pdev, "vfmig: bound with the %s backend\n", backend->name);
	return 0;

out_put:
	vfio_put_device(&vdev->core_device.vdev);
	return ret;
}

static void vfmig_remove(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *core = dev_get_drvdata(&pdev->dev);
	struct vfmig_device *vdev = container_of(core, struct vfmig_device,
						 core_device);

	/* Before waiting for the user's close: see vfmig_unbind_begin(). */
	vfmig_unbind_begin(vdev);
	vfio_pci_core_unregister_device(core);
	vfmig_debugfs_remove(vdev);
	vfmig_faults_stop(vdev);
	vfio_put_device(&core->vdev);
}

static const struct pci_device_id vfmig_pci_table[] = {
	/* QEMU ivshmem-plain: a memory BAR plus registers. */
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_VENDOR_ID_REDHAT_QUMRANET, 0x1110),
	  .driver_data = (kernel_ulong_t)&vfmig_ivshmem_backend },
	{}
};
MODULE_DEVICE_TABLE(pci, vfmig_pci_table);

static const struct pci_error_handlers vfmig_err_handlers = {
	.reset_done = vfmig_reset_done,
	.error_detected = vfmig_error_detected,
	.resume = vfmig_err_resume,
};

static struct pci_driver vfmig_pci_driver = {
	.name = KBUILD_MODNAME,
	.id_table = vfmig_pci_table,
	.probe = vfmig_probe,
	.remove = vfmig_remove,
	.err_handler = &vfmig_err_handlers,
	.driver_managed_dma = true,
};

static int __init vfmig_init(void)
{
	int ret;

	vfmig_debugfs_init();
	ret = pci_register_driver(&vfmig_pci_driver);
	if (ret)
		vfmig_debugfs_exit();
	return ret;
}
module_init(vfmig_init);

static void __exit vfmig_exit(void)
{
	pci_unregister_driver(&vfmig_pci_driver);
	vfmig_debugfs_exit();
}
module_exit(vfmig_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vfio-pci variant driver giving PCI functions live migration");
MODULE_AUTHOR("The vfmig developers");
