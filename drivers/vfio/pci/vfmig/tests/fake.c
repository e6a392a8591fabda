// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fake PCI function of the vfmig KUnit suites (see fake.h).
 */
#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/io.h>
#include <linux/logic_iomem.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/pm_runtime.h>
#include <linux/slab.h>
#include <linux/vfio.h>

#include "compat.h"
#include "fake.h"
#include "migf.h"

/*
 * The emulated IO memory: one region, a 16 MiB window (logic_iomem's
 * largest mapping) per fake. Regions cannot be removed, so it is added
 * once and slots are reused.
 */
#define FAKE_SLOTS	8
#define FAKE_SLOT_SIZE	SZ_16M
#define FAKE_BAR2_OFF	SZ_1M
#define FAKE_IOMEM_BASE	0x7e5700000000ULL

static struct vfmig_fake *fake_slots[FAKE_SLOTS];
static DEFINE_MUTEX(fake_slots_lock);
static bool fake_region_added;

static struct resource fake_iomem = {
	.name = "vfmig-kunit-fake",
	.start = FAKE_IOMEM_BASE,
	.end = FAKE_IOMEM_BASE + FAKE_SLOTS * FAKE_SLOT_SIZE - 1,
	.flags = IORESOURCE_MEM,
};

struct fake_bar {
	struct vfmig_fake *fake;
	u8 *mem;
	size_t size;
	bool regs;
};

static void fake_io_hook(struct fake_bar *bar)
{
	struct vfmig_fake *fake = bar->fake;

	if (!bar->regs && fake->io_hook) {
		fake->io_hook_calls++;
		fake->io_hook(fake);
	}
}

static unsigned long fake_io_read(void *priv, unsigned int off, int size)
{
	struct fake_bar *bar = priv;
	unsigned long val = 0;

	memcpy(&val, bar->mem + off, size);
	/* ivshmem's INTRSTATUS clears when read. */
	if (bar->regs && off == 4)
		memset(bar->mem + off, 0, size);
	return val;
}

static void fake_io_write(void *priv, unsigned int off, int size,
			  unsigned long val)
{
	struct fake_bar *bar = priv;

	memcpy(bar->mem + off, &val, size);
}

static void fake_io_copy_from(void *priv, void *buf, unsigned int off,
			      int size)
{
	struct fake_bar *bar = priv;

	memcpy(buf, bar->mem + off, size);
	fake_io_hook(bar);
}

static void fake_io_copy_to(void *priv, unsigned int off, const void *buf,
			    int size)
{
	struct fake_bar *bar = priv;

	memcpy(bar->mem + off, buf, size);
	fake_io_hook(bar);
}

static void fake_io_unmap(void *priv)
{
	kfree(priv);
}

static const struct logic_iomem_ops fake_io_ops = {
	.read = fake_io_read,
	.write = fake_io_write,
	.copy_from = fake_io_copy_from,
	.copy_to = fake_io_copy_to,
	.unmap = fake_io_unmap,
};

static long fake_io_map(unsigned long offset, size_t size,
			const struct logic_iomem_ops **ops, void **priv)
{
	unsigned int slot = offset / FAKE_SLOT_SIZE;
	unsigned long in_slot = offset % FAKE_SLOT_SIZE;
	struct vfmig_fake *fake;
	struct fake_bar *bar;

	if (slot >= FAKE_SLOTS || !fake_slots[slot])
		return -EINVAL;
	fake = fake_slots[slot];
	bar = kzalloc(sizeof(*bar), GFP_KERNEL);
	if (!bar)
		return -ENOMEM;
	bar->fake = fake;
	if (in_slot == 0 && size <= sizeof(fake->bar0)) {
		bar->mem = fake->bar0;
		bar->regs = true;
	} else if (in_slot == FAKE_BAR2_OFF && size <= FAKE_MEM_SIZE) {
		bar->mem = fake->bar2;
	} else {
		kfree(bar);
		return -EINVAL;
	}
	*ops = &fake_io_ops;
	*priv = bar;
	return 0;
}

static const struct logic_iomem_region_ops fake_region_ops = {
	.map = fake_io_map,
};

/* Config space behind a fake bus. */
static int fake_cfg_read(struct pci_bus *bus, unsigned int devfn, int where,
			 int size, u32 *val)
{
	struct vfmig_fake *fake = bus->sysdata;

	*val = 0;
	memcpy(val, fake->config + where, size);
	return PCIBIOS_SUCCESSFUL;
}

static int fake_cfg_write(struct pci_bus *bus, unsigned int devfn, int where,
			  int size, u32 val)
{
	struct vfmig_fake *fake = bus->sysdata;

	memcpy(fake->config + where, &val, size);
	return PCIBIOS_SUCCESSFUL;
}

static struct pci_ops fake_pci_ops = {
	.read = fake_cfg_read,
	.write = fake_cfg_write,
};

/* The fake backend: records every call, fails the one it is told to. */
static struct vfmig_fake *fake_of(struct vfmig_device *vdev)
{
	return vdev->backend_data;
}

static int fake_record(struct vfmig_device *vdev, enum fake_call call)
{
	struct vfmig_fake *fake = fake_of(vdev);

	if (fake->jitter)
		usleep_range(5, 20);
	if (fake->ncalls < FAKE_MAX_CALLS)
		fake->calls[fake->ncalls++] = call;
	fake->seen[call]++;
	if (fake->fail_always & BIT(call))
		return fake->fail_errno;
	if (call == fake->fail_call &&
	    (!fake->fail_nth || fake->seen[call] == fake->fail_nth))
		return fake->fail_errno;
	return 0;
}

static int fake_quiesce(struct vfmig_device *vdev)
{
	return fake_record(vdev, FAKE_QUIESCE);
}

static int fake_unquiesce(struct vfmig_device *vdev)
{
	return fake_record(vdev, FAKE_UNQUIESCE);
}

static int fake_stop(struct vfmig_device *vdev)
{
	struct vfmig_fake *fake = fake_of(vdev);

	if (fake->block_stop) {
		complete(&fake->stop_entered);
		wait_for_completion(&fake->stop_release);
	}
	return fake_record(vdev, FAKE_STOP);
}

static int fake_start(struct vfmig_device *vdev)
{
	return fake_record(vdev, FAKE_START);
}

static int fake_save_regs(struct vfmig_device *vdev, void *buf)
{
	int ret = fake_record(vdev, FAKE_SAVE_REGS);

	if (!ret)
		memcpy_fromio(buf, vfmig_regs_bar(vdev), FAKE_REGS_SIZE);
	return ret;
}

static int fake_load_regs(struct vfmig_device *vdev, const void *buf)
{
	int ret = fake_record(vdev, FAKE_LOAD_REGS);

	if (!ret)
		memcpy_toio(vfmig_regs_bar(vdev), buf, FAKE_REGS_SIZE);
	return ret;
}

static int fake_reset(struct vfmig_device *vdev)
{
	int ret = fake_record(vdev, FAKE_RESET);

	if (!ret)
		memset_io(vfmig_regs_bar(vdev), 0, FAKE_REGS_SIZE);
	return ret;
}

const struct vfmig_backend vfmig_fake_backend = {
	.name = "kunit-fake",
	.id = 0x7e57,
	.mem_bar = 2,
	.regs_bar = 0,
	.regs_size = FAKE_REGS_SIZE,
	.quiesce = fake_quiesce,
	.unquiesce = fake_unquiesce,
	.stop = fake_stop,
	.start = fake_start,
	.save_regs = fake_save_regs,
	.load_regs = fake_load_regs,
	.reset = fake_reset,
};

/* Fake pci_devs not yet released, in all tests. */
static atomic_t fake_pdevs = ATOMIC_INIT(0);

static void fake_pdev_release(struct device *dev)
{
	kfree(to_pci_dev(dev));
	atomic_dec(&fake_pdevs);
}

/**
 * vfmig_fake_pdevs_live() - fake pci_devs made and not yet released
 *
 * Return: the count; a test compares it before and after, to see who
 * keeps a function's pci_dev alive.
 */
int vfmig_fake_pdevs_live(void)
{
	return atomic_read(&fake_pdevs);
}

static const struct vfio_device_ops fake_vfio_ops = {
	.name = "vfmig-kunit-fake",
};

static void fake_release_action(void *data)
{
	vfmig_fake_close(data);
}

/**
 * vfmig_fake_create() - a fake function with the fake backend
 * @test: the test; the fake is closed when it ends
 * @flags: the migration flags to advertise
 *
 * Return: the fake; the test fails and stops if it cannot be made.
 */
struct vfmig_fake *vfmig_fake_create(struct kunit *test, unsigned int flags)
{
	struct vfmig_fake *fake;
	struct vfio_pci_core_device *core;
	struct pci_dev *pdev;
	int slot;

	fake = kunit_kzalloc(test, sizeof(*fake), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, fake);
	fake->test = test;
	fake->fail_call = FAKE_NR_CALLS;
	init_completion(&fake->stop_entered);
	init_completion(&fake->stop_release);
	fake->bar2 = kunit_kzalloc(test, FAKE_MEM_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, fake->bar2);

	mutex_lock(&fake_slots_lock);
	if (!fake_region_added &&
	    !logic_iomem_add_region(&fake_iomem, &fake_region_ops))
		fake_region_added = true;
	for (slot = 0; slot < FAKE_SLOTS && fake_slots[slot]; slot++)
		;
	if (slot < FAKE_SLOTS)
		fake_slots[slot] = fake;
	mutex_unlock(&fake_slots_lock);
	KUNIT_ASSERT_TRUE(test, fake_region_added);
	KUNIT_ASSERT_LT(test, slot, FAKE_SLOTS);
	fake->slot = slot;

	fake->bus = kunit_kzalloc(test, sizeof(*fake->bus), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, fake->bus);
	fake->bus->ops = &fake_pci_ops;
	fake->bus->sysdata = fake;
	*(u16 *)&fake->config[PCI_COMMAND] = PCI_COMMAND_MEMORY;

	pdev = kzalloc(sizeof(*pdev), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pdev);
	device_initialize(&pdev->dev);
	atomic_inc(&fake_pdevs);
	pdev->dev.release = fake_pdev_release;
	dev_set_name(&pdev->dev, "vfmig-fake.%d", slot);
	pdev->bus = fake->bus;
	pdev->vendor = 0x1af4;
	pdev->device = 0x1110;
	pdev->subsystem_vendor = 0x1af4;
	pdev->subsystem_device = 0x1100;
	pdev->current_state = PCI_D0;
	pdev->cfg_size = 256;
	fake->pdev = pdev;
	/* As the PCI core leaves a bound function: runtime PM on, active. */
	pm_runtime_set_active(&pdev->dev);
	pm_runtime_enable(&pdev->dev);

	fake->vdev = vfio_alloc_device(vfmig_device, core_device.vdev,
				       &pdev->dev, &fake_vfio_ops);
	KUNIT_ASSERT_FALSE(test, IS_ERR(fake->vdev));
	core = &fake->vdev->core_device;
	core->pdev = pdev;
	init_rwsem(&core->memory_lock);
	fake->vdev->backend = &vfmig_fake_backend;
	fake->vdev->backend_data = fake;
	fake->vdev->bar_size[0] = sizeof(fake->bar0);
	fake->vdev->bar_size[2] = FAKE_MEM_SIZE;
	vfmig_mig_init(fake->vdev);
	core->vdev.migration_flags = flags;
	dev_set_drvdata(&pdev->dev, core);

	core->barmap[0] = ioremap(FAKE_IOMEM_BASE + slot * FAKE_SLOT_SIZE,
				  sizeof(fake->bar0));
	core->barmap[2] = ioremap(FAKE_IOMEM_BASE + slot * FAKE_SLOT_SIZE +
				  FAKE_BAR2_OFF, FAKE_MEM_SIZE);
	KUNIT_ASSERT_NOT_NULL(test, core->barmap[0]);
	KUNIT_ASSERT_NOT_NULL(test, core->barmap[2]);

	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, fake_release_action,
							fake), 0);
	return fake;
}

/**
 * vfmig_fake_close() - close the fake as the vfio core closes a device
 * @fake: the fake
 *
 * Runs the driver's close path (vfmig_close_migration(), as its
 * close_device does), then unmaps the emulated BARs and drops the device.
 * Data files still open keep the vfio device alive.
 */
void vfmig_fake_close(struct vfmig_fake *fake)
{
	struct vfio_pci_core_device *core;
	struct pci_dev *pdev;

	if (!fake->vdev)
		return;
	core = &fake->vdev->core_device;
	pdev = fake->pdev;
	/* The driver's own close path, then what vfio-pci-core's does. */
	vfmig_close_migration(fake->vdev);
	down_write(&core->memory_lock);
	iounmap(core->barmap[0]);
	iounmap(core->barmap[2]);
	core->barmap[0] = NULL;
	core->barmap[2] = NULL;
	up_write(&core->memory_lock);
	dev_set_drvdata(&pdev->dev, NULL);
	vfio_put_device(&core->vdev);
	fake->vdev = NULL;
	pm_runtime_disable(&pdev->dev);
	put_device(&pdev->dev);
	mutex_lock(&fake_slots_lock);
	fake_slots[fake->slot] = NULL;
	mutex_unlock(&fake_slots_lock);
}

/**
 * vfmig_fake_fail() - make a backend call fail
 * @fake: the fake
 * @call: which call
 * @nth: the nth such call from now (1 = the next one); 0: all of them
 * @err: the errno it returns
 */
void vfmig_fake_fail(struct vfmig_fake *fake, enum fake_call call, int nth,
		     int err)
{
	fake->fail_call = call;
	fake->fail_nth = nth ? fake->seen[call] + nth : 0;
	fake->fail_errno = err;
}

/**
 * vfmig_fake_clear_calls() - forget the calls recorded so far
 * @fake: the fake
 */
void vfmig_fake_clear_calls(struct vfmig_fake *fake)
{
	fake->ncalls = 0;
}

/**
 * vfmig_fake_baseline() - data files that exist before a test makes any
 *
 * Return: vfmig_migf_live() once files earlier tests dropped are released.
 */
int vfmig_fake_baseline(void)
{
	flush_delayed_fput();
	return vfmig_migf_live();
}

/**
 * vfmig_fake_expect_no_files() - every data file was released
 * @test: the test
 * @baseline: vfmig_migf_live() before the test made files
 *
 * Files dropped by kernel threads are released by delayed work: flush it,
 * and give a file dropped by another thread a moment.
 */
void vfmig_fake_expect_no_files(struct kunit *test, int baseline)
{
	int i;

	for (i = 0; i < 50 && vfmig_migf_live() != baseline; i++) {
		flush_delayed_fput();
		msleep(20);
	}
	KUNIT_EXPECT_EQ_MSG(test, vfmig_migf_live(), baseline,
			    "data files leaked");
}

/**
 * fake_set_state() - SET_STATE through the driver's vfio_migration_ops
 * @fake: the fake
 * @state: the requested state
 *
 * Return: what migration_set_state returned.
 */
struct file *fake_set_state(struct vfmig_fake *fake,
			    enum vfio_device_mig_state state)
{
	struct vfio_device *core_vdev = &fake->vdev->core_device.vdev;

	return core_vdev->mig_ops->migration_set_state(core_vdev, state);
}

/**
 * fake_get_state() - GET_STATE through the driver's vfio_migration_ops
 * @fake: the fake
 *
 * Return: the state the driver reports.
 */
enum vfio_device_mig_state fake_get_state(struct vfmig_fake *fake)
{
	struct vfio_device *core_vdev = &fake->vdev->core_device.vdev;
	enum vfio_device_mig_state state = VFIO_DEVICE_STATE_ERROR;

	KUNIT_EXPECT_EQ(fake->test,
			core_vdev->mig_ops->migration_get_state(core_vdev, &state),
			0);
	return state;
}

/**
 * vfmig_fake_stream_omit() - a well-formed stream that may leave a part out
 * @fake: the fake (the stream matches its identity)
 * @fill: the byte the memory BAR and the registers are to hold
 * @omit: what to leave out: FAKE_OMIT_NONE, FAKE_OMIT_LAST_MEM (the
 *	memory BAR's last record) or FAKE_OMIT_REGS (the register record)
 * @len: set to the stream's length
 *
 * Every CRC, sequence number and END count is right whatever is omitted:
 * only a reader that checks what the stream covers can tell.
 *
 * Return: the stream, freed with the test.
 */
u8 *vfmig_fake_stream_omit(struct vfmig_fake *fake, u8 fill,
			   enum fake_omit omit, size_t *len)
{
	struct vfmig_stream_id id;
	struct vfmig_end_payload end;
	struct vfmig_record *rec;
	u8 regs[FAKE_REGS_SIZE];
	size_t nmem = DIV_ROUND_UP(FAKE_MEM_SIZE, VFMIG_MAX_PAYLOAD);
	size_t max = sizeof(struct vfmig_stream_header) + FAKE_MEM_SIZE +
		     FAKE_REGS_SIZE + sizeof(end) + (nmem + 2) * sizeof(*rec);
	u8 *buf = kunit_kzalloc(fake->test, max, GFP_KERNEL);
	u8 *mem = kunit_kmalloc(fake->test, FAKE_MEM_SIZE, GFP_KERNEL);
	u64 payload = 0;
	u32 seq = 0;
	size_t pos, off, n;

	KUNIT_ASSERT_NOT_NULL(fake->test, buf);
	KUNIT_ASSERT_NOT_NULL(fake->test, mem);
	memset(mem, fill, FAKE_MEM_SIZE);
	memset(regs, fill, sizeof(regs));
	vfmig_stream_id_init(fake->vdev, &id);
	vfmig_header_build((void *)buf, &id);
	pos = sizeof(struct vfmig_stream_header);

	/* Records of at most VFMIG_MAX_PAYLOAD, as the saving file writes. */
	for (off = 0; off < FAKE_MEM_SIZE; off += n) {
		n = min_t(size_t, FAKE_MEM_SIZE - off, VFMIG_MAX_PAYLOAD);
		if (omit == FAKE_OMIT_LAST_MEM && off + n == FAKE_MEM_SIZE)
			break;
		rec = (void *)(buf + pos);
		vfmig_record_build(rec, VFMIG_REC_MEM, VFMIG_REC_F_MANDATORY, 2,
				   off, seq++, mem + off, n);
		memcpy(rec + 1, mem + off, n);
		pos += sizeof(*rec) + n;
		payload += n;
	}

	if (omit != FAKE_OMIT_REGS) {
		rec = (void *)(buf + pos);
		vfmig_record_build(rec, VFMIG_REC_REGS, VFMIG_REC_F_MANDATORY, 0, 0,
				   seq++, regs, sizeof(regs));
		memcpy(rec + 1, regs, sizeof(regs));
		pos += sizeof(*rec) + sizeof(regs);
		payload += sizeof(regs);
	}

	end.records = cpu_to_le64(seq);
	end.payload_bytes = cpu_to_le64(payload);
	rec = (void *)(buf + pos);
	vfmig_record_build(rec, VFMIG_REC_END, VFMIG_REC_F_MANDATORY, 0, 0, seq,
			   &end, sizeof(end));
	memcpy(rec + 1, &end, sizeof(end));
	pos += sizeof(*rec) + sizeof(end);
	*len = pos;
	return buf;
}

/**
 * vfmig_fake_stream() - a complete, valid stream for a fake function
 * @fake: the fake (the stream matches its identity)
 * @fill: the byte the memory BAR and the registers are to hold
 * @len: set to the stream's length
 *
 * Return: the stream, freed with the test.
 */
u8 *vfmig_fake_stream(struct vfmig_fake *fake, u8 fill, size_t *len)
{
	return vfmig_fake_stream_omit(fake, fill, FAKE_OMIT_NONE, len);
}

/* A userspace buffer for the data files' read() and write(). */
static void __user *fake_user_buf(struct kunit *test, size_t len)
{
	unsigned long addr = kunit_vm_mmap(test, NULL, 0, len,
					   PROT_READ | PROT_WRITE,
					   MAP_ANONYMOUS | MAP_PRIVATE, 0);

	KUNIT_ASSERT_NE_MSG(test, addr, 0, "no user memory");
	KUNIT_ASSERT_FALSE(test, IS_ERR_VALUE(addr));
	return (void __user *)addr;
}

/**
 * fake_write() - write(2) to a data file, from user memory
 * @test: the test
 * @file: the file
 * @buf: kernel bytes, copied to user memory first
 * @len: how many
 *
 * Return: what the file's write returned.
 */
ssize_t fake_write(struct kunit *test, struct file *file, const void *buf,
		   size_t len)
{
	void __user *ubuf = fake_user_buf(test, max_t(size_t, len, 1));

	KUNIT_ASSERT_EQ(test, copy_to_user(ubuf, buf, len), 0);
	return file->f_op->write(file, ubuf, len, NULL);
}

/**
 * fake_read() - read(2) from a data file into user memory
 * @test: the test
 * @file: the file
 * @buf: kernel buffer the bytes read are copied to, or NULL
 * @len: how many to ask for
 *
 * Return: what the file's read returned.
 */
ssize_t fake_read(struct kunit *test, struct file *file, void *buf, size_t len)
{
	void __user *ubuf = fake_user_buf(test, len);
	ssize_t ret = file->f_op->read(file, ubuf, len, NULL);

	if (ret > 0 && buf)
		KUNIT_ASSERT_EQ(test, copy_from_user(buf, ubuf, ret), 0);
	return ret;
}

/**
 * fake_ioctl() - ioctl(2) on a data file, its argument in user memory
 * @test: the test
 * @file: the file
 * @cmd: the ioctl
 * @arg: kernel bytes of the argument, copied to user memory first
 * @len: their size
 *
 * Return: what the file's ioctl returned.
 */
long fake_ioctl(struct kunit *test, struct file *file, unsigned int cmd,
		const void *arg, size_t len)
{
	void __user *uarg = fake_user_buf(test, len);

	KUNIT_ASSERT_EQ(test, copy_to_user(uarg, arg, len), 0);
	return file->f_op->unlocked_ioctl(file, cmd, (unsigned long)uarg);
}

/**
 * fake_data_size() - VFIO_DEVICE_FEATURE_MIG_DATA_SIZE through the driver
 * @test: the test; a failed call fails it
 * @fake: the fake
 *
 * Return: the stop_copy_length the driver reported.
 */
unsigned long fake_data_size(struct kunit *test, struct vfmig_fake *fake)
{
	struct vfio_device *core_vdev = &fake->vdev->core_device.vdev;
	unsigned long size = 0;

	KUNIT_EXPECT_EQ(test,
			core_vdev->mig_ops->migration_get_data_size(core_vdev, &size),
			0);
	return size;
}

/**
 * fake_file_dead() - is a data file disabled?
 * @file: the file
 *
 * Return: whether poll reports it dead (EPOLLERR | EPOLLHUP).
 */
bool fake_file_dead(struct file *file)
{
	__poll_t mask = file->f_op->poll(file, NULL);

	return (mask & (EPOLLERR | EPOLLHUP)) == (EPOLLERR | EPOLLHUP);
}

/**
 * fake_file_saving() - is this a saving data file?
 * @file: a file from SET_STATE
 *
 * Return: true for a saving file, false for a resuming one.
 */
bool fake_file_saving(struct file *file)
{
	struct vfmig_migf *migf = file->private_data;

	return migf->saving;
}

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit tests for vfmig, the vfio-pci migration variant driver");
MODULE_IMPORT_NS(VFMIG_KUNIT_NS);
