// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfmig backend for QEMU's ivshmem-plain (1af4:1110).
 *
 * The function is a register BAR (BAR0: INTRMASK, INTRSTATUS, IVPOSITION,
 * DOORBELL; 256 bytes) and a shared memory BAR (BAR2, a power of two). Its
 * whole state is what a guest wrote into those, which makes it a device any
 * QEMU can emulate and any test can check byte for byte.
 */
#include <linux/pci.h>

#include "vfmig.h"

#define IVSHMEM_REG_BAR		0
#define IVSHMEM_MEM_BAR		2
#define IVSHMEM_REG_BAR_SIZE	256

static int vfmig_ivshmem_probe(struct vfmig_device *vdev)
{
	struct pci_dev *pdev = vfmig_pdev(vdev);
	resource_size_t regs = vdev->bar_size[IVSHMEM_REG_BAR];
	resource_size_t mem = vdev->bar_size[IVSHMEM_MEM_BAR];

	if (!(pci_resource_flags(pdev, IVSHMEM_REG_BAR) & IORESOURCE_MEM) ||
	    regs < IVSHMEM_REG_BAR_SIZE) {
		pci_err(pdev, "ivshmem: BAR0 is not a %u-byte register BAR\n",
			IVSHMEM_REG_BAR_SIZE);
		return -ENODEV;
	}
	if (!(pci_resource_flags(pdev, IVSHMEM_MEM_BAR) & IORESOURCE_MEM) ||
	    !mem || !is_power_of_2(mem)) {
		pci_err(pdev, "ivshmem: BAR2 is not a shared memory BAR\n");
		return -ENODEV;
	}
	return 0;
}

const struct vfmig_backend vfmig_ivshmem_backend = {
	.name = "ivshmem",
	.id = VFMIG_BACKEND_IVSHMEM,
	.probe = vfmig_ivshmem_probe,
};
