// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfmig concurrency stress, run in the test VM on the rig's debug kernel
 * (lockdep, KASAN, UBSAN, hung-task and stall detectors, two vCPUs): for a
 * bounded time, threads drive one function through every migration state
 * while others reset it (VFIO_DEVICE_RESET and sysfs), use whatever data
 * file is open (read, write, poll, lseek, PRECOPY_INFO, close), and query
 * it (GET_STATE, MIG_DATA_SIZE, region reads and writes). Around that run
 * the ways a session ends from outside: the device closed with data files
 * still open, an unbind (answered as QEMU answers the device request),
 * `modprobe -r` with a data file open, and AER recovery.
 *
 * A test fails on: an errno outside what the uAPI allows for that call, no
 * progress for VFMIG_STRESS_STALL seconds (a hang), a worker that does not
 * stop, a function that no longer migrates its memory afterwards, or (seen
 * by the suite's kernel log scan) any lockdep, KASAN, UBSAN, hung-task or
 * stall report.
 *
 * Usage: VFMIG_BDF_A=BDF [VFMIG_STRESS_SECS=30] [VFMIG_AER_PORT=BDF]
 *	  [VFMIG_MODULE=vfmig] stress [kselftest harness options]
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "check.h"
#include "../../tools/lib/vfio_open.h"
#include "../../tools/lib/vfio_mig.h"

enum op {
	OP_SET_STATE, OP_DEV_RESET, OP_SYSFS_RESET, OP_READ, OP_WRITE,
	OP_POLL, OP_LSEEK, OP_PRECOPY_INFO, OP_DATA_SIZE, OP_GET_STATE,
	OP_REGION_IO, OP_AER, OP_NR
};

static const char * const op_name[OP_NR] = {
	"set_state", "device_reset", "sysfs_reset", "read", "write", "poll",
	"lseek", "precopy_info", "data_size", "get_state", "region_io", "aer",
};

/*
 * The errnos each call may return while resets, state changes and other
 * threads race it; anything else is a failure. ENODEV: a data file a
 * reset or a state change ended. EINVAL: a state the call is not for (a
 * write to a saving file, PRECOPY_INFO outside PRE_COPY, a stream the
 * junk writes broke, an arc from ERROR). ENOMSG: PRE_COPY has nothing
 * more for now. EIO: the device refused a region access or an arc failed
 * under a reset (which then leaves RUNNING). EAGAIN: a reset that found
 * the device busy (pci_try_reset_function). ESPIPE: lseek on a data file.
 * EBADF: a read of a resuming file or a write to a saving one (the files
 * are opened write-only and read-only: the VFS refuses the other way).
 */
static const int allowed[OP_NR][6] = {
	[OP_SET_STATE] = { EINVAL, EIO, ENODEV, EAGAIN },
	[OP_DEV_RESET] = { EAGAIN, EBUSY, EINVAL },
	[OP_SYSFS_RESET] = { EAGAIN, EBUSY, EINVAL, ENOTTY },
	[OP_READ] = { ENODEV, EINVAL, ENOMSG, EIO, EBADF },
	[OP_WRITE] = { ENODEV, EINVAL, EIO, ENOSPC, EBADF },
	[OP_POLL] = { EINTR },
	[OP_LSEEK] = { ESPIPE },
	[OP_PRECOPY_INFO] = { ENODEV, EINVAL, ENOTTY },
	[OP_DATA_SIZE] = { EINVAL, EIO },
	[OP_GET_STATE] = { EINVAL },
	[OP_REGION_IO] = { EIO, EINVAL, EAGAIN },
	[OP_AER] = { 0 },
};

/**
 * struct stress - one function under stress and what the threads saw
 * @bdf: the function
 * @h: its VFIO descriptors
 * @bar0: offset of the register region in the device file
 * @bar2: offset of the memory region
 * @bar2_size: its size
 * @lock: guards @data_fd
 * @data_fd: the data file the state walker opened last, or -1
 * @data_gen: bumped with each new @data_fd
 * @stop: set to end the workers
 * @progress: bumped by every completed call: the hang detector reads it
 * @ops: calls made, per kind
 * @errs: calls that failed with an allowed errno, per kind
 * @unexpected: calls that failed with an errno they may not return
 * @first: the first of those, as text
 * @aer_port: the root port to inject AER at, or NULL
 * @no_sysfs: no sysfs resets from now on (an unbind is about to hold the
 *	device lock, and a sysfs reset would wait for it while the unbind
 *	waits for this process)
 * @in_sysfs: the resetter is in (or about to enter) a sysfs reset
 */
struct stress {
	const char *bdf;
	struct vfio_handle h;
	uint64_t bar0, bar2, bar2_size;
	pthread_mutex_t lock;
	int data_fd;
	unsigned int data_gen;
	atomic_bool stop;
	atomic_ulong progress;
	atomic_uint ops[OP_NR];
	atomic_uint errs[OP_NR];
	atomic_uint unexpected;
	char first[256];
	const char *aer_port;
	atomic_bool no_sysfs;
	atomic_bool in_sysfs;
};

static unsigned int env_uint(const char *name, unsigned int dflt)
{
	const char *v = getenv(name);

	return v && *v ? (unsigned int)strtoul(v, NULL, 0) : dflt;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Account one call of kind @kind that returned @err (0 or a positive errno). */
static void note(struct stress *s, enum op kind, int err)
{
	unsigned int i;

	atomic_fetch_add(&s->ops[kind], 1);
	atomic_fetch_add(&s->progress, 1);
	if (!err)
		return;
	for (i = 0; i < 6 && allowed[kind][i]; i++) {
		if (allowed[kind][i] == err) {
			atomic_fetch_add(&s->errs[kind], 1);
			return;
		}
	}
	if (!atomic_fetch_add(&s->unexpected, 1))
		snprintf(s->first, sizeof(s->first), "%s: %s", op_name[kind],
			 strerror(err));
}

static int sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = errno;
	close(fd);
	return ret;
}

static int dev_path_write(const char *bdf, const char *file, const char *val)
{
	char path[160];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, file);
	return sysfs_write(path, val);
}

static int region_offset(int dev, unsigned int index, uint64_t *off,
			 uint64_t *size)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = index };

	if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &ri))
		return -errno;
	*off = ri.offset;
	if (size)
		*size = ri.size;
	return 0;
}

static int stress_open(struct stress *s, char *why, size_t len)
{
	int ret;

	ret = vfio_open_device(s->bdf, &s->h, why, len);
	if (ret)
		return ret;
	ret = region_offset(s->h.device, VFIO_PCI_BAR0_REGION_INDEX, &s->bar0,
			    NULL);
	if (!ret)
		ret = region_offset(s->h.device, VFIO_PCI_BAR2_REGION_INDEX,
				    &s->bar2, &s->bar2_size);
	if (ret)
		snprintf(why, len, "region info: %s", strerror(-ret));
	return ret;
}

/* Take the published data file (the caller closes it). */
static void drop_data_fd(struct stress *s)
{
	pthread_mutex_lock(&s->lock);
	if (s->data_fd >= 0)
		close(s->data_fd);
	s->data_fd = -1;
	pthread_mutex_unlock(&s->lock);
}

static void stress_close(struct stress *s)
{
	drop_data_fd(s);
	vfio_close_device(&s->h);
}

/* Walk the states at random; publish each data file an arc opens. */
static void *walker(void *arg)
{
	static const uint32_t states[] = {
		VFIO_DEVICE_STATE_RUNNING, VFIO_DEVICE_STATE_STOP,
		VFIO_DEVICE_STATE_STOP_COPY, VFIO_DEVICE_STATE_RESUMING,
		VFIO_DEVICE_STATE_RUNNING_P2P, VFIO_DEVICE_STATE_PRE_COPY,
		VFIO_DEVICE_STATE_PRE_COPY_P2P,
	};
	struct stress *s = arg;
	unsigned int seed = 1;
	uint32_t st;
	int fd, ret;

	while (!atomic_load(&s->stop)) {
		ret = vfmig_set_state(s->h.device, states[rand_r(&seed) % 7],
				      &fd);
		note(s, OP_SET_STATE, -ret);
		if (!ret && fd >= 0) {
			pthread_mutex_lock(&s->lock);
			if (s->data_fd >= 0)
				close(s->data_fd);
			s->data_fd = fd;
			s->data_gen++;
			pthread_mutex_unlock(&s->lock);
			/* Let the data file live a while: the user needs one. */
			usleep(rand_r(&seed) % 10000);
		}
		/* ERROR is left by a reset only (the uAPI's rule). */
		if (!vfmig_get_state(s->h.device, &st) &&
		    st == VFIO_DEVICE_STATE_ERROR)
			note(s, OP_DEV_RESET,
			     ioctl(s->h.device, VFIO_DEVICE_RESET) ? errno : 0);
		usleep(rand_r(&seed) % 2000);
	}
	return NULL;
}

/* Use whatever data file is open, as a VMM (or a buggy one) would. */
static void *data_user(void *arg)
{
	static __thread unsigned char buf[64 * 1024];
	struct vfio_precopy_info pi;
	struct stress *s = arg;
	unsigned int seed = 2, k, op, gen, dead_gen = 0;
	struct pollfd pfd;
	bool writer;
	ssize_t n;
	int fd, err;

	while (!atomic_load(&s->stop)) {
		pthread_mutex_lock(&s->lock);
		fd = s->data_fd >= 0 && s->data_gen != dead_gen ? dup(s->data_fd) : -1;
		gen = s->data_gen;
		pthread_mutex_unlock(&s->lock);
		if (fd < 0) {
			usleep(500);
			continue;
		}
		/* Mostly the call the file is for; the other way sometimes. */
		writer = (fcntl(fd, F_GETFL) & O_ACCMODE) == O_WRONLY;
		for (k = rand_r(&seed) % 16; k; k--) {
			op = rand_r(&seed) % 6;
			if (op <= 2 && rand_r(&seed) % 8)
				op = writer ? 2 : 0;
			switch (op) {
			case 0:
			case 1:
				n = read(fd, buf, rand_r(&seed) % sizeof(buf) + 1);
				err = n < 0 ? errno : 0;
				note(s, OP_READ, err);
				break;
			case 2:
				/*
				 * Junk, which a resuming file must refuse
				 * cleanly. (Not real streams: the loads they
				 * start, racing resets, crashed the rig's
				 * emulator; Documentation/hardening.md.)
				 */
				memset(buf, rand_r(&seed), 4096);
				n = write(fd, buf, rand_r(&seed) % 4096 + 1);
				err = n < 0 ? errno : 0;
				note(s, OP_WRITE, err);
				break;
			case 3:
				pfd = (struct pollfd){ .fd = fd,
						       .events = POLLIN | POLLOUT };
				err = poll(&pfd, 1, rand_r(&seed) % 3) < 0 ? errno : 0;
				note(s, OP_POLL, err);
				break;
			case 4:
				err = lseek(fd, 0, SEEK_SET) < 0 ? errno : EPROTO;
				note(s, OP_LSEEK, err);
				break;
			default:
				pi = (struct vfio_precopy_info){ .argsz = sizeof(pi) };
				err = ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &pi) ? errno : 0;
				note(s, OP_PRECOPY_INFO, err);
			}
			/*
			 * A dead file stays dead: once it says so, wait for
			 * the walker's next one rather than spin on this.
			 */
			if (err == ENODEV) {
				dead_gen = gen;
				break;
			}
		}
		close(fd);
	}
	return NULL;
}

/* Resets, by ioctl and through sysfs, at random intervals. */
static void *resetter(void *arg)
{
	struct stress *s = arg;
	unsigned int seed = 3, i = 0;

	while (!atomic_load(&s->stop)) {
		usleep(2000 + rand_r(&seed) % 18000);
		/*
		 * Dekker with fence_sysfs(): the flag is raised before the
		 * check, so either the fence sees this reset or it sees the fence.
		 */
		atomic_store(&s->in_sysfs, true);
		if (++i % 5 == 0 && !atomic_load(&s->no_sysfs))
			note(s, OP_SYSFS_RESET, dev_path_write(s->bdf, "reset", "1"));
		else
			note(s, OP_DEV_RESET, ioctl(s->h.device, VFIO_DEVICE_RESET) ?
			     errno : 0);
		atomic_store(&s->in_sysfs, false);
	}
	return NULL;
}

/* No sysfs reset starts after this returns, and none is under way. */
static void fence_sysfs(struct stress *s)
{
	atomic_store(&s->no_sysfs, true);
	while (atomic_load(&s->in_sysfs))
		usleep(1000);
}

/* Queries and region I/O, allowed in every state. */
static void *querier(void *arg)
{
	unsigned char buf[4096];
	struct stress *s = arg;
	unsigned int seed = 4;
	uint64_t size;
	uint32_t st;
	ssize_t n;

	while (!atomic_load(&s->stop)) {
		switch (rand_r(&seed) % 4) {
		case 0:
			note(s, OP_DATA_SIZE, -vfmig_data_size(s->h.device, &size));
			break;
		case 1:
			note(s, OP_GET_STATE, -vfmig_get_state(s->h.device, &st));
			break;
		case 2:
			n = pread(s->h.device, buf, 4, s->bar0 + 4 * (rand_r(&seed) % 4));
			note(s, OP_REGION_IO, n < 0 ? errno : 0);
			break;
		default:
			n = pwrite(s->h.device, buf, sizeof(buf), s->bar2 +
				   (rand_r(&seed) % (s->bar2_size / sizeof(buf))) *
				   sizeof(buf));
			note(s, OP_REGION_IO, n < 0 ? errno : 0);
		}
		usleep(rand_r(&seed) % 1000);
	}
	return NULL;
}

/* AER: a fatal error at the function's root port, every few seconds. */
static void *aer_injector(void *arg)
{
	struct stress *s = arg;
	char cmd[256];
	int i;

	snprintf(cmd, sizeof(cmd),
		 "timeout 60 python3 /opt/vfmig/tests/guest/aer_inject.py %s",
		 s->aer_port);
	while (!atomic_load(&s->stop)) {
		/* An injection that fails is a broken rig: no errno allows it. */
		note(s, OP_AER, system(cmd) ? EIO : 0);
		for (i = 0; i < 30 && !atomic_load(&s->stop); i++)
			usleep(100000);
	}
	return NULL;
}

/* The workers of one run: started together, stopped together. */
struct crew {
	pthread_t t[5];
	unsigned int n;
};

static bool start_workers(struct stress *s, struct crew *c, bool aer)
{
	void *(*fn[])(void *) = { walker, data_user, resetter, querier,
				  aer_injector };
	unsigned int want = aer ? 5 : 4;

	atomic_store(&s->stop, false);
	for (c->n = 0; c->n < want; c->n++)
		if (pthread_create(&c->t[c->n], NULL, fn[c->n], s))
			break;
	return c->n == want;
}

/* Stop and join the workers; a worker stuck in the kernel ends the test. */
static void stop_workers(struct stress *s, struct crew *c)
{
	unsigned int stall = env_uint("VFMIG_STRESS_STALL", 60), i;
	struct timespec ts;

	atomic_store(&s->stop, true);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += stall;
	for (i = 0; i < c->n; i++) {
		if (pthread_timedjoin_np(c->t[i], NULL, &ts)) {
			check_result(0, "the workers stop",
				     "a worker is still in a call %u s later", stall);
			/* The process cannot go on with a thread stuck in it. */
			exit(1);
		}
	}
	c->n = 0;
}

/*
 * Watch running workers for @secs seconds: a run in which no call returns
 * for VFMIG_STRESS_STALL seconds is a hang.
 */
static bool watch(struct stress *s, unsigned int secs, char *why, size_t len)
{
	unsigned int stall = env_uint("VFMIG_STRESS_STALL", 60);
	double end = now() + secs, seen = now();
	unsigned long last = 0, p;

	while (now() < end) {
		sleep(1);
		p = atomic_load(&s->progress);
		if (p != last) {
			last = p;
			seen = now();
		} else if (now() - seen > stall) {
			snprintf(why, len, "no call returned for %u s: hung", stall);
			return false;
		}
	}
	return true;
}

/**
 * run_workers() - run the workers for @secs seconds
 * @s: the function, open
 * @secs: how long
 * @aer: also inject AER
 * @why: set on failure
 * @len: size of @why
 *
 * Return: true if the workers made progress throughout and all stopped.
 */
static bool run_workers(struct stress *s, unsigned int secs, bool aer,
			char *why, size_t len)
{
	struct crew c;
	bool ok;

	ok = start_workers(s, &c, aer);
	if (!ok)
		snprintf(why, len, "pthread_create failed");
	else
		ok = watch(s, secs, why, len);
	stop_workers(s, &c);
	return ok;
}

static void print_counts(struct stress *s)
{
	unsigned int i;

	printf("# calls (failed with an allowed errno):");
	for (i = 0; i < OP_NR; i++)
		if (atomic_load(&s->ops[i]))
			printf(" %s %u (%u)", op_name[i], atomic_load(&s->ops[i]),
			       atomic_load(&s->errs[i]));
	printf("\n");
	fflush(stdout);
}

/*
 * After the storm, the function must still migrate its memory: a pattern
 * written through the region, saved in STOP_COPY, overwritten, loaded
 * back, must read back whole.
 */
static bool still_migrates(struct stress *s, char *why, size_t len)
{
	size_t sz = s->bar2_size, i;
	unsigned char *a = malloc(sz), *b = malloc(sz);
	struct vfmig_buf saved = { 0 };
	bool eof = false, ok = false;
	int dev = s->h.device, fd = -1, ret;

	if (!a || !b) {
		snprintf(why, len, "no memory");
		goto out;
	}
	for (i = 0; i < sz; i++)
		a[i] = (unsigned char)(i * 131 + 7 + (i >> 12));
	if (ioctl(dev, VFIO_DEVICE_RESET) ||
	    pwrite(dev, a, sz, s->bar2) != (ssize_t)sz) {
		snprintf(why, len, "reset or region write: %s", strerror(errno));
		goto out;
	}
	ret = vfmig_set_state(dev, VFIO_DEVICE_STATE_STOP_COPY, &fd);
	if (!ret)
		ret = vfmig_read_data(fd, &saved, &eof);
	if (fd >= 0)
		close(fd);
	fd = -1;
	if (!ret)
		ret = vfmig_set_state(dev, VFIO_DEVICE_STATE_RUNNING, NULL);
	if (ret || !eof) {
		snprintf(why, len, "save: %s", ret ? strerror(-ret) : "no EOF");
		goto out;
	}
	memset(b, 0, sz);
	if (pwrite(dev, b, sz, s->bar2) != (ssize_t)sz) {
		snprintf(why, len, "region write: %s", strerror(errno));
		goto out;
	}
	ret = vfmig_set_state(dev, VFIO_DEVICE_STATE_RESUMING, &fd);
	if (!ret)
		ret = vfmig_write_data(fd, saved.data, saved.len, 32768, NULL);
	if (!ret)
		ret = vfmig_set_state(dev, VFIO_DEVICE_STATE_STOP, NULL);
	if (!ret)
		ret = vfmig_set_state(dev, VFIO_DEVICE_STATE_RUNNING, NULL);
	if (ret) {
		snprintf(why, len, "load: %s", strerror(-ret));
		goto out;
	}
	if (pread(dev, b, sz, s->bar2) != (ssize_t)sz || memcmp(a, b, sz)) {
		snprintf(why, len, "the loaded memory differs from the saved");
		goto out;
	}
	ok = true;
out:
	if (fd >= 0)
		close(fd);
	vfmig_buf_free(&saved);
	free(a);
	free(b);
	return ok;
}

static struct stress *stress_new(struct __test_metadata *_metadata)
{
	static struct stress s;
	char why[256];

	memset(&s, 0, sizeof(s));
	s.bdf = getenv("VFMIG_BDF_A");
	s.aer_port = getenv("VFMIG_AER_PORT");
	s.data_fd = -1;
	pthread_mutex_init(&s.lock, NULL);
	ASSERT_NE(NULL, s.bdf) TH_LOG("set VFMIG_BDF_A");
	ASSERT_EQ(0, stress_open(&s, why, sizeof(why))) TH_LOG("%s", why);
	return &s;
}

/* The harness has timeouts on fixture tests only: an empty fixture. */
FIXTURE(stress) {
	int unused;
};

FIXTURE_SETUP(stress)
{
}

FIXTURE_TEARDOWN(stress)
{
}

static void workers_test(struct __test_metadata *_metadata, bool aer)
{
	unsigned int secs = env_uint("VFMIG_STRESS_SECS", 30);
	struct stress *s = stress_new(_metadata);
	char why[256] = "";
	bool ran;

	if (aer && !s->aer_port) {
		stress_close(s);
		SKIP(return, "no VFMIG_AER_PORT");
	}
	ran = run_workers(s, secs, aer, why, sizeof(why));
	print_counts(s);
	check_result(ran, "no hang: every worker made progress and stopped",
		     "%s", why);
	check_result(!atomic_load(&s->unexpected),
		     "every call returned success or an errno the uAPI allows",
		     "%u unexpected, first: %s", atomic_load(&s->unexpected),
		     s->first);
	check_result(atomic_load(&s->ops[OP_READ]) &&
		     atomic_load(&s->ops[OP_SET_STATE]) &&
		     atomic_load(&s->ops[OP_DEV_RESET]) &&
		     atomic_load(&s->ops[OP_SYSFS_RESET]) &&
		     (!aer || atomic_load(&s->ops[OP_AER])),
		     "every kind of call ran", "see the counts above");
	/*
	 * AER recovery's secondary bus reset clears the function's config
	 * space, and vfio-pci restores it only when the device is closed
	 * (it has no slot_reset): reopen before checking the function.
	 */
	stress_close(s);
	check_result(!stress_open(s, why, sizeof(why)) &&
		     still_migrates(s, why, sizeof(why)),
		     "afterwards the function still migrates its memory", "%s",
		     why);
	stress_close(s);
	checks_end(_metadata);
}

TEST_F_TIMEOUT(stress, workers, 900)
{
	workers_test(_metadata, false);
}

TEST_F_TIMEOUT(stress, workers_with_aer, 900)
{
	workers_test(_metadata, true);
}

/*
 * The device closed while data files are still open (a VMM that dies or
 * forgets): the files must die (ENODEV), the next open must find RUNNING.
 */
TEST_F_TIMEOUT(stress, close_with_live_data_fds, 600)
{
	static const uint32_t targets[] = {
		VFIO_DEVICE_STATE_STOP_COPY, VFIO_DEVICE_STATE_PRE_COPY,
		VFIO_DEVICE_STATE_RESUMING,
	};
	unsigned int rounds = env_uint("VFMIG_STRESS_ROUNDS", 30), r, bad = 0;
	struct stress *s = stress_new(_metadata);
	char why[256] = "", buf[4096];
	uint32_t st = 0;
	int fd;

	for (r = 0; r < rounds && !bad; r++) {
		bool resuming = targets[r % 3] == VFIO_DEVICE_STATE_RESUMING;
		ssize_t n;

		fd = -1;
		if (vfmig_set_state(s->h.device, targets[r % 3], &fd) || fd < 0) {
			snprintf(why, sizeof(why), "round %u: no data file", r);
			bad++;
			break;
		}
		/* Every other round the file has been used before the close. */
		if (r % 2 && !resuming && read(fd, buf, sizeof(buf)) < 0) {
			snprintf(why, sizeof(why), "round %u: read: %s", r,
				 strerror(errno));
			bad++;
		}
		vfio_close_device(&s->h);
		memset(buf, 0, sizeof(buf));
		n = resuming ? write(fd, buf, sizeof(buf)) :
			       read(fd, buf, sizeof(buf));
		if (n >= 0 || errno != ENODEV) {
			snprintf(why, sizeof(why),
				 "round %u: the data file outlived the device: %s",
				 r, n >= 0 ? "I/O worked" : strerror(errno));
			bad++;
		}
		close(fd);
		if (stress_open(s, why, sizeof(why)) ||
		    vfmig_get_state(s->h.device, &st) ||
		    st != VFIO_DEVICE_STATE_RUNNING) {
			snprintf(why + strlen(why), sizeof(why) - strlen(why),
				 " round %u: reopened in %s", r,
				 vfmig_state_name(st));
			bad++;
		}
	}
	check_result(!bad, "a closed device's data files die; it reopens RUNNING",
		     "%s", why);
	check_result(still_migrates(s, why, sizeof(why)),
		     "afterwards the function still migrates its memory", "%s",
		     why);
	stress_close(s);
	checks_end(_metadata);
}

/* The device's path in its driver's directory, to unbind it. */
static int unbind_function(const char *bdf)
{
	return dev_path_write(bdf, "driver/unbind", bdf);
}

/* driver_override is still set: drivers_probe binds it to vfmig again. */
static int rebind(const char *bdf)
{
	return sysfs_write("/sys/bus/pci/drivers_probe", bdf);
}

struct unbinder {
	const char *bdf;
	int err;
	atomic_bool done;
};

static void *unbind_thread(void *arg)
{
	struct unbinder *u = arg;

	u->err = unbind_function(u->bdf);
	atomic_store(&u->done, true);
	return NULL;
}

static int req_eventfd(int dev)
{
	char b[sizeof(struct vfio_irq_set) + sizeof(int)];
	struct vfio_irq_set *set = (struct vfio_irq_set *)b;
	int efd = eventfd(0, EFD_CLOEXEC);

	if (efd < 0)
		return -errno;
	*set = (struct vfio_irq_set){
		.argsz = sizeof(b), .index = VFIO_PCI_REQ_IRQ_INDEX,
		.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
		.start = 0, .count = 1,
	};
	memcpy(set->data, &efd, sizeof(int));
	if (ioctl(dev, VFIO_DEVICE_SET_IRQS, set)) {
		close(efd);
		return -errno;
	}
	return efd;
}

/*
 * Unbind while every worker runs (kernel review #2: an unbind during an arc
 * livelocked). vfio asks the user for the device through the request
 * eventfd, as for a hot-unplug; this answers as QEMU does: it stops using
 * the device and closes it. The unbind must then complete, and a rebind
 * must give a working function.
 */
TEST_F_TIMEOUT(stress, unbind_under_load, 900)
{
	unsigned int rounds = env_uint("VFMIG_STRESS_UNBINDS", 5), r, bad = 0;
	unsigned int secs = env_uint("VFMIG_STRESS_SECS", 30) / rounds + 1;
	struct stress *s = stress_new(_metadata);
	char why[256] = "";
	struct unbinder u;
	struct pollfd pfd;
	struct crew c;
	pthread_t t;
	double t0;
	int efd;

	for (r = 0; r < rounds && !bad; r++) {
		efd = req_eventfd(s->h.device);
		if (efd < 0) {
			snprintf(why, sizeof(why), "request eventfd: %s",
				 strerror(-efd));
			bad++;
			break;
		}
		atomic_store(&s->no_sysfs, false);
		if (!start_workers(s, &c, false) || !watch(s, secs, why, sizeof(why))) {
			stop_workers(s, &c);
			close(efd);
			bad++;
			break;
		}
		/* Pull the function away while the workers run. */
		fence_sysfs(s);
		u = (struct unbinder){ .bdf = s->bdf };
		pthread_create(&t, NULL, unbind_thread, &u);
		pfd = (struct pollfd){ .fd = efd, .events = POLLIN };
		if (poll(&pfd, 1, 30000) != 1) {
			snprintf(why, sizeof(why), "round %u: no device request in 30 s", r);
			bad++;
		}
		stop_workers(s, &c);
		close(efd);
		stress_close(s);
		t0 = now();
		while (!atomic_load(&u.done) && now() - t0 < 60)
			usleep(10000);
		if (!atomic_load(&u.done)) {
			check_result(0, "an unbind completes once the device is closed",
				     "round %u: unbind still blocked 60 s after the close", r);
			exit(1);
		}
		pthread_join(t, NULL);
		if (u.err || rebind(s->bdf) || stress_open(s, why, sizeof(why))) {
			snprintf(why + strlen(why), sizeof(why) - strlen(why),
				 " round %u: unbind %s, then rebind or open failed",
				 r, strerror(u.err));
			bad++;
		}
	}
	print_counts(s);
	check_result(!bad, "unbinds under load complete and the function comes back",
		     "%s", why);
	check_result(!atomic_load(&s->unexpected),
		     "every call returned success or an errno the uAPI allows",
		     "%u unexpected, first: %s", atomic_load(&s->unexpected),
		     s->first);
	check_result(!bad && still_migrates(s, why, sizeof(why)),
		     "afterwards the function still migrates its memory", "%s",
		     why);
	stress_close(s);
	checks_end(_metadata);
}

static int run(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/*
 * `modprobe -r` with a data file open after the device went away: the file
 * holds the module (its file operations live there), so the removal must
 * be refused until it is closed, and the file must answer ENODEV, not
 * jump into freed module text.
 */
TEST_F_TIMEOUT(stress, modprobe_r_with_data_fd_open, 600)
{
	const char *mod = getenv("VFMIG_MODULE") ? : "vfmig";
	struct stress *s = stress_new(_metadata);
	char cmd[128], why[256] = "", buf[64];
	int fd = -1, ret, rm_busy, rm_ok;
	ssize_t n;

	ret = vfmig_set_state(s->h.device, VFIO_DEVICE_STATE_STOP_COPY, &fd);
	ASSERT_TRUE(!ret && fd >= 0) TH_LOG("-> STOP_COPY: %s", strerror(-ret));
	stress_close(s);
	ASSERT_EQ(0, unbind_function(s->bdf)) TH_LOG("unbind: %s", strerror(errno));
	snprintf(cmd, sizeof(cmd), "modprobe -r %s 2>/dev/null", mod);
	rm_busy = run(cmd);
	n = read(fd, buf, sizeof(buf));
	check_result(n < 0 && errno == ENODEV,
		     "the data file of an unbound function answers ENODEV",
		     "read %zd: %s", n, n < 0 ? strerror(errno) : "data");
	close(fd);
	rm_ok = run(cmd);
	check_result(rm_busy != 0 && rm_ok == 0,
		     "modprobe -r is refused while a data file is open, then works",
		     "with the file open: exit %d; after the close: exit %d",
		     rm_busy, rm_ok);
	snprintf(cmd, sizeof(cmd), "modprobe %s", mod);
	ret = run(cmd) || rebind(s->bdf) || stress_open(s, why, sizeof(why));
	ASSERT_EQ(0, ret) TH_LOG("modprobe, rebind and open: %s", why);
	check_result(still_migrates(s, why, sizeof(why)),
		     "after a reload the function migrates its memory", "%s", why);
	stress_close(s);
	checks_end(_metadata);
}

TEST_HARNESS_MAIN
