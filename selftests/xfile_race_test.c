// SPDX-License-Identifier: GPL-2.0
/*
 * xfile_race_test: lockless lookups racing with ANOTHER file's reuse of the
 * same slab object under the same handle value.
 *
 * Objects come from a SLAB_TYPESAFE_BY_RCU cache and handles are per-file
 * counters, so the first creates of every new file get the same handles. A
 * lookup in file A that loaded a slot pointer and was then preempted may
 * resume after A's object was freed and its memory reused for file B's
 * object with the same handle: the handle and state checks pass, and only
 * the owner tells the two apart. Each round of the churner thread opens
 * two fresh files and sets that up on purpose:
 *
 *   A creates XR_OBJS objects tagged (A, round, i) and goes to XR_FD, where
 *   the readers look; pause; A disposes them, the last first; B creates
 *   XR_OBJS objects tagged (B, round, i) with the same handles (SLUB hands
 *   back the objects just freed on this CPU, the last freed first, so B's
 *   i-th object is A's i-th object's memory); pause; the churner checks
 *   B's objects and closes B.
 *
 * Readers hammer "XR_FD, handle of object i" through one lookup path each
 * (a fixture variant per path); there are more of them than CPUs and some
 * share the churner's CPU, whose wake-ups then preempt them anywhere in
 * the kernel when it runs with preempt=full (make check's race tier). A
 * reader fails the test at once if it ever gets anything of B's, or
 * anything but A's own object, EIDRM, ENOENT or EBADF; the churner fails
 * it when B's objects changed behind B's back (disposed, or given a child,
 * through A). The module counters must stay consistent meanwhile and
 * settle to what the churner counted at the end.
 *
 * The attacker tests play the same game across users: an unprivileged
 * process churns fresh files of its own (A) while root churns fresh files
 * pinning a mode-0600 file or holding token values (B) on the same CPU,
 * all of them with the same handle.
 *
 * The share test races imports in threads and other processes with the
 * dispose of the exported handles, the close of their table and the close
 * of the export fds (see "The share test" below): an import must name the
 * object exported, in the importer's own table, and each object must end
 * exactly once.
 *
 * Each test runs for KDISPOSE_RACE_SECS seconds (default XR_SECS, a tenth
 * under KDISPOSE_SLOW) or until its first failure, and prints how many
 * rounds it ran and how long the failure took to come.
 */
#include <grp.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kdispose_test.h"

/* The fd number of the current round's file A, where readers look. */
#define XR_FD		600

/* Objects per file and round: that many handle values collide. */
#define XR_OBJS		8

/*
 * The attacker tests: the attacker's files per round (one object each, so
 * that every object of every file has the same handle), root's ring.
 */
#define XR_ATTACK_FILES	4
#define XR_ROOT_FILES	(2 * XR_ATTACK_FILES)
#define XR_MAX_FILES	XR_ATTACK_FILES

/*
 * Reader threads, and how many of them share the churner's CPU: the
 * xfile tests', and the attacker's (whose CPU root's churner shares too).
 */
#define XR_READERS	6
#define XR_PINNED	2
#define XR_ATTACK_READERS	8
#define XR_ATTACK_PINNED	3
#define XR_MAX_READERS	XR_ATTACK_READERS

/* Handles per KDISPOSE_IOC_DISPOSE_BATCH of a reader. */
#define XR_BATCH	2

/* Each pause of a round: long enough to let a preempted reader resume. */
#define XR_PAUSE_US	20

/*
 * Default time budget of one test, in seconds: the ten of them must fit in
 * the 180 s that selftests/settings gives a program.
 */
#define XR_SECS		10

/*
 * However slow the kernel (a debug kernel under emulation, with a tenth of
 * the budget), a test runs this many rounds and finds A's objects at least
 * once, unless XR_EXTRA_SECS more pass.
 */
#define XR_MIN_ROUNDS	32
#define XR_EXTRA_SECS	120

/* Rounds between two checks of the module counters. */
#define XR_COUNTERS_EVERY	64

/* Longest wait for the counters to settle at the end. */
#define XR_SETTLE_MS	10000

/* A token value names its object: magic, role, round, index. */
#define XR_MAGIC	0x7872ULL	/* "xr" */
#define XR_ROLE_A	'A'
#define XR_ROLE_B	'B'
#define XR_ROLE_ROOT	'R'	/* B in the attacker tests */
#define XR_ROLE_CHILD	'C'

#define NOBODY		65534

#ifndef __printf
#define __printf(a, b)	__attribute__((format(printf, a, b)))
#endif

/* Return: the value of environment variable @name, or @def. */
static unsigned long xr_env(const char *name, unsigned long def)
{
	const char *s = getenv(name);

	return s && *s ? strtoul(s, NULL, 0) : def;
}

/* The lookup paths, one fixture variant each. */
enum xr_path {
	XR_OP_TOKEN_GET,
	XR_QUERY,
	XR_MMAP,
	XR_FILE_INSTALL,
	XR_URING_DISPOSE,
	XR_BATCH_DISPOSE,
	XR_CREATE_CHILD,
};

/* What a churner thread plays. */
enum xr_churn {
	XR_CHURN_PAIR,		/* A, then B: the xfile tests */
	XR_CHURN_ATTACKER,	/* A only: the unprivileged user */
	XR_CHURN_ROOT,		/* B only, over a ring of files: root */
};

/* What the churner, the readers and the test's main thread share. */
struct xr_race {
	enum xr_path path;
	enum xr_churn churn;
	__u32 type;		/* of the churned objects */
	unsigned int nfiles;	/* A's files per round, at XR_FD + f */
	unsigned int nobjs;	/* objects per file and round */
	int nreaders;		/* reader threads */
	int npinned;		/* of which on the churner's CPU */
	int role_b;		/* B's role: XR_ROLE_B or XR_ROLE_ROOT */
	bool readers_dispose;	/* readers may dispose A's objects */
	int pin_a[XR_MAX_FILES];	/* FILE: what each file of A pins */
	ino_t ino_a[XR_MAX_FILES];	/* (regular files) and their inodes */
	int pin_b;		/* FILE: what B pins */
	ino_t ino_b;
	long page;
	int ring[XR_ROOT_FILES];	/* root: its files, oldest next */
	unsigned int ring_round[XR_ROOT_FILES];
	__u64 t0;		/* when the churn started */
	atomic_bool stop;
	atomic_uint round;	/* of the files on XR_FD...; 0 before any */
	atomic_int failed;	/* set once, by the first failure */
	char why[256];		/* that failure */
	__u64 t_fail;	/* when it happened */
	unsigned int fail_round;
	atomic_long rounds;	/* churner: rounds completed */
	long churner_disposed;	/* churner: its disposes of A that took it */
	atomic_long reader_disposed;	/* readers: their disposes that did */
	atomic_long children;	/* readers: children created under A's */
	atomic_long lookups;	/* readers: calls made */
	atomic_long hits;	/* readers: calls that found A's object */
};

/* One reader thread. */
struct xr_reader {
	struct xr_race *x;
	int cpu;		/* where it runs, or -1 */
	unsigned int seed;
	struct io_uring ring;	/* URING_DISPOSE */
	bool ring_up;
};

/* What one reader call looks up: object @i of A's file @fd. */
struct xr_pick {
	int fd;			/* XR_FD + the file's index */
	unsigned int i;		/* the object's index in its file */
	unsigned int idx;	/* its index in the round (in its tag) */
	__u64 handle;
};

static const char *const xr_path_names[] = {
	[XR_OP_TOKEN_GET] = "KDISPOSE_OP_TOKEN_GET",
	[XR_QUERY] = "KDISPOSE_IOC_QUERY",
	[XR_MMAP] = "mmap",
	[XR_FILE_INSTALL] = "KDISPOSE_OP_FILE_INSTALL",
	[XR_URING_DISPOSE] = "KDISPOSE_URING_CMD_DISPOSE",
	[XR_BATCH_DISPOSE] = "KDISPOSE_IOC_DISPOSE_BATCH",
	[XR_CREATE_CHILD] = "KDISPOSE_IOC_CREATE with a parent",
};

/* Record the first failure and stop everything. */
static void __printf(2, 3) xr_fail(struct xr_race *x, const char *fmt, ...)
{
	int expected = 0;
	va_list ap;

	if (!atomic_compare_exchange_strong(&x->failed, &expected, 1))
		return;
	x->t_fail = kd_t_now_ns();
	x->fail_round = atomic_load(&x->round);
	va_start(ap, fmt);
	vsnprintf(x->why, sizeof(x->why), fmt, ap);
	va_end(ap);
	atomic_store(&x->stop, true);
}

static __u64 xr_tag(int role, unsigned int round, unsigned int idx)
{
	return XR_MAGIC << 48 | (__u64)role << 40 | (__u64)round << 8 | idx;
}

static void xr_label(char *label, int role, unsigned int round,
		     unsigned int idx)
{
	snprintf(label, KDISPOSE_LABEL_LEN, "%c%08x.%02x", role, round,
		 (unsigned char)idx);
}

static const char *xr_role_name(int role)
{
	switch (role) {
	case XR_ROLE_A:
		return "A's";
	case XR_ROLE_B:
		return "B's";
	case XR_ROLE_ROOT:
		return "root's";
	case XR_ROLE_CHILD:
		return "a child's";
	default:
		return "an unknown";
	}
}

/* Describe the object that tag @v names, for a failure message. */
static const char *xr_tag_name(__u64 v, char *buf, size_t len)
{
	if (v >> 48 != XR_MAGIC)
		snprintf(buf, len, "%#llx (no tag of this test)", v);
	else
		snprintf(buf, len, "%s object %u of round %u",
			 xr_role_name(v >> 40 & 0xff),
			 (unsigned int)(v & 0xff), (unsigned int)(v >> 8));
	return buf;
}

/*
 * Whether @v is the tag of A's object @idx in a file that was on its fd
 * during the call: the round read before the call, @r0, may already be the
 * next one (it is bumped just before the dup2), the one read after it,
 * @r1, is at least the file's.
 */
static bool xr_tag_is_a(__u64 v, unsigned int r0, unsigned int r1,
			unsigned int idx)
{
	unsigned int round = v >> 8;

	return v >> 48 == XR_MAGIC && (v >> 40 & 0xff) == XR_ROLE_A &&
	       (v & 0xff) == idx && round - (r0 - 1) <= r1 - (r0 - 1);
}

/* The time budget of one test in nanoseconds. */
static __u64 xr_budget_ns(void)
{
	return kd_t_scaled(xr_env("KDISPOSE_RACE_SECS", XR_SECS)) *
	       1000000000ULL;
}

/* Run the calling thread on @cpu only (-1: anywhere). */
static void xr_pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* The CPU of reader @k: the churner's (0) for the first @npinned. */
static int xr_reader_cpu(int k, int npinned)
{
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (ncpus < 2)
		return -1;
	if (k < npinned)
		return 0;
	return 1 + (k - npinned) % (ncpus - 1);
}

/* The handle of the @i-th create of every file. */
static __u64 xr_handle(unsigned int i)
{
	return kd_t_handle_make(i + 1, i);
}

/*
 * Create object @idx of @role's round @round in @fd, tagged. Return: 0 with
 * its handle, or -errno.
 */
static int xr_create(struct xr_race *x, int fd, int role, unsigned int round,
		     unsigned int idx, __u64 *handle)
{
	__u64 tag = xr_tag(role, round, idx);
	char label[KDISPOSE_LABEL_LEN];
	__u64 args[4] = { 0, sizeof(tag), (uintptr_t)&tag };
	int ret;

	xr_label(label, role, round, idx);
	switch (x->type) {
	case KDISPOSE_TYPE_TOKEN:
		return kd_t_token(fd, 0, tag, label, handle);
	case KDISPOSE_TYPE_MEMORY:
		/* Tagged before A's file reaches the readers' fd. */
		ret = kd_t_create(fd, KDISPOSE_TYPE_MEMORY, 0, x->page, 0,
				  label, handle);
		if (!ret)
			ret = kd_t_op(fd, *handle, KDISPOSE_OP_MEM_WRITE, args);
		return ret;
	case KDISPOSE_TYPE_FILE:
		return kd_t_create(fd, KDISPOSE_TYPE_FILE, 0,
				   role == XR_ROLE_A ?
				   x->pin_a[idx / x->nobjs] : x->pin_b, 0,
				   label, handle);
	default:
		return kd_t_create(fd, x->type, 0, 0, 0, label, handle);
	}
}

/*
 * Create the objects of @role's file @f of round @round in @fd: they must
 * get the handles every file's first creates get. Return: 0 or -1.
 */
static int xr_create_all(struct xr_race *x, int fd, int role,
			 unsigned int round, unsigned int f)
{
	unsigned int i, idx;
	__u64 h;
	int ret;

	for (i = 0; i < x->nobjs; i++) {
		idx = f * x->nobjs + i;
		ret = xr_create(x, fd, role, round, idx, &h);
		if (ret) {
			xr_fail(x, "round %u: create %s object %u: %s", round,
				xr_role_name(role), idx, strerror(-ret));
			return -1;
		}
		if (h != xr_handle(i)) {
			xr_fail(x, "round %u: %s object %u got %#llx, not %#llx",
				round, xr_role_name(role), idx, h,
				xr_handle(i));
			return -1;
		}
	}
	return 0;
}

/*
 * Dispose A's objects through the readers' fds, each file's last first:
 * the first object B creates then reuses the memory of A's first.
 */
static int xr_dispose_a(struct xr_race *x, unsigned int round)
{
	unsigned int f;
	int i, ret;

	for (f = 0; f < x->nfiles; f++) {
		for (i = x->nobjs - 1; i >= 0; i--) {
			ret = kd_t_dispose(XR_FD + f, xr_handle(i));
			if (ret == 1) {
				x->churner_disposed++;
				continue;
			}
			if (ret == 0 && x->readers_dispose)
				continue;
			xr_fail(x, "round %u: dispose of A's object %u returned %d",
				round, f * x->nobjs + i, ret);
			return -1;
		}
	}
	return 0;
}

/* B's objects are as B made them: nobody disposed, changed or adopted. */
static int xr_check_b(struct xr_race *x, int fd, unsigned int round)
{
	const char *whose = xr_role_name(x->role_b);
	char label[KDISPOSE_LABEL_LEN], name[64];
	struct kdispose_query q;
	unsigned int i;
	int ret;

	for (i = 0; i < x->nobjs; i++) {
		ret = kd_t_query(fd, xr_handle(i), &q);
		if (ret) {
			xr_fail(x, "round %u: query of %s object %u: %s",
				round, whose, i, strerror(-ret));
			return -1;
		}
		xr_label(label, x->role_b, round, i);
		if (q.type != x->type || strcmp(q.label, label) ||
		    q.nchildren) {
			xr_fail(x, "round %u: %s object %u is type %u \"%.16s\" with %u children",
				round, whose, i, q.type, q.label,
				q.nchildren);
			return -1;
		}
		if (x->type == KDISPOSE_TYPE_TOKEN &&
		    q.info[0] != xr_tag(x->role_b, round, i)) {
			xr_fail(x, "round %u: %s token %u holds %s", round,
				whose, i,
				xr_tag_name(q.info[0], name, sizeof(name)));
			return -1;
		}
	}
	return 0;
}

/* Check the module counters every XR_COUNTERS_EVERY rounds. */
static void xr_check_counters(struct xr_race *x)
{
	struct kd_t_counters c;
	char why[160];
	int ret;

	if (x->rounds % XR_COUNTERS_EVERY)
		return;
	ret = kd_t_counters_read(&c);
	if (ret)
		xr_fail(x, "reading the counters: %s", strerror(-ret));
	else if (kd_t_counters_check(&c, why, sizeof(why)))
		xr_fail(x, "round %ld: counters: %s", x->rounds, why);
}

/*
 * A's half of a round: fresh files with objects, on the readers' fds,
 * pause, dispose.
 */
static int xr_round_a(struct xr_race *x, unsigned int round)
{
	int fa[XR_MAX_FILES];
	unsigned int f, n;
	int ret = -1;

	for (n = 0; n < x->nfiles; n++) {
		fa[n] = kd_t_open();
		if (fa[n] < 0) {
			xr_fail(x, "open A: %s", strerror(-fa[n]));
			goto out;
		}
		if (xr_create_all(x, fa[n], XR_ROLE_A, round, n)) {
			n++;
			goto out;
		}
	}
	atomic_store(&x->round, round);
	for (f = 0; f < x->nfiles; f++) {
		if (dup2(fa[f], XR_FD + f) != (int)(XR_FD + f)) {
			xr_fail(x, "dup2: %s", strerror(errno));
			goto out;
		}
	}
	usleep(XR_PAUSE_US);
	ret = xr_dispose_a(x, round);
out:
	for (f = 0; f < n; f++)
		if (fa[f] >= 0)
			close(fa[f]);
	return ret;
}

/*
 * A round of the xfile tests. A: fresh file, objects, on XR_FD, pause,
 * dispose. B: fresh file, objects with the same handles in the memory A's
 * had, pause (a reader preempted in its lookup resumes), check, close.
 */
static int xr_round_pair(struct xr_race *x, unsigned int round)
{
	int fb, ret = -1;

	/* Opened first: nothing but A's dispose between A's and B's. */
	fb = kd_t_open();
	if (fb < 0) {
		xr_fail(x, "open B: %s", strerror(-fb));
		return -1;
	}
	if (!xr_round_a(x, round) &&
	    !xr_create_all(x, fb, x->role_b, round, 0)) {
		usleep(XR_PAUSE_US);
		ret = xr_check_b(x, fb, round);
	}
	close(fb);
	return ret;
}

/*
 * A round of root's: XR_ATTACK_FILES fresh files with one object each (all
 * with the attacker's handle), then as many of the oldest files of the
 * ring checked and closed. Root has objects with that handle at every
 * moment, and whenever the attacker sleeps right after its disposes,
 * root's creates reuse what it freed, the closes coming after.
 */
static int xr_round_root(struct xr_race *x, unsigned int round)
{
	unsigned int base = round % 2 * XR_ATTACK_FILES, slot, n;
	int fd[XR_ATTACK_FILES], ret = 0;

	for (n = 0; n < XR_ATTACK_FILES; n++) {
		fd[n] = kd_t_open();
		if (fd[n] < 0) {
			xr_fail(x, "open root's file: %s", strerror(-fd[n]));
			ret = -1;
			break;
		}
		if (xr_create_all(x, fd[n], x->role_b, round, 0)) {
			close(fd[n]);
			ret = -1;
			break;
		}
	}
	for (slot = base; slot < base + XR_ATTACK_FILES; slot++) {
		if (x->ring[slot] < 0)
			continue;
		if (!ret)
			ret = xr_check_b(x, x->ring[slot],
					 x->ring_round[slot]);
		close(x->ring[slot]);
		x->ring[slot] = -1;
	}
	for (slot = 0; slot < n; slot++) {
		x->ring[base + slot] = fd[slot];
		x->ring_round[base + slot] = round;
	}
	return ret;
}

static void *xr_churner(void *arg)
{
	struct xr_race *x = arg;
	unsigned int round, slot;
	int ret;

	xr_pin(0);
	for (slot = 0; slot < XR_ROOT_FILES; slot++)
		x->ring[slot] = -1;
	while (!atomic_load(&x->stop)) {
		round = x->rounds + 1;
		switch (x->churn) {
		case XR_CHURN_PAIR:
			ret = xr_round_pair(x, round);
			break;
		case XR_CHURN_ATTACKER:
			/* Asleep, it lets root reuse what it just freed. */
			ret = xr_round_a(x, round);
			usleep(XR_PAUSE_US);
			break;
		case XR_CHURN_ROOT:
			ret = xr_round_root(x, round);
			break;
		}
		if (ret)
			break;
		x->rounds++;
		xr_check_counters(x);
	}
	for (slot = 0; slot < XR_ROOT_FILES; slot++) {
		if (x->ring[slot] < 0)
			continue;
		xr_check_b(x, x->ring[slot], x->ring_round[slot]);
		close(x->ring[slot]);
	}
	return NULL;
}

/* A reader's call failed with @ret: fine if the object is simply gone. */
static void xr_check_errno(struct xr_race *x, const char *what,
			   const struct xr_pick *p, int ret)
{
	if (ret != -EIDRM && ret != -ENOENT && ret != -EBADF)
		xr_fail(x, "%s of %#llx through A: %s", what, p->handle,
			strerror(-ret));
}

/* A's token: its value must be A's tag. */
static void xr_read_token(struct xr_race *x, const struct xr_pick *p)
{
	unsigned int r0 = atomic_load(&x->round), r1;
	char name[64];
	__u64 v = 0;
	int ret;

	ret = kd_t_token_get(p->fd, p->handle, &v);
	r1 = atomic_load(&x->round);
	if (ret) {
		xr_check_errno(x, "TOKEN_GET", p, ret);
		return;
	}
	atomic_fetch_add(&x->hits, 1);
	if (!xr_tag_is_a(v, r0, r1, p->idx))
		xr_fail(x, "TOKEN_GET of %#llx through A of round %u..%u read %s",
			p->handle, r0, r1, xr_tag_name(v, name, sizeof(name)));
}

/* Query A's object: its label and value must be A's. */
static void xr_read_query(struct xr_race *x, const struct xr_pick *p)
{
	unsigned int r0 = atomic_load(&x->round), r1;
	struct kdispose_query q;
	char name[64];
	int ret;

	ret = kd_t_query(p->fd, p->handle, &q);
	r1 = atomic_load(&x->round);
	if (ret) {
		xr_check_errno(x, "QUERY", p, ret);
		return;
	}
	atomic_fetch_add(&x->hits, 1);
	if (q.label[0] != XR_ROLE_A || !xr_tag_is_a(q.info[0], r0, r1, p->idx))
		xr_fail(x, "QUERY of %#llx through A of round %u..%u answered \"%.16s\", %s",
			p->handle, r0, r1, q.label,
			xr_tag_name(q.info[0], name, sizeof(name)));
}

/*
 * Map A's buffer at its offset and read it (a fault): it must hold A's tag,
 * written before A's file reached the readers.
 */
static void xr_read_mmap(struct xr_race *x, const struct xr_pick *p)
{
	unsigned int r0 = atomic_load(&x->round), r1;
	off_t off = (off_t)(p->i + 1) * x->page;
	char name[64];
	void *m;
	__u64 v;

	m = mmap(NULL, x->page, PROT_READ, MAP_SHARED, p->fd, off);
	if (m == MAP_FAILED) {
		/* EINVAL: no live buffer at that offset. */
		if (errno != EINVAL && errno != EBADF)
			xr_fail(x, "mmap of A's offset %#llx: %s",
				(unsigned long long)off, strerror(errno));
		return;
	}
	v = __atomic_load_n((__u64 *)m, __ATOMIC_RELAXED);
	munmap(m, x->page);
	r1 = atomic_load(&x->round);
	atomic_fetch_add(&x->hits, 1);
	if (!xr_tag_is_a(v, r0, r1, p->idx))
		xr_fail(x, "mmap of A's offset %#llx (round %u..%u) shows %s",
			(unsigned long long)off, r0, r1,
			xr_tag_name(v, name, sizeof(name)));
}

/* Whose regular file inode @ino is, for a failure message. */
static const char *xr_ino_name(const struct xr_race *x, ino_t ino)
{
	unsigned int f;

	if (ino == x->ino_b)
		return x->role_b == XR_ROLE_ROOT ? "root's mode-0600 file" :
						   "B's file";
	for (f = 0; f < x->nfiles; f++)
		if (ino == x->ino_a[f])
			return "the file another of A's files pins";
	return "a file of nobody's in this test";
}

/* Install A's pinned file: it must be the regular file this file pins. */
static void xr_read_install(struct xr_race *x, const struct xr_pick *p)
{
	ino_t want = x->ino_a[p->fd - XR_FD];
	struct stat st;
	int fd;

	fd = kd_t_op(p->fd, p->handle, KDISPOSE_OP_FILE_INSTALL, NULL);
	if (fd < 0) {
		xr_check_errno(x, "FILE_INSTALL", p, fd);
		return;
	}
	atomic_fetch_add(&x->hits, 1);
	if (fstat(fd, &st))
		xr_fail(x, "fstat of an installed fd: %s", strerror(errno));
	else if (st.st_ino != want)
		xr_fail(x, "FILE_INSTALL of %#llx through A installed inode %lu, %s (A pins %lu)",
			p->handle, (unsigned long)st.st_ino,
			xr_ino_name(x, st.st_ino), (unsigned long)want);
	close(fd);
}

/* A dispose through A returned @ret: 1 (this call), 0 or ENOENT. */
static void xr_count_dispose(struct xr_race *x, const char *what, __u64 h,
			     int ret)
{
	if (ret == 1) {
		atomic_fetch_add(&x->reader_disposed, 1);
		atomic_fetch_add(&x->hits, 1);
	} else if (ret && ret != -ENOENT && ret != -EBADF) {
		xr_fail(x, "%s of %#llx through A returned %d", what, h, ret);
	}
}

static void xr_read_uring(struct xr_reader *r, const struct xr_pick *p)
{
	struct kdispose_dispose d = { .handle = p->handle };
	struct xr_race *x = r->x;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int ret;

	sqe = io_uring_get_sqe(&r->ring);
	if (!sqe) {
		xr_fail(x, "io_uring: no SQE");
		return;
	}
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, p->fd, NULL, 0, 0);
	sqe->cmd_op = KDISPOSE_URING_CMD_DISPOSE;
	memcpy(sqe->cmd, &d, sizeof(d));
	ret = io_uring_submit_and_wait(&r->ring, 1);
	if (ret == 1)
		ret = io_uring_wait_cqe(&r->ring, &cqe);
	if (ret < 0) {
		xr_fail(x, "io_uring: %s", strerror(-ret));
		return;
	}
	ret = cqe->res;
	io_uring_cqe_seen(&r->ring, cqe);
	xr_count_dispose(x, "uring dispose", d.handle, ret);
}

/*
 * Dispose A's object twice in one batch (the second gets 0): one object
 * per call, not the whole file, so that most of A's objects are still
 * freed by the churner, on its CPU, for B to reuse.
 */
static void xr_read_batch(struct xr_race *x, const struct xr_pick *p)
{
	__u64 handles[XR_BATCH] = { p->handle, p->handle };
	struct kdispose_dispose_batch b = { .count = XR_BATCH };
	__s32 results[XR_BATCH];
	unsigned int j, n = 0;
	int ret;

	b.handles = (uintptr_t)handles;
	b.results = (uintptr_t)results;
	ret = kd_t_ioctl(p->fd, KDISPOSE_IOC_DISPOSE_BATCH, &b);
	if (ret) {
		if (ret != -EBADF)
			xr_fail(x, "DISPOSE_BATCH through A: %s",
				strerror(-ret));
		return;
	}
	for (j = 0; j < XR_BATCH; j++) {
		xr_count_dispose(x, "batch dispose", handles[j], results[j]);
		n += results[j] == 1;
	}
	if (n != b.ndisposed)
		xr_fail(x, "DISPOSE_BATCH: ndisposed %u, %u results of 1",
			b.ndisposed, n);
}

/* Create a child of A's object, through A. */
static void xr_read_child(struct xr_race *x, const struct xr_pick *p)
{
	unsigned int round = atomic_load(&x->round);
	__u64 child;
	int ret;

	ret = kd_t_token(p->fd, p->handle,
			 xr_tag(XR_ROLE_CHILD, round, p->idx), "child", &child);
	if (ret) {
		xr_check_errno(x, "create under", p, ret);
		return;
	}
	atomic_fetch_add(&x->children, 1);
	atomic_fetch_add(&x->hits, 1);
}

static void *xr_reader(void *arg)
{
	struct xr_reader *r = arg;
	struct xr_race *x = r->x;
	struct xr_pick p;
	unsigned int f;

	xr_pin(r->cpu);
	while (!atomic_load(&x->stop)) {
		f = rand_r(&r->seed) % x->nfiles;
		p.fd = XR_FD + f;
		p.i = rand_r(&r->seed) % x->nobjs;
		p.idx = f * x->nobjs + p.i;
		p.handle = xr_handle(p.i);
		switch (x->path) {
		case XR_OP_TOKEN_GET:
			xr_read_token(x, &p);
			break;
		case XR_QUERY:
			xr_read_query(x, &p);
			break;
		case XR_MMAP:
			xr_read_mmap(x, &p);
			break;
		case XR_FILE_INSTALL:
			xr_read_install(x, &p);
			break;
		case XR_URING_DISPOSE:
			xr_read_uring(r, &p);
			break;
		case XR_BATCH_DISPOSE:
			xr_read_batch(x, &p);
			break;
		case XR_CREATE_CHILD:
			xr_read_child(x, &p);
			break;
		}
		atomic_fetch_add(&x->lookups, 1);
	}
	return NULL;
}

/* The churner and the readers, until the budget is spent or a failure. */
struct xr_threads {
	pthread_t churner;
	pthread_t readers[XR_MAX_READERS];
	struct xr_reader reader[XR_MAX_READERS];
	int nreaders;
	bool churning;
};

/* Start the readers, then (if @churn) the churner. Return: 0 or -errno. */
static int xr_start(struct xr_race *x, struct xr_threads *t, bool churn)
{
	int k, ret;

	x->t0 = kd_t_now_ns();
	for (k = 0; k < x->nreaders; k++) {
		struct xr_reader *r = &t->reader[k];

		r->x = x;
		r->cpu = xr_reader_cpu(k, x->npinned);
		r->seed = k + 1;
		if (x->path == XR_URING_DISPOSE) {
			ret = io_uring_queue_init(4, &r->ring, 0);
			if (ret)
				return ret;
			r->ring_up = true;
		}
		ret = pthread_create(&t->readers[k], NULL, xr_reader, r);
		if (ret)
			return -ret;
		t->nreaders++;
	}
	if (churn) {
		ret = pthread_create(&t->churner, NULL, xr_churner, x);
		if (ret)
			return -ret;
		t->churning = true;
	}
	return 0;
}

/*
 * Wait until something failed, or the budget is spent with at least
 * XR_MIN_ROUNDS rounds run and A's objects found, or XR_EXTRA_SECS more.
 */
static void xr_wait(struct xr_race *x)
{
	__u64 deadline = x->t0 + xr_budget_ns();
	__u64 last = deadline + XR_EXTRA_SECS * 1000000000ULL;
	__u64 now;

	while (!atomic_load(&x->stop)) {
		now = kd_t_now_ns();
		if (now >= last ||
		    (now >= deadline && atomic_load(&x->rounds) >= XR_MIN_ROUNDS &&
		     atomic_load(&x->hits)))
			break;
		usleep(10000);
	}
}

static void xr_stop(struct xr_race *x, struct xr_threads *t)
{
	int k;

	atomic_store(&x->stop, true);
	if (t->churning)
		pthread_join(t->churner, NULL);
	for (k = 0; k < t->nreaders; k++) {
		pthread_join(t->readers[k], NULL);
		if (t->reader[k].ring_up)
			io_uring_queue_exit(&t->reader[k].ring);
	}
	for (k = 0; k < (int)x->nfiles; k++)
		close(XR_FD + k);
}

/* Print what a run did, and how long its failure took. */
static void xr_report(const struct xr_race *x, const char *what)
{
	__u64 end = x->failed ? x->t_fail : kd_t_now_ns();

	ksft_print_msg("%s: %ld rounds, %ld lookups (%ld found A's object) in %.1f s\n",
		       what, x->rounds, atomic_load(&x->lookups),
		       atomic_load(&x->hits), (end - x->t0) / 1e9);
	if (x->failed)
		ksft_print_msg("%s: first failure after %.3f s, in round %u: %s\n",
			       what, (x->t_fail - x->t0) / 1e9, x->fail_round,
			       x->why);
	fflush(stdout);
}

/* Open @path read-only. Return: the fd with its inode in *@ino, or -errno. */
static int xr_open_file(const char *path, ino_t *ino)
{
	struct stat st;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		close(fd);
		return err;
	}
	*ino = st.st_ino;
	return fd;
}

/* A root-owned regular file holding @data. Return: 0 or -errno. */
static int xr_make_file(const char *path, mode_t mode, const char *data)
{
	ssize_t len = strlen(data);
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	if (write(fd, data, len) != len || fchmod(fd, mode))
		err = -errno ?: -EIO;
	close(fd);
	return err;
}

/* The regular files A's files pin: XR_FILE_A<f>, one per file of A. */
#define XR_FILE_A	"/tmp/xfile-race-a"
#define XR_FILE_B	"/tmp/xfile-race-b"

static void xr_file_a_path(char *path, size_t len, unsigned int f)
{
	snprintf(path, len, XR_FILE_A "%u", f);
}

/* Make A's files to pin, mode 0644. Return: 0 or -errno. */
static int xr_make_files_a(unsigned int nfiles)
{
	char path[64];
	unsigned int f;
	int ret;

	for (f = 0; f < nfiles; f++) {
		xr_file_a_path(path, sizeof(path), f);
		ret = xr_make_file(path, 0644, path);
		if (ret)
			return ret;
	}
	return 0;
}

static void xr_unlink_files_a(unsigned int nfiles)
{
	char path[64];
	unsigned int f;

	for (f = 0; f < nfiles; f++) {
		xr_file_a_path(path, sizeof(path), f);
		unlink(path);
	}
}

/* Open A's files to pin, as whoever plays A. Return: 0 or -errno. */
static int xr_open_files_a(struct xr_race *x)
{
	char path[64];
	unsigned int f;

	for (f = 0; f < x->nfiles; f++) {
		xr_file_a_path(path, sizeof(path), f);
		x->pin_a[f] = xr_open_file(path, &x->ino_a[f]);
		if (x->pin_a[f] < 0)
			return x->pin_a[f];
	}
	return 0;
}

static void xr_close_files(struct xr_race *x)
{
	unsigned int f;

	for (f = 0; f < XR_MAX_FILES; f++)
		if (x->pin_a[f] >= 0)
			close(x->pin_a[f]);
	if (x->pin_b >= 0)
		close(x->pin_b);
}

/* No file to pin yet. */
static void xr_init_files(struct xr_race *x)
{
	unsigned int f;

	for (f = 0; f < XR_MAX_FILES; f++)
		x->pin_a[f] = -1;
	x->pin_b = -1;
}

FIXTURE(xfile)
{
	struct xr_race *x;		/* shared with the threads */
	struct xr_threads t;
	struct kd_t_counters start;	/* module counters after setup */
};

FIXTURE_VARIANT(xfile)
{
	enum xr_path path;
	__u32 type;			/* of the churned objects */
};

FIXTURE_VARIANT_ADD(xfile, op_token_get)
{
	.path = XR_OP_TOKEN_GET,
	.type = KDISPOSE_TYPE_TOKEN,
};

FIXTURE_VARIANT_ADD(xfile, query)
{
	.path = XR_QUERY,
	.type = KDISPOSE_TYPE_TOKEN,
};

FIXTURE_VARIANT_ADD(xfile, mmap_fault)
{
	.path = XR_MMAP,
	.type = KDISPOSE_TYPE_MEMORY,
};

FIXTURE_VARIANT_ADD(xfile, file_install)
{
	.path = XR_FILE_INSTALL,
	.type = KDISPOSE_TYPE_FILE,
};

FIXTURE_VARIANT_ADD(xfile, uring_dispose)
{
	.path = XR_URING_DISPOSE,
	.type = KDISPOSE_TYPE_TOKEN,
};

FIXTURE_VARIANT_ADD(xfile, batch_dispose)
{
	.path = XR_BATCH_DISPOSE,
	.type = KDISPOSE_TYPE_TOKEN,
};

FIXTURE_VARIANT_ADD(xfile, create_child)
{
	.path = XR_CREATE_CHILD,
	.type = KDISPOSE_TYPE_GROUP,
};

FIXTURE_SETUP(xfile)
{
	struct xr_race *x;

	x = calloc(1, sizeof(*x));
	ASSERT_NE(NULL, x);
	self->x = x;
	x->path = variant->path;
	x->type = variant->type;
	x->readers_dispose = variant->path == XR_URING_DISPOSE ||
			     variant->path == XR_BATCH_DISPOSE;
	x->churn = XR_CHURN_PAIR;
	x->nfiles = 1;
	x->nobjs = XR_OBJS;
	x->nreaders = XR_READERS;
	x->npinned = XR_PINNED;
	x->role_b = XR_ROLE_B;
	x->page = sysconf(_SC_PAGESIZE);
	xr_init_files(x);
	if (x->type == KDISPOSE_TYPE_FILE) {
		ASSERT_EQ(0, xr_make_files_a(x->nfiles));
		ASSERT_EQ(0, xr_open_files_a(x));
		ASSERT_EQ(0, xr_make_file(XR_FILE_B, 0644, "b"));
		x->pin_b = xr_open_file(XR_FILE_B, &x->ino_b);
		ASSERT_LE(0, x->pin_b);
		ASSERT_NE(x->ino_a[0], x->ino_b);
	}
	KD_T_ASSERT_COUNTERS(self->start);
}

FIXTURE_TEARDOWN(xfile)
{
	xr_close_files(self->x);
	xr_unlink_files_a(self->x->nfiles);
	unlink(XR_FILE_B);
}

/*
 * Through file A, a lookup finds A's object or nothing, never B's (with
 * the same handle, in the same memory); and nothing done through A changes
 * B's objects. Every object is released once: the counters add up.
 */
TEST_F_TIMEOUT(xfile, lookup_stays_in_its_file, 600)
{
	struct xr_race *x = self->x;
	struct kd_t_counters after;
	__u64 rounds, children;

	ASSERT_EQ(0, xr_start(x, &self->t, true));
	xr_wait(x);
	xr_stop(x, &self->t);
	xr_report(x, xr_path_names[x->path]);
	ASSERT_EQ(0, x->failed) TH_LOG("%s", x->why);
	ASSERT_LE(XR_MIN_ROUNDS, x->rounds);
	ASSERT_LT(0, atomic_load(&x->hits))
		TH_LOG("the readers never found A's objects");

	rounds = x->rounds;
	children = atomic_load(&x->children);
	if (x->readers_dispose)
		EXPECT_EQ(rounds * XR_OBJS,
			  x->churner_disposed + atomic_load(&x->reader_disposed));
	ASSERT_EQ(0, kd_t_wait_settled(&self->start, &after, XR_SETTLE_MS));
	KD_T_EXPECT_DELTA(&self->start, &after, KD_T_ALL,
			  .created = 2 * XR_OBJS * rounds + children,
			  .disposed = XR_OBJS * rounds + children,
			  .finalized = XR_OBJS * rounds,
			  .released = 2 * XR_OBJS * rounds + children);
}

/*
 * The attacker tests. Root's churner keeps a ring of fresh files with one
 * object each, pinning a mode-0600 file of root's (or holding a token of
 * root's), so that an object with handle 0x1000000 (seq 1, slot 0) is live
 * in some file of root's at every moment. The attacker, uid 65534, churns
 * XR_ATTACK_FILES fresh files of its own per round, one object each with
 * that same handle, on the same CPU, and sleeps after each dispose so that
 * root's next creates reuse what it freed; its readers look the handle up
 * through its own files. They must get the object of the file they asked,
 * or nothing: never root's file (an fd whose inode is the secret's), never
 * root's values, not even another file's of their own.
 */
#define XR_SECRET	"/tmp/xfile-race-secret"

/* What root and the attacker's process share (a MAP_SHARED page). */
struct xr_attack {
	struct xr_race x;	/* the attacker's race */
	ino_t secret_ino;
	char why[256];		/* the attacker's setup failure */
};

/* In the child: give up root, for good. Return: 0 or -errno. */
static int xr_become_nobody(void)
{
	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY))
		return -errno;
	return getuid() == NOBODY && geteuid() == NOBODY ? 0 : -EPERM;
}

/* The attacker: its own churner (A only) and readers, as nobody. */
static int xr_attacker(struct xr_attack *a)
{
	struct xr_race *x = &a->x;
	struct xr_threads t = { 0 };
	int ret;

	ret = xr_become_nobody();
	if (ret) {
		snprintf(a->why, sizeof(a->why), "cannot drop to nobody: %s",
			 strerror(-ret));
		return 2;
	}
	if (open(XR_SECRET, O_RDONLY) >= 0 || errno != EACCES) {
		snprintf(a->why, sizeof(a->why),
			 "nobody can open the mode-0600 file");
		return 2;
	}
	if (x->type == KDISPOSE_TYPE_FILE) {
		ret = xr_open_files_a(x);
		if (ret) {
			snprintf(a->why, sizeof(a->why),
				 "open the files to pin: %s", strerror(-ret));
			return 2;
		}
		x->ino_b = a->secret_ino;
	}
	ret = xr_start(x, &t, true);
	if (ret) {
		snprintf(a->why, sizeof(a->why), "threads: %s", strerror(-ret));
		atomic_store(&x->stop, true);
	} else {
		xr_wait(x);
	}
	xr_stop(x, &t);
	return x->failed ? 1 : 0;
}

FIXTURE(attack)
{
	struct xr_attack *a;		/* shared with the attacker */
	struct xr_race root;		/* root's churn */
	struct xr_threads t;
	struct kd_t_counters start;	/* module counters after setup */
};

FIXTURE_VARIANT(attack)
{
	enum xr_path path;		/* the attacker's lookups */
	__u32 type;
};

FIXTURE_VARIANT_ADD(attack, file_install)
{
	.path = XR_FILE_INSTALL,
	.type = KDISPOSE_TYPE_FILE,
};

FIXTURE_VARIANT_ADD(attack, token_get)
{
	.path = XR_OP_TOKEN_GET,
	.type = KDISPOSE_TYPE_TOKEN,
};

FIXTURE_SETUP(attack)
{
	struct xr_attack *a;

	a = mmap(NULL, sizeof(*a), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, a);
	self->a = a;
	a->x.path = variant->path;
	a->x.type = variant->type;
	a->x.churn = XR_CHURN_ATTACKER;
	a->x.nfiles = XR_ATTACK_FILES;
	a->x.nobjs = 1;
	a->x.nreaders = XR_ATTACK_READERS;
	a->x.npinned = XR_ATTACK_PINNED;
	a->x.role_b = XR_ROLE_ROOT;
	a->x.page = sysconf(_SC_PAGESIZE);
	xr_init_files(&a->x);

	self->root.path = variant->path;
	self->root.type = variant->type;
	self->root.churn = XR_CHURN_ROOT;
	self->root.nfiles = 1;
	self->root.nobjs = 1;
	self->root.role_b = XR_ROLE_ROOT;
	self->root.page = a->x.page;
	xr_init_files(&self->root);
	/* Root's secret, which nobody may not open. */
	ASSERT_EQ(0, xr_make_file(XR_SECRET, 0600, "secret"));
	self->root.pin_b = xr_open_file(XR_SECRET, &a->secret_ino);
	ASSERT_LE(0, self->root.pin_b);
	if (variant->type == KDISPOSE_TYPE_FILE)
		ASSERT_EQ(0, xr_make_files_a(XR_ATTACK_FILES));
	KD_T_ASSERT_COUNTERS(self->start);
}

FIXTURE_TEARDOWN(attack)
{
	xr_close_files(&self->root);
	unlink(XR_SECRET);
	xr_unlink_files_a(XR_ATTACK_FILES);
}

/*
 * However the attacker's lookups interleave with root's churn, it gets
 * its own objects or nothing: never root's file (an fd whose inode is the
 * secret file's) or root's token values (root's tag).
 */
TEST_F_TIMEOUT(attack, nobody_gets_only_its_own_objects, 600)
{
	struct xr_attack *a = self->a;
	struct kd_t_counters after;
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(xr_attacker(a));
	/* Root: B only, no readers, on the attacker's churner's CPU. */
	self->root.t0 = kd_t_now_ns();
	ASSERT_EQ(0, pthread_create(&self->t.churner, NULL, xr_churner,
				    &self->root));
	self->t.churning = true;
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	atomic_store(&self->root.stop, true);
	pthread_join(self->t.churner, NULL);
	xr_report(&a->x, "attacker");
	ksft_print_msg("root: %ld rounds of %d files\n", self->root.rounds,
		       XR_ATTACK_FILES);
	fflush(stdout);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_NE(2, WEXITSTATUS(status)) TH_LOG("attacker: %s", a->why);
	ASSERT_EQ(0, a->x.failed) TH_LOG("%s", a->x.why);
	ASSERT_EQ(0, self->root.failed) TH_LOG("root: %s", self->root.why);
	EXPECT_EQ(0, WEXITSTATUS(status));
	ASSERT_LE(XR_MIN_ROUNDS, a->x.rounds);
	ASSERT_LT(0, atomic_load(&a->x.hits))
		TH_LOG("the attacker never found its own objects");
	ASSERT_LT(0, self->root.rounds);
	ASSERT_EQ(0, kd_t_wait_settled(&self->start, &after, XR_SETTLE_MS));
	KD_T_EXPECT_DELTA(&self->start, &after, KD_T_ALL,
			  .created = XR_ATTACK_FILES * (a->x.rounds +
							self->root.rounds),
			  .disposed = XR_ATTACK_FILES * a->x.rounds,
			  .finalized = XR_ATTACK_FILES * self->root.rounds,
			  .released = XR_ATTACK_FILES * (a->x.rounds +
							 self->root.rounds));
}

/*
 * The share test: imports racing with the dispose of the exported handle,
 * the close of its table and the close of the export fd, in threads of
 * this process and in other processes.
 *
 * Each round the churner opens a fresh table A with XS_OBJS one-page
 * buffers tagged (A, round, i), exports each and puts the export fds at
 * XS_EFD + i; pause; then it removes A's names in one of four orders
 * (dispose A's handles or close A, before or after closing the export
 * fds), with pauses between. Importers keep a fresh table of their own
 * (closed, finalizing what it holds, every XS_HELD imports), import an
 * export fd picked at random and check what they got: the handle is their
 * import (its label) and names the object exported (its tag, of a round
 * that was on the fd during the call), and it works until they dispose it
 * (1) or close its table. The thread importers use the churner's fds;
 * the process importers take their own copy of the fd with pidfd_getfd()
 * and close it after the import, so that the export file's last close,
 * and the object's end, may happen in another process. Every importer
 * table's first handles have the same values, with the same memory
 * behind them from one table to the next: a handle that reached another
 * table's object would show its label or tag.
 *
 * Exactly once: the main thread counts the kdispose_share_end events as
 * they come (trace_pipe): never more than the objects made so far, and in
 * the end exactly one per object; the counters add up to every create
 * and import, every dispose that returned 1, every handle finalized.
 */
#define XS_EFD		700	/* the current round's export fds: XS_EFD + i */
#define XS_OBJS		4	/* objects (and export fds) per round */
#define XS_THREADS	4	/* importer threads of this process */
#define XS_PINNED	2	/* of which on the churner's CPU */
#define XS_PROCS	2	/* importer processes */
#define XS_HELD		8	/* imports per importer table */

#ifndef SYS_pidfd_open
#define SYS_pidfd_open	434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd	438
#endif

/* What the churner, the importers (threads and processes) share. */
struct xs_race {
	struct xr_race x;	/* rounds, failure, lookups (imports tried) */
	atomic_long imports;	/* imports that returned 0 */
	atomic_long proc_imports;	/* ... of which by the processes */
	atomic_long disposed;	/* importers' disposes (all returned 1) */
	long a_disposed;	/* churner: A's handles disposed */
	long a_finalized;	/* ... and finalized by A's close */
};

/* One importer, a thread or a process. */
struct xs_importer {
	struct xs_race *s;
	unsigned int id;
	int cpu;		/* where it runs, or -1 */
	unsigned int seed;
	int pidfd;		/* a process: the test's pidfd; a thread: -1 */
	unsigned int seq;	/* its imports, for their labels */
	int fd;			/* its table, or -1 */
	unsigned int held;	/* imports into it */
};

/* Close the current round's export fds (some may be closed already). */
static void xs_close_efds(void)
{
	unsigned int i;

	for (i = 0; i < XS_OBJS; i++)
		close(XS_EFD + i);
}

/*
 * A's names of round @round go in the order @round picks; pauses between
 * the steps let importers run into each.
 */
static int xs_remove_a(struct xs_race *s, int fa, unsigned int round)
{
	struct xr_race *x = &s->x;
	unsigned int order = round % 4;
	int i, ret;

	if (order & 1) {
		xs_close_efds();
		usleep(XR_PAUSE_US);
	}
	if (order & 2) {
		close(fa);
		s->a_finalized += XS_OBJS;
	} else {
		for (i = XS_OBJS - 1; i >= 0; i--) {
			ret = kd_t_dispose(fa, xr_handle(i));
			if (ret != 1) {
				xr_fail(x, "round %u: dispose of A's buffer %d returned %d",
					round, i, ret);
				close(fa);
				return -1;
			}
			s->a_disposed++;
		}
		usleep(XR_PAUSE_US);
		close(fa);
	}
	if (!(order & 1)) {
		usleep(XR_PAUSE_US);
		xs_close_efds();
	}
	return 0;
}

/* One round of the churner's. Return: 0 or -1. */
static int xs_round(struct xs_race *s, unsigned int round)
{
	struct xr_race *x = &s->x;
	int fa, efd[XS_OBJS], i, n;

	fa = kd_t_open();
	if (fa < 0) {
		xr_fail(x, "open A: %s", strerror(-fa));
		return -1;
	}
	if (xr_create_all(x, fa, XR_ROLE_A, round, 0)) {
		close(fa);
		return -1;
	}
	for (n = 0; n < XS_OBJS; n++) {
		efd[n] = kd_t_export(fa, xr_handle(n), 0);
		if (efd[n] < 0) {
			xr_fail(x, "round %u: export of A's buffer %d: %s",
				round, n, strerror(-efd[n]));
			break;
		}
	}
	if (n == XS_OBJS) {
		/* Before the fds change: a reader's round after is >= this. */
		atomic_store(&x->round, round);
		for (i = 0; i < XS_OBJS; i++) {
			if (dup2(efd[i], XS_EFD + i) != XS_EFD + i) {
				xr_fail(x, "dup2: %s", strerror(errno));
				break;
			}
		}
	}
	for (i = 0; i < n; i++)
		close(efd[i]);
	if (x->failed) {
		xs_close_efds();
		close(fa);
		return -1;
	}
	usleep(XR_PAUSE_US);
	return xs_remove_a(s, fa, round);
}

static void *xs_churner(void *arg)
{
	struct xs_race *s = arg;
	struct xr_race *x = &s->x;

	xr_pin(0);
	while (!atomic_load(&x->stop)) {
		if (xs_round(s, x->rounds + 1))
			break;
		x->rounds++;
		xr_check_counters(x);
	}
	return NULL;
}

/*
 * One import by @im of export fd i of the current round, checked; then the
 * new handle is disposed, or kept until the table is closed.
 */
static void xs_import_one(struct xs_importer *im)
{
	struct xs_race *s = im->s;
	struct xr_race *x = &s->x;
	unsigned int i = rand_r(&im->seed) % XS_OBJS, r0, r1;
	__u32 type = rand_r(&im->seed) % 2 ? KDISPOSE_TYPE_MEMORY : 0;
	char label[KDISPOSE_LABEL_LEN], name[64];
	struct kdispose_query q;
	__u64 h, v = 0, args[4] = { 0, sizeof(v), (uintptr_t)&v };
	int efd = XS_EFD + i, ret;

	if (im->fd < 0 || im->held == XS_HELD) {
		/* Its handles still live are finalized here. */
		if (im->fd >= 0)
			close(im->fd);
		im->fd = kd_t_open();
		im->held = 0;
		if (im->fd < 0) {
			xr_fail(x, "open an importer's table: %s",
				strerror(-im->fd));
			return;
		}
	}
	snprintf(label, sizeof(label), "%c%u.%x", im->pidfd >= 0 ? 'p' : 't',
		 im->id, im->seq++);
	r0 = atomic_load(&x->round);
	if (im->pidfd >= 0) {
		efd = syscall(SYS_pidfd_getfd, im->pidfd, XS_EFD + i, 0);
		if (efd < 0) {
			if (errno != EBADF)
				xr_fail(x, "pidfd_getfd: %s", strerror(errno));
			return;
		}
	}
	ret = kd_t_import(im->fd, efd, type, 0, label, &h);
	if (im->pidfd >= 0)
		close(efd);
	r1 = atomic_load(&x->round);
	atomic_fetch_add(&x->lookups, 1);
	if (ret) {
		/* The fd closed: nothing else, the fd holds a name. */
		if (ret != -EBADF)
			xr_fail(x, "import of export fd %u (round %u..%u): %s",
				i, r0, r1, strerror(-ret));
		return;
	}
	atomic_fetch_add(&s->imports, 1);
	if (im->pidfd >= 0)
		atomic_fetch_add(&s->proc_imports, 1);
	im->held++;
	ret = kd_t_query(im->fd, h, &q);
	if (ret || q.type != KDISPOSE_TYPE_MEMORY || strcmp(q.label, label)) {
		xr_fail(x, "import %s got %#llx, whose query gives %s: type %u \"%.16s\"",
			label, h, strerror(-ret), q.type, q.label);
		return;
	}
	ret = kd_t_op(im->fd, h, KDISPOSE_OP_MEM_READ, args);
	if (ret) {
		xr_fail(x, "read through import %s (%#llx) of round %u..%u: %s",
			label, h, r0, r1, strerror(-ret));
		return;
	}
	if (!xr_tag_is_a(v, r0, r1, i)) {
		xr_fail(x, "import %s of export fd %u (round %u..%u) reads %s",
			label, i, r0, r1, xr_tag_name(v, name, sizeof(name)));
		return;
	}
	atomic_fetch_add(&x->hits, 1);
	if (rand_r(&im->seed) % 2)
		return;
	ret = kd_t_dispose(im->fd, h);
	if (ret != 1)
		xr_fail(x, "dispose of import %s returned %d", label, ret);
	else
		atomic_fetch_add(&s->disposed, 1);
}

static void xs_importer_run(struct xs_importer *im)
{
	xr_pin(im->cpu);
	im->fd = -1;
	while (!atomic_load(&im->s->x.stop))
		xs_import_one(im);
	if (im->fd >= 0)
		close(im->fd);
}

static void *xs_importer_thread(void *arg)
{
	xs_importer_run(arg);
	return NULL;
}

/* An importer process: the test's fds come through pidfd_getfd(). */
static int xs_importer_process(struct xs_race *s, unsigned int id)
{
	struct xs_importer im = {
		.s = s, .id = id, .seed = id + 1,
		/* One on the churner's CPU, one on another. */
		.cpu = xr_reader_cpu(id - XS_THREADS, 1),
	};

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	im.pidfd = syscall(SYS_pidfd_open, getppid(), 0);
	if (im.pidfd < 0) {
		xr_fail(&s->x, "pidfd_open: %s", strerror(errno));
		return 1;
	}
	xs_importer_run(&im);
	return 0;
}

/* Count the share ends that trace_pipe has now into *@e. */
static void xs_drain_ends(int pipe_fd, char *buf, size_t size, size_t *len,
			  struct kd_t_ends *e)
{
	size_t used;
	ssize_t n;

	for (;;) {
		n = read(pipe_fd, buf + *len, size - 1 - *len);
		if (n <= 0)
			return;
		*len += n;
		buf[*len] = '\0';
		used = kd_t_ends_parse(buf, e);
		memmove(buf, buf + used, *len - used);
		*len -= used;
	}
}

FIXTURE(share)
{
	struct xs_race *s;		/* shared with the importer processes */
	struct xs_importer im[XS_THREADS];
	pthread_t threads[XS_THREADS];
	int nthreads;
	pthread_t churner;
	bool churning;
	pid_t pids[XS_PROCS];
	int pipe_fd;			/* trace_pipe, or -1 */
	struct kd_t_counters start;	/* module counters after setup */
	long refcnt;			/* the module's, after setup */
};

FIXTURE_SETUP(share)
{
	int ret;

	self->pipe_fd = -1;
	self->s = mmap(NULL, sizeof(*self->s), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->s);
	self->s->x.type = KDISPOSE_TYPE_MEMORY;
	self->s->x.nfiles = 1;
	self->s->x.nobjs = XS_OBJS;
	self->s->x.page = sysconf(_SC_PAGESIZE);
	xr_init_files(&self->s->x);
	ret = kd_t_ends_start();
	if (ret == -ENOENT)
		SKIP(return, "no tracepoint kdispose:kdispose_share_end");
	ASSERT_EQ(0, ret) TH_LOG("tracefs: %s", strerror(-ret));
	self->pipe_fd = open(KD_T_TRACEFS "trace_pipe",
			     O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_LE(0, self->pipe_fd);
	self->refcnt = kd_t_module_refcnt();
	ASSERT_LE(0, self->refcnt);
	KD_T_ASSERT_COUNTERS(self->start);
}

FIXTURE_TEARDOWN(share)
{
	int i;

	if (!self->s || self->s == MAP_FAILED)
		return;
	atomic_store(&self->s->x.stop, true);
	for (i = 0; i < XS_PROCS; i++) {
		if (self->pids[i] > 0) {
			kill(self->pids[i], SIGKILL);
			waitpid(self->pids[i], NULL, 0);
		}
	}
	if (self->pipe_fd >= 0) {
		close(self->pipe_fd);
		EXPECT_EQ(0, kd_t_ends_stop());
	}
}

/*
 * However imports interleave with the dispose of the exported handles, the
 * close of their table and the close of the export fds, in this process
 * and others: an import names the object exported, in the importer's
 * table, and keeps it alive; each object ends exactly once, after its
 * last name.
 */
TEST_F_TIMEOUT(share, import_races_dispose_and_close, 600)
{
	static char buf[1 << 16];
	struct xs_race *s = self->s;
	struct xr_race *x = &s->x;
	__u64 deadline, last, now, objs, created, disposed;
	struct kd_t_counters after;
	struct kd_t_ends e = { 0 };
	size_t len = 0;
	int i, status;
	pid_t pid;

	x->t0 = kd_t_now_ns();
	for (i = 0; i < XS_PROCS; i++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0)
			_exit(xs_importer_process(s, XS_THREADS + i));
		self->pids[i] = pid;
	}
	for (i = 0; i < XS_THREADS; i++) {
		self->im[i] = (struct xs_importer){
			.s = s, .id = i, .cpu = xr_reader_cpu(i, XS_PINNED),
			.seed = i + 1, .pidfd = -1,
		};
		ASSERT_EQ(0, pthread_create(&self->threads[i], NULL,
					    xs_importer_thread, &self->im[i]));
		self->nthreads++;
	}
	ASSERT_EQ(0, pthread_create(&self->churner, NULL, xs_churner, s));
	self->churning = true;

	/* xr_wait(), counting the ends as they come. */
	deadline = x->t0 + xr_budget_ns();
	last = deadline + XR_EXTRA_SECS * 1000000000ULL;
	while (!atomic_load(&x->stop)) {
		xs_drain_ends(self->pipe_fd, buf, sizeof(buf), &len, &e);
		objs = (__u64)atomic_load(&x->round) * XS_OBJS;
		if ((__u64)e.n > objs)
			xr_fail(x, "%d ends of %llu objects made so far", e.n,
				objs);
		now = kd_t_now_ns();
		if (now >= last ||
		    (now >= deadline && x->rounds >= XR_MIN_ROUNDS &&
		     atomic_load(&x->hits)))
			break;
		usleep(10000);
	}
	atomic_store(&x->stop, true);
	pthread_join(self->churner, NULL);
	for (i = 0; i < self->nthreads; i++)
		pthread_join(self->threads[i], NULL);
	for (i = 0; i < XS_PROCS; i++) {
		ASSERT_EQ(self->pids[i], waitpid(self->pids[i], &status, 0));
		self->pids[i] = 0;
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	xs_close_efds();
	xr_report(x, "share");
	ksft_print_msg("share: %ld imports (%ld by other processes), %ld disposed by importers; A: %ld disposed, %ld finalized\n",
		       atomic_load(&s->imports), atomic_load(&s->proc_imports),
		       atomic_load(&s->disposed), s->a_disposed,
		       s->a_finalized);
	fflush(stdout);
	ASSERT_EQ(0, x->failed) TH_LOG("%s", x->why);
	ASSERT_LE(XR_MIN_ROUNDS, x->rounds);
	ASSERT_LT(0, atomic_load(&x->hits)) TH_LOG("no import succeeded");
	ASSERT_LT(0, atomic_load(&s->proc_imports))
		TH_LOG("no import by another process succeeded");

	objs = x->rounds * XS_OBJS;
	created = objs + atomic_load(&s->imports);
	disposed = s->a_disposed + atomic_load(&s->disposed);
	ASSERT_EQ(0, kd_t_wait_settled(&self->start, &after, XR_SETTLE_MS));
	KD_T_EXPECT_DELTA(&self->start, &after, KD_T_ALL, .created = created,
			  .disposed = disposed,
			  .finalized = created - disposed,
			  .released = created);
	deadline = kd_t_now_ns() + XR_SETTLE_MS * 1000000ULL;
	while ((__u64)e.n < objs && kd_t_now_ns() < deadline) {
		usleep(10000);
		xs_drain_ends(self->pipe_fd, buf, sizeof(buf), &len, &e);
	}
	xs_drain_ends(self->pipe_fd, buf, sizeof(buf), &len, &e);
	EXPECT_EQ(objs, e.n) TH_LOG("%d ends of %llu objects", e.n, objs);
	EXPECT_EQ(objs, e.memory);
	EXPECT_EQ(self->refcnt, kd_t_module_refcnt_wait(self->refcnt,
							XR_SETTLE_MS));
}

TEST_HARNESS_MAIN
