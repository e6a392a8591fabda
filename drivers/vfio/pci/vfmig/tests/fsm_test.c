// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit: the migration state machine (drivers/vfio/pci/vfmig/fsm.c).
 *
 * For the flags vfmig advertises (STOP_COPY | P2P | PRE_COPY, see
 * vfmig_mig_init(); the vfio core never asks a driver for states its flags
 * lack, so other flag sets would count configurations vfmig cannot be in)
 * and each (current, requested) pair of the eight states, the driver is
 * brought to the current state, asked for the
 * requested one, and checked against an oracle written from the uAPI text
 * (include/uapi/linux/vfio.h), not from vfio_main.c's table: the arcs that
 * exist, shortest paths with no saving state inside unless the whole path
 * stays in the saving group, the backend calls each arc makes (as
 * Documentation/migration.rst specifies), the data file that comes back,
 * what happens to the file held before, and that nothing leaks.
 */
#include <kunit/test.h>
#include <linux/file.h>
#include <linux/vfio.h>

#include "fake.h"
#include "migf.h"

#define S(x)		VFIO_DEVICE_STATE_##x
#define NSTATES		(VFIO_DEVICE_STATE_PRE_COPY_P2P + 1)
#define F_SC		VFIO_MIGRATION_STOP_COPY
#define F_P2P		VFIO_MIGRATION_P2P
#define F_PRE		VFIO_MIGRATION_PRE_COPY

/* What vfmig_mig_init() advertises; the oracle itself takes any set. */
#define VFMIG_FLAGS	(F_SC | F_P2P | F_PRE)

/* The uAPI's arcs and the flags that make each exist. */
struct arc {
	enum vfio_device_mig_state from, to;
	unsigned int needs;	/* all of these flags */
	unsigned int absent;	/* none of these */
};

static const struct arc arcs[] = {
	{ S(RUNNING), S(STOP), 0, F_P2P },
	{ S(STOP), S(RUNNING), 0, F_P2P },
	{ S(STOP), S(STOP_COPY), 0, 0 },
	{ S(STOP_COPY), S(STOP), 0, 0 },
	{ S(STOP), S(RESUMING), 0, 0 },
	{ S(RESUMING), S(STOP), 0, 0 },
	{ S(RUNNING), S(RUNNING_P2P), F_P2P, 0 },
	{ S(RUNNING_P2P), S(RUNNING), F_P2P, 0 },
	{ S(RUNNING_P2P), S(STOP), F_P2P, 0 },
	{ S(STOP), S(RUNNING_P2P), F_P2P, 0 },
	{ S(RUNNING), S(PRE_COPY), F_PRE, 0 },
	{ S(PRE_COPY), S(RUNNING), F_PRE, 0 },
	{ S(PRE_COPY), S(STOP_COPY), F_PRE, F_P2P },
	{ S(PRE_COPY), S(PRE_COPY_P2P), F_PRE | F_P2P, 0 },
	{ S(PRE_COPY_P2P), S(PRE_COPY), F_PRE | F_P2P, 0 },
	{ S(PRE_COPY_P2P), S(RUNNING_P2P), F_PRE | F_P2P, 0 },
	{ S(RUNNING_P2P), S(PRE_COPY_P2P), F_PRE | F_P2P, 0 },
	{ S(PRE_COPY_P2P), S(STOP_COPY), F_PRE | F_P2P, 0 },
};

static bool arc_exists(unsigned int flags, enum vfio_device_mig_state from,
		       enum vfio_device_mig_state to)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(arcs); i++)
		if (arcs[i].from == from && arcs[i].to == to &&
		    (flags & arcs[i].needs) == arcs[i].needs &&
		    !(flags & arcs[i].absent))
			return true;
	return false;
}

static bool state_supported(unsigned int flags, enum vfio_device_mig_state s)
{
	switch (s) {
	case S(RUNNING_P2P):
		return flags & F_P2P;
	case S(PRE_COPY):
		return flags & F_PRE;
	case S(PRE_COPY_P2P):
		return (flags & F_PRE) && (flags & F_P2P);
	case S(ERROR):
		return false;
	default:
		return true;
	}
}

static bool saving(enum vfio_device_mig_state s)
{
	return s == S(PRE_COPY) || s == S(PRE_COPY_P2P) || s == S(STOP_COPY);
}

/*
 * The oracle: the shortest path (breadth first), interior states limited
 * as the uAPI says. Returns the number of arcs, or -1 if the request is
 * invalid; fills @path with the states after @from. Fails the test if two
 * different shortest paths exist (the oracle would then be guessing).
 */
static int oracle_path(struct kunit *test, unsigned int flags,
		       enum vfio_device_mig_state from,
		       enum vfio_device_mig_state to,
		       enum vfio_device_mig_state *path)
{
	int dist[NSTATES], ways[NSTATES], prev[NSTATES];
	int queue[NSTATES], head = 0, tail = 0;
	bool in_group = saving(from) && saving(to);
	int s, n, len;

	if (!state_supported(flags, from) || !state_supported(flags, to))
		return -1;
	for (s = 0; s < NSTATES; s++) {
		dist[s] = -1;
		ways[s] = 0;
	}
	dist[from] = 0;
	ways[from] = 1;
	queue[tail++] = from;
	while (head < tail) {
		s = queue[head++];
		/* Only the start may be expanded unless interior is allowed. */
		if (s != from && (in_group ? !saving(s) :
				  (saving(s) || s == S(RESUMING))))
			continue;
		for (n = 0; n < NSTATES; n++) {
			if (!arc_exists(flags, s, n))
				continue;
			if (dist[n] < 0) {
				dist[n] = dist[s] + 1;
				prev[n] = s;
				ways[n] = ways[s];
				queue[tail++] = n;
			} else if (dist[n] == dist[s] + 1) {
				ways[n] += ways[s];
			}
		}
	}
	if (dist[to] < 0)
		return -1;
	KUNIT_EXPECT_EQ_MSG(test, ways[to], 1, "oracle: %d shortest paths %d->%d",
			    ways[to], from, to);
	len = dist[to];
	for (s = to, n = len - 1; n >= 0; s = prev[s], n--)
		path[n] = s;
	return len;
}

/* The backend calls one arc makes (Documentation/migration.rst). */
static int arc_calls(enum vfio_device_mig_state from,
		     enum vfio_device_mig_state to, enum fake_call *calls)
{
	int n = 0;

	if ((from == S(RUNNING) && to == S(RUNNING_P2P)) ||
	    (from == S(PRE_COPY) && to == S(PRE_COPY_P2P))) {
		calls[n++] = FAKE_QUIESCE;
	} else if ((from == S(RUNNING_P2P) && to == S(RUNNING)) ||
		   (from == S(PRE_COPY_P2P) && to == S(PRE_COPY))) {
		calls[n++] = FAKE_UNQUIESCE;
	} else if (from == S(RUNNING_P2P) && to == S(STOP)) {
		calls[n++] = FAKE_STOP;
	} else if (from == S(STOP) && to == S(RUNNING_P2P)) {
		calls[n++] = FAKE_START;
	} else if (from == S(RUNNING) && to == S(STOP)) {
		calls[n++] = FAKE_QUIESCE;
		calls[n++] = FAKE_STOP;
	} else if (from == S(STOP) && to == S(RUNNING)) {
		calls[n++] = FAKE_START;
		calls[n++] = FAKE_UNQUIESCE;
	} else if (from == S(PRE_COPY_P2P) && to == S(STOP_COPY)) {
		calls[n++] = FAKE_STOP;
		calls[n++] = FAKE_SAVE_REGS;
	} else if (from == S(PRE_COPY) && to == S(STOP_COPY)) {
		calls[n++] = FAKE_QUIESCE;
		calls[n++] = FAKE_STOP;
		calls[n++] = FAKE_SAVE_REGS;
	} else if (from == S(STOP) && to == S(STOP_COPY)) {
		calls[n++] = FAKE_SAVE_REGS;
	} else if (from == S(RESUMING) && to == S(STOP)) {
		calls[n++] = FAKE_LOAD_REGS;
	}
	return n;
}

struct pair {
	unsigned int flags;
	enum vfio_device_mig_state from, to;
};

static struct pair pairs[NSTATES * NSTATES];

/* Every (current, requested) pair, filled before the suite's cases run. */
static int pairs_init(struct kunit_suite *suite)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(pairs); i++) {
		pairs[i].flags = VFMIG_FLAGS;
		pairs[i].from = i / NSTATES;
		pairs[i].to = i % NSTATES;
	}
	return 0;
}

static void pair_desc(struct pair *p, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s->%s",
		 vfmig_state_name(p->from), vfmig_state_name(p->to));
}

/*
 * KUNIT_ARRAY_PARAM(), not a generator written by hand: the generator it
 * defines follows generate_params()' signature, to which a kernel after
 * 6.12 (7.2 has it) added the test as first argument, so the same code
 * builds with either.
 */
KUNIT_ARRAY_PARAM(pair, pairs, pair_desc);

/*
 * Bring a fresh fake to @state. Returns the data file that state holds
 * (saving or resuming), or NULL. ERROR is reached through a refused load.
 */
static struct file *reach(struct kunit *test, struct vfmig_fake *fake,
			  enum vfio_device_mig_state state)
{
	struct file *f;

	if (state == S(ERROR)) {
		f = fake_set_state(fake, S(RESUMING));
		KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
		KUNIT_ASSERT_EQ(test, PTR_ERR(fake_set_state(fake, S(STOP))),
				-EINVAL);
		KUNIT_ASSERT_EQ(test, fake_get_state(fake), S(ERROR));
		fput(f);
		return NULL;
	}
	f = fake_set_state(fake, state);
	KUNIT_ASSERT_FALSE_MSG(test, IS_ERR(f), "reaching %s: %ld",
			       vfmig_state_name(state), PTR_ERR(f));
	KUNIT_ASSERT_EQ(test, fake_get_state(fake), state);
	return f;
}

static void fsm_arc_table(struct kunit *test)
{
	const struct pair *p = test->param_value;
	enum vfio_device_mig_state path[NSTATES];
	enum fake_call want[FAKE_MAX_CALLS];
	int baseline = vfmig_fake_baseline();
	struct vfmig_fake *fake;
	struct file *held, *res;
	int len, i, nwant = 0;
	bool held_survives;
	s64 arcs, taken;

	/* With every flag, every state is reachable: nothing to skip. */
	KUNIT_ASSERT_TRUE(test, p->from == S(ERROR) ||
			  state_supported(p->flags, p->from));
	fake = vfmig_fake_create(test, p->flags);
	held = reach(test, fake, p->from);
	vfmig_fake_clear_calls(fake);

	len = oracle_path(test, p->flags, p->from, p->to, path);
	if (p->from == S(ERROR))
		len = -1;
	/* The load a path through RESUMING -> STOP needs. */
	if (len > 0 && p->from == S(RESUMING)) {
		size_t slen;
		u8 *stream = vfmig_fake_stream(fake, 0x5a, &slen);

		KUNIT_ASSERT_EQ(test, fake_write(test, held, stream, slen),
				(ssize_t)slen);
	}

	arcs = atomic64_read(&fake->vdev->stats.arcs);
	res = fake_set_state(fake, p->to);

	/* The status file's count: one per arc taken, none when refused. */
	taken = atomic64_read(&fake->vdev->stats.arcs) - arcs;
	KUNIT_EXPECT_EQ(test, taken, len < 0 ? 0 : len);
	if (len < 0) {
		KUNIT_EXPECT_EQ(test, PTR_ERR(res), -EINVAL);
		KUNIT_EXPECT_EQ(test, fake_get_state(fake), p->from);
		KUNIT_EXPECT_EQ(test, fake->ncalls, 0);
		if (held)
			KUNIT_EXPECT_FALSE(test, fake_file_dead(held));
	} else {
		KUNIT_ASSERT_FALSE_MSG(test, IS_ERR(res), "%ld", PTR_ERR(res));
		KUNIT_EXPECT_EQ(test, fake_get_state(fake), p->to);
		for (i = 0; i < len; i++)
			nwant += arc_calls(i ? path[i - 1] : p->from, path[i],
					   want + nwant);
		KUNIT_EXPECT_EQ(test, fake->ncalls, nwant);
		for (i = 0; i < min(nwant, fake->ncalls); i++)
			KUNIT_EXPECT_EQ_MSG(test, fake->calls[i], want[i],
					    "call %d", i);
		/* A new file exactly when the path enters a file's state. */
		if (len && p->to == S(RESUMING)) {
			KUNIT_EXPECT_FALSE(test, IS_ERR_OR_NULL(res));
			if (!IS_ERR_OR_NULL(res))
				KUNIT_EXPECT_FALSE(test, fake_file_saving(res));
		} else if (len && saving(p->to) && !saving(p->from)) {
			KUNIT_EXPECT_FALSE(test, IS_ERR_OR_NULL(res));
			if (!IS_ERR_OR_NULL(res))
				KUNIT_EXPECT_TRUE(test, fake_file_saving(res));
		} else {
			KUNIT_EXPECT_NULL(test, res);
		}
		held_survives = !len || (saving(p->from) && saving(p->to));
		if (held)
			KUNIT_EXPECT_EQ(test, fake_file_dead(held), !held_survives);
	}
	if (!IS_ERR_OR_NULL(res))
		fput(res);
	if (held)
		fput(held);
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
}

/* A few paths spelled out, in case the oracle and the driver agree wrongly. */
static void fsm_known_paths(struct kunit *test)
{
	struct vfmig_fake *fake = vfmig_fake_create(test, F_SC | F_P2P | F_PRE);
	int baseline = vfmig_fake_baseline();
	struct file *f;

	/* RUNNING -> STOP_COPY: quiesce, stop, snapshot; a saving file. */
	f = fake_set_state(fake, S(STOP_COPY));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	KUNIT_EXPECT_EQ(test, fake->ncalls, 3);
	KUNIT_EXPECT_EQ(test, fake->calls[0], FAKE_QUIESCE);
	KUNIT_EXPECT_EQ(test, fake->calls[1], FAKE_STOP);
	KUNIT_EXPECT_EQ(test, fake->calls[2], FAKE_SAVE_REGS);
	/* STOP_COPY -> RUNNING: via STOP and RUNNING_P2P; the file dies. */
	vfmig_fake_clear_calls(fake);
	KUNIT_EXPECT_NULL(test, fake_set_state(fake, S(RUNNING)));
	KUNIT_EXPECT_EQ(test, fake->ncalls, 2);
	KUNIT_EXPECT_EQ(test, fake->calls[0], FAKE_START);
	KUNIT_EXPECT_EQ(test, fake->calls[1], FAKE_UNQUIESCE);
	KUNIT_EXPECT_TRUE(test, fake_file_dead(f));
	fput(f);
	/* PRE_COPY -> STOP_COPY: the same file goes on. */
	f = fake_set_state(fake, S(PRE_COPY));
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f));
	vfmig_fake_clear_calls(fake);
	KUNIT_EXPECT_NULL(test, fake_set_state(fake, S(STOP_COPY)));
	KUNIT_EXPECT_EQ(test, fake->ncalls, 3);
	KUNIT_EXPECT_FALSE(test, fake_file_dead(f));
	fput(f);
	vfmig_fake_close(fake);
	vfmig_fake_expect_no_files(test, baseline);
}

static struct kunit_case fsm_cases[] = {
	KUNIT_CASE(fsm_known_paths),
	KUNIT_CASE_PARAM(fsm_arc_table, pair_gen_params),
	{}
};

static struct kunit_suite fsm_suite = {
	.name = "vfmig_fsm",
	.suite_init = pairs_init,
	.test_cases = fsm_cases,
};

kunit_test_suite(fsm_suite);
