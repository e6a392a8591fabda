// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfmig dirty tracking: which pages of the memory BAR were written while a
 * saving file is in PRE_COPY, so that later passes send only those.
 *
 * The VM writes the memory BAR through userspace's mapping of the vfio
 * region (a nested guest through KVM's mapping of that mapping) and
 * through the region's write path. vfmig wraps both:
 *
 * - the mapping's fault handlers: vfio-pci-core's own handlers insert the
 *   page, then vfmig marks it. A page is marked when it is mapped, not
 *   when it is first written: a read-only PTE would be the precise way
 *   (pfn_mkwrite), but KVM's hva_to_pfn_remapped() answers a guest write
 *   to a present read-only PFNMAP PTE with KVM_PFN_ERR_RO_FAULT, which
 *   x86 KVM emulates instruction by instruction, and its emulator has no
 *   VEX-encoded stores (a guest's AVX memcpy would stop the VM). So a page
 *   the VM only reads in a round is sent again too; PTEs are always either
 *   absent or writable, and nothing is ever left write-protected.
 * - the region write path (pwrite on the device fd): marked after the
 *   write lands.
 *
 * A round (vfmig_dirty_collect()) takes the marks and clears them, then
 * zaps the BAR's user mappings; the caller copies the pages it took after
 * that. Why this order loses no write: a write goes through a PTE that was
 * marked after it was inserted. If the mark was taken by this round, the
 * zap removes the PTE after the mark and before the copy, so the write
 * either landed before the copy or faults again and marks the next round.
 * If the mark came after this round took the marks, it is in the next
 * round's. The memory is read only after the round's zap returned.
 *
 * Huge mappings: while tracking, the huge fault handler falls back to
 * pages (one mark per 4 KiB); one inserted just before tracking began is
 * marked whole (the mark follows the insert) or zapped by the start.
 *
 * Not seen: a VFIO_DEVICE_IOEVENTFD on the memory BAR (the kernel writes
 * it from the eventfd), and a host process writing the function's sysfs
 * resource file: neither is how a VMM drives a memory BAR.
 */
#include <kunit/visibility.h>
#include <linux/bitmap.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/vfio_pci_core.h>

#include "vfmig.h"

/*
 * The region's offset bits of a vm_pgoff: vfio-pci puts the region index
 * above VFIO_PCI_OFFSET_SHIFT.
 */
#define VFMIG_PGOFF_MASK \
	((1ULL << (VFIO_PCI_OFFSET_SHIFT - PAGE_SHIFT)) - 1)

/* vfio-pci-core's own BAR mapping ops, seen at the first mmap. */
static const struct vm_operations_struct *vfmig_core_vm_ops;

/**
 * vfmig_dirty_init() - set up a device's dirty tracking, off
 * @vdev: the device being probed
 */
void vfmig_dirty_init(struct vfmig_device *vdev)
{
	spin_lock_init(&vdev->dirty_lock);
	vdev->dirty_bits = NULL;
	vdev->dirty_pages = 0;
}

/**
 * vfmig_dirty_tracking() - is the memory BAR tracked now?
 * @vdev: the device
 *
 * Return: true between vfmig_dirty_start() and vfmig_dirty_stop().
 */
bool vfmig_dirty_tracking(struct vfmig_device *vdev)
{
	return !!READ_ONCE(vdev->dirty_bits);
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_dirty_tracking);

/**
 * vfmig_dirty_mark() - the VM wrote (or mapped) part of the memory BAR
 * @vdev: the device
 * @offset: byte offset in the BAR
 * @len: bytes
 *
 * Call after the write landed or the PTE was inserted. Does nothing when
 * not tracking; safe in a fault handler (a spinlock, no allocation).
 */
void vfmig_dirty_mark(struct vfmig_device *vdev, u64 offset, u64 len)
{
	u64 first, last;

	if (!len || !READ_ONCE(vdev->dirty_bits))
		return;
	first = offset >> PAGE_SHIFT;
	spin_lock(&vdev->dirty_lock);
	last = min_t(u64, DIV_ROUND_UP(offset + len, PAGE_SIZE),
		     vdev->dirty_pages);
	if (vdev->dirty_bits && first < last)
		bitmap_set(vdev->dirty_bits, first, last - first);
	spin_unlock(&vdev->dirty_lock);
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_dirty_mark);

/* Zap every user mapping of the memory BAR: the next access faults. */
static void vfmig_dirty_zap(struct vfmig_device *vdev)
{
	struct inode *inode = vdev->core_device.vdev.inode;
	int bar = vdev->backend->mem_bar;

	/* No inode: a device that was never registered (the KUnit fake). */
	if (inode)
		unmap_mapping_range(inode->i_mapping,
				    VFIO_PCI_INDEX_TO_OFFSET(bar),
				    vdev->bar_size[bar], false);
}

/**
 * vfmig_dirty_start() - track writes to the memory BAR from now on
 * @vdev: the device, state mutex held
 *
 * Publishes an empty bitmap, then zaps the BAR's mappings: every write
 * after this returns is seen. Memory read after it covers every write
 * before it.
 *
 * Return: 0 or -ENOMEM.
 */
int vfmig_dirty_start(struct vfmig_device *vdev)
{
	u64 pages = vfmig_mem_pages(vdev);
	unsigned long *bits;

	lockdep_assert_held(&vdev->state_mutex);
	bits = kvcalloc(BITS_TO_LONGS(pages), sizeof(unsigned long),
			GFP_KERNEL_ACCOUNT);
	if (!bits)
		return -ENOMEM;
	spin_lock(&vdev->dirty_lock);
	swap(vdev->dirty_bits, bits);
	swap(vdev->dirty_pages, pages);
	spin_unlock(&vdev->dirty_lock);
	if (bits) {
		/* Started twice: the old marks go (the caller re-reads all). */
		kvfree(bits);
		vfmig_held(vdev, -(s64)(BITS_TO_LONGS(pages) * sizeof(long)));
	}
	vfmig_held(vdev, BITS_TO_LONGS(vdev->dirty_pages) * sizeof(long));
	vfmig_dirty_zap(vdev);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_dirty_start);

/**
 * vfmig_dirty_stop() - stop tracking and free the bitmap
 * @vdev: the device
 *
 * Safe in the reset path: takes only the tracking spinlock. The mappings
 * stay as they are: their PTEs are writable, so nothing is left to undo.
 */
void vfmig_dirty_stop(struct vfmig_device *vdev)
{
	unsigned long *bits;
	u64 pages;

	spin_lock(&vdev->dirty_lock);
	bits = vdev->dirty_bits;
	pages = vdev->dirty_pages;
	vdev->dirty_bits = NULL;
	spin_unlock(&vdev->dirty_lock);
	if (bits) {
		kvfree(bits);
		vfmig_held(vdev, -(s64)(BITS_TO_LONGS(pages) * sizeof(long)));
	}
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_dirty_stop);

/**
 * vfmig_dirty_collect() - end a round: take the marks, then re-arm
 * @vdev: the device
 * @into: a bitmap of the BAR's pages; the marks are OR-ed into it
 *
 * The marks are cleared and the BAR's mappings zapped, in that order (see
 * the top of this file): the caller may copy the pages it took once this
 * returns.
 *
 * Return: 0, or -ENODEV when not tracking (a reset or close stopped it).
 */
int vfmig_dirty_collect(struct vfmig_device *vdev, unsigned long *into)
{
	spin_lock(&vdev->dirty_lock);
	if (!vdev->dirty_bits) {
		spin_unlock(&vdev->dirty_lock);
		return -ENODEV;
	}
	bitmap_or(into, into, vdev->dirty_bits, vdev->dirty_pages);
	bitmap_zero(vdev->dirty_bits, vdev->dirty_pages);
	spin_unlock(&vdev->dirty_lock);
	vfmig_dirty_zap(vdev);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_dirty_collect);

/**
 * vfmig_dirty_weight() - how many pages are marked now
 * @vdev: the device
 *
 * Return: marked pages, 0 when not tracking.
 */
u64 vfmig_dirty_weight(struct vfmig_device *vdev)
{
	u64 n = 0;

	spin_lock(&vdev->dirty_lock);
	if (vdev->dirty_bits)
		n = bitmap_weight(vdev->dirty_bits, vdev->dirty_pages);
	spin_unlock(&vdev->dirty_lock);
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(vfmig_dirty_weight);

/* The fault's page range as a byte range of the BAR, then mark it. */
static void vfmig_dirty_mark_fault(struct vm_fault *vmf, unsigned int order)
{
	struct vm_area_struct *vma = vmf->vma;
	struct vfio_pci_core_device *core = vma->vm_private_data;
	struct vfmig_device *vdev = container_of(core, struct vfmig_device,
						 core_device);
	unsigned long addr = vmf->address & ~((PAGE_SIZE << order) - 1);
	u64 pgoff = (vma->vm_pgoff & VFMIG_PGOFF_MASK) +
		    ((addr - vma->vm_start) >> PAGE_SHIFT);

	vfmig_dirty_mark(vdev, pgoff << PAGE_SHIFT, PAGE_SIZE << order);
}

static vm_fault_t vfmig_mem_fault(struct vm_fault *vmf)
{
	vm_fault_t ret = vfmig_core_vm_ops->fault(vmf);

	if (!(ret & VM_FAULT_ERROR))
		vfmig_dirty_mark_fault(vmf, 0);
	return ret;
}

static vm_fault_t vfmig_mem_huge_fault(struct vm_fault *vmf,
				       unsigned int order)
{
	struct vfio_pci_core_device *core = vmf->vma->vm_private_data;
	struct vfmig_device *vdev = container_of(core, struct vfmig_device,
						 core_device);
	vm_fault_t ret;

	/* One mark per page while tracking: no 2 MiB resent for 4 KiB. */
	if (!vfmig_core_vm_ops->huge_fault ||
	    (order && vfmig_dirty_tracking(vdev)))
		return VM_FAULT_FALLBACK;
	ret = vfmig_core_vm_ops->huge_fault(vmf, order);
	if (!(ret & (VM_FAULT_ERROR | VM_FAULT_FALLBACK)))
		vfmig_dirty_mark_fault(vmf, order);
	return ret;
}

static const struct vm_operations_struct vfmig_mem_vm_ops = {
	.fault = vfmig_mem_fault,
	.huge_fault = vfmig_mem_huge_fault,
};

/**
 * vfmig_mmap() - mmap of a region: the memory BAR's faults are tracked
 * @core_vdev: the vfio device
 * @vma: the mapping
 *
 * vfio-pci-core maps the region; for the memory BAR, vfmig's fault
 * handlers then wrap its own, so a write during PRE_COPY is seen.
 *
 * Return: what vfio_pci_core_mmap() returned, or -EINVAL if its mapping
 * ops are not the page-fault kind vfmig can wrap.
 */
int vfmig_mmap(struct vfio_device *core_vdev, struct vm_area_struct *vma)
{
	struct vfmig_device *vdev = to_vfmig(core_vdev);
	unsigned int index = vma->vm_pgoff >>
			     (VFIO_PCI_OFFSET_SHIFT - PAGE_SHIFT);
	const struct vm_operations_struct *core_ops;
	int ret;

	ret = vfio_pci_core_mmap(core_vdev, vma);
	if (ret || index != vdev->backend->mem_bar)
		return ret;
	core_ops = vma->vm_ops;
	/*
	 * Every vfio-pci-core mapping has the same static ops. Mapped
	 * without a fault handler (an older core that maps it all at
	 * mmap time), writes could not be seen: refuse rather than lose
	 * them during a migration.
	 */
	if (!READ_ONCE(vfmig_core_vm_ops))
		cmpxchg(&vfmig_core_vm_ops, NULL, core_ops);
	if (READ_ONCE(vfmig_core_vm_ops) != core_ops || !core_ops->fault ||
	    core_ops->pfn_mkwrite || core_ops->page_mkwrite) {
		pci_warn(vfmig_pdev(vdev), "vfmig: vfio-pci-core's BAR mapping cannot be tracked\n");
		return -EINVAL;
	}
	vma->vm_ops = &vfmig_mem_vm_ops;
	return 0;
}

/**
 * vfmig_write() - region write: writes to the memory BAR are marked
 * @core_vdev: the vfio device
 * @buf: user bytes
 * @count: how many
 * @ppos: region offset
 *
 * Return: what vfio_pci_core_write() returned.
 */
ssize_t vfmig_write(struct vfio_device *core_vdev, const char __user *buf,
		    size_t count, loff_t *ppos)
{
	struct vfmig_device *vdev = to_vfmig(core_vdev);
	unsigned int index = VFIO_PCI_OFFSET_TO_INDEX(*ppos);
	u64 off = *ppos & VFIO_PCI_OFFSET_MASK;
	ssize_t ret;

	ret = vfio_pci_core_write(core_vdev, buf, count, ppos);
	if (ret > 0 && index == vdev->backend->mem_bar)
		vfmig_dirty_mark(vdev, off, ret);
	return ret;
}
