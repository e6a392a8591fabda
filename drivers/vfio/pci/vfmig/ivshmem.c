// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfmig backend for QEMU's ivshmem-plain (1af4:1110).
 *
 * The function is a register BAR (BAR0: INTRMASK, INTRSTATUS, IVPOSITION,
 * DOORBELL; 256 bytes) and a shared memory BAR (BAR2, a power of two). Its
 * whole state is what a guest wrote into those, which makes it a device any
 * QEMU can emulate and any test can check byte for byte.
 *
 * State carried: all of BAR2 (by the core), and INTRMASK and INTRSTATUS.
 * IVPOSITION is read-only and DOORBELL write-only: neither holds state.
 * The function has no DMA, no peer-to-peer and no engine of its own, so
 * quiesce, stop and start have nothing to do: the vCPUs that write its
 * BARs are stopped by the VMM.
 *
 * Only ivshmem-plain. QEMU's ivshmem-doorbell has the same ids but talks to
 * peers through a server: its IVPOSITION, peer eventfds and MSI-X vectors
 * (always present, in BAR1) are not state this backend can carry, so it
 * is refused at bind. Either variant's memory is shared by definition:
 * migration is correct only if nothing but this function writes it (a
 * private memfd, as QEMU's memory-backend-memfd without other users), or
 * STOP would not stop the state from changing (Documentation/ivshmem.md).
 */
#include <kunit/visibility.h>
#include <linux/io.h>
#include <linux/pci.h>

#include "vfmig.h"

#define IVSHMEM_REG_BAR		0
#define IVSHMEM_MSIX_BAR	1
#define IVSHMEM_MEM_BAR		2
#define IVSHMEM_REG_BAR_SIZE	256

#define IVSHMEM_INTRMASK	0x00
#define IVSHMEM_INTRSTATUS	0x04

/* The register block in the stream. */
struct vfmig_ivshmem_regs {
	__le32 intrmask;
	__le32 intrstatus;
};

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
	if (vdev->bar_size[IVSHMEM_MSIX_BAR] || pdev->msix_cap) {
		pci_err(pdev, "ivshmem: MSI-X in BAR1, so this is an ivshmem-doorbell: its peers, IVPOSITION and interrupts cannot be migrated; only ivshmem-plain is supported\n");
		return -ENODEV;
	}
	return 0;
}

static int vfmig_ivshmem_save_regs(struct vfmig_device *vdev, void *buf)
{
	void __iomem *bar = vfmig_regs_bar(vdev);
	struct vfmig_ivshmem_regs *regs = buf;
	u32 status;

	regs->intrmask = cpu_to_le32(ioread32(bar + IVSHMEM_INTRMASK));
	/* INTRSTATUS clears on read: put it back, the source may resume. */
	status = ioread32(bar + IVSHMEM_INTRSTATUS);
	iowrite32(status, bar + IVSHMEM_INTRSTATUS);
	regs->intrstatus = cpu_to_le32(status);
	return 0;
}

static int vfmig_ivshmem_load_regs(struct vfmig_device *vdev, const void *buf)
{
	void __iomem *bar = vfmig_regs_bar(vdev);
	const struct vfmig_ivshmem_regs *regs = buf;

	/* Mask first, so the status raises no interrupt the source had not. */
	iowrite32(le32_to_cpu(regs->intrmask), bar + IVSHMEM_INTRMASK);
	iowrite32(le32_to_cpu(regs->intrstatus), bar + IVSHMEM_INTRSTATUS);
	return 0;
}

/* What QEMU's ivshmem_reset() does: the memory is kept. */
static int vfmig_ivshmem_reset(struct vfmig_device *vdev)
{
	void __iomem *bar = vfmig_regs_bar(vdev);

	iowrite32(0, bar + IVSHMEM_INTRMASK);
	iowrite32(0, bar + IVSHMEM_INTRSTATUS);
	return 0;
}

const struct vfmig_backend vfmig_ivshmem_backend = {
	.name = "ivshmem",
	.id = VFMIG_BACKEND_IVSHMEM,
	.mem_bar = IVSHMEM_MEM_BAR,
	.regs_bar = IVSHMEM_REG_BAR,
	.regs_size = sizeof(struct vfmig_ivshmem_regs),
	/* ivshmem-plain has no DMA engine: it never writes guest memory. */
	.dma = false,
	.probe = vfmig_ivshmem_probe,
	.save_regs = vfmig_ivshmem_save_regs,
	.load_regs = vfmig_ivshmem_load_regs,
	.reset = vfmig_ivshmem_reset,
};
EXPORT_SYMBOL_IF_KUNIT(vfmig_ivshmem_backend);
