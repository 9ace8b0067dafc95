// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test: a seeded random sequence of every ioctl, the io_uring command
 * and mmap/munmap of /dev/kdispose, export fds passed to imports (with
 * pipes, device files and closed fds among them), from several threads and
 * forked
 * children at once, with valid, stale (disposed), foreign (another file's)
 * and garbage arguments: random types, flags, parents and labels; struct
 * sizes other than the ABI's (_IOC size), shorter, or longer with a zero or
 * non-zero tail; bad pointers (NULL, unmapped, read-only, kernel,
 * non-canonical); unknown commands. Now and then a file is replaced under
 * the other threads (dup2), and a forked child runs a short sequence on the
 * inherited files and mappings and exits, or is killed mid-way.
 *
 * Every result must be one the UAPI documents for that call (kdispose.h),
 * and each success is checked for what it returned. At the end every file
 * is closed and the module counters of the run must balance: created ==
 * disposed + finalized, nothing live, everything released; every create
 * or import that returned 0 is counted as created (exactly, unless a child
 * was killed mid-call) and no dispose that returned 1 went unaccounted
 * (disposed >= the dispose results of 1: an object disposed twice would
 * break it). Crashes, hangs and splats are what the kernel side adds.
 *
 * Environment (kselftest_harness.h takes no arguments):
 *   KDISPOSE_FUZZ_SEED=N     the seed (default: from the wall clock and
 *                            the pid); printed
 *   KDISPOSE_FUZZ_OPS=N      operations of the main process' threads
 *                            (default 15000: a short pass for make check)
 *   KDISPOSE_FUZZ_THREADS=N  worker threads (default 3, at most 16)
 * Each thread's sequence of calls and arguments follows from the seed
 * alone; which objects they hit depends on the interleaving, which with
 * KDISPOSE_FUZZ_THREADS=1 is fixed too (forked children aside).
 */
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kdispose_test.h"

#define DEFAULT_OPS	15000
#define DEFAULT_THREADS	3
#define MAX_THREADS	16

/* Device files the threads share, and the handles seen recently. */
#define NFILES		3
#define POOL		512

/* Module limits during the run: low, so that they are reached. */
#define RUN_MAX_OBJECTS	400
#define RUN_MAX_BYTES	(2 << 20)

/* Operations of one forked child; one fork per this many ops at most. */
#define CHILD_OPS	150
#define FORK_EVERY	400

/*
 * Export fds each process keeps for imports (a forked child has copies of
 * its parent's, and adds its own).
 */
#define NEXPORTS	16

/* Buffers and events (and events alone) each thread made recently. */
#define NRECENT		8

/* A thread's own mappings of memory buffers. */
#define MAX_MAPS	8

/* Longest wait for one io_uring completion. */
#define CQE_TIMEOUT_S	5

/* The run fails when no operation completes for this long. */
#define STALL_S		30

/* Longest wait for the objects of closed files to be released. */
#define SETTLE_MS	10000

enum fz_op {
	FZ_CREATE,
	FZ_DISPOSE,
	FZ_QUERY,
	FZ_OP,
	FZ_BATCH,
	FZ_URING,
	FZ_MMAP,
	FZ_MUNMAP,
	FZ_RAW,
	FZ_REOPEN,
	FZ_FORK,
	FZ_EXPORT,
	FZ_IMPORT,
	FZ_WAIT,
	FZ_NR_OPS,
};

/*
 * State shared by the threads and the forked children: a MAP_SHARED
 * anonymous mapping, so that a child's results count too.
 */
struct fz_shared {
	atomic_ulong ops;		/* operations done, all processes */
	atomic_ulong child_ops;		/* of which by forked children */
	atomic_ulong per_op[FZ_NR_OPS];
	atomic_ulong create_calls;	/* calls that could have created */
	atomic_ulong created;		/* creates and imports that returned 0 */
	atomic_ulong disposed;		/* dispose results of 1 */
	atomic_ulong exported;		/* exports that gave an fd */
	atomic_ulong imported;		/* imports that gave a handle */
	atomic_ulong waited;		/* waits that returned an event */
	atomic_ulong forks;
	atomic_ulong kills;
	atomic_ulong errors;		/* results the UAPI does not allow */
	atomic_int error_taken;
	char first_error[256];
	atomic_ullong pool_handle[POOL];
	atomic_int pool_file[POOL];
};

static struct fz_shared *fz;

/* What every thread uses; set up before the threads start. */
static int fz_files[NFILES];		/* fixed fd numbers (dup2 keeps them) */
static int fz_pipe[2];			/* pinned by KDISPOSE_TYPE_FILE */
static int fz_null = -1;		/* a file that is not /dev/kdispose */
static long fz_page;
static char *fz_none;			/* an unmapped (PROT_NONE) page */
static char *fz_rdonly;			/* a read-only page of zeros */
static atomic_bool fz_stop;
static atomic_int fz_exports[NEXPORTS];	/* this process' export fds, or -1 */

struct fz_thread {
	pthread_t tid;
	unsigned int id;
	uint64_t rng;
	unsigned long ops;		/* this thread's quota */
	bool child;			/* a forked child: no fork, no stats */
	atomic_int current;		/* the operation in progress */
	char *buf;			/* 4 pages for memory reads/writes */
	char arg[512];			/* ioctl arguments */
	struct io_uring ring;
	bool ring_up;
	bool joined;			/* the main thread has joined it */
	struct { char *addr; size_t len; } maps[MAX_MAPS];
	int nmaps;
	__u64 last;			/* the last handle this thread made */
	int last_file;
	unsigned long since_fork;
	struct fz_recent {
		__u64 handle;
		int file;
	} shareable[NRECENT], events[NRECENT];	/* rings, for exports, waits */
	unsigned int nshareable, nevents;	/* entries written, ever */
};

/* splitmix64: small, fast and good enough to pick arguments. */
static uint64_t rnd(struct fz_thread *t)
{
	uint64_t z = (t->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A number in [0, @n). */
static uint64_t below(struct fz_thread *t, uint64_t n)
{
	return n ? rnd(t) % n : 0;
}

/* True with probability @pct percent. */
static bool chance(struct fz_thread *t, unsigned int pct)
{
	return below(t, 100) < pct;
}

/* Record a result the UAPI does not allow: the first one is kept. */
static void fz_error(struct fz_thread *t, const char *what, long ret)
{
	atomic_fetch_add(&fz->errors, 1);
	if (atomic_exchange(&fz->error_taken, 1))
		return;
	snprintf(fz->first_error, sizeof(fz->first_error),
		 "%s thread %u: %s returned %ld (%s)",
		 t->child ? "child of" : "main", t->id, what, ret,
		 ret < 0 ? strerror((int)-ret) : "positive");
}

/* Errors that each kind of call may return (kdispose.h). */
static bool errno_ok(enum fz_op op, int err)
{
	switch (err) {
	case EINVAL: case E2BIG: case EFAULT: case ENOTTY: case ENOENT:
		return true;
	case EIDRM:
		return op != FZ_DISPOSE;
	case EMFILE:
		return op == FZ_CREATE || op == FZ_OP || op == FZ_RAW ||
		       op == FZ_EXPORT || op == FZ_IMPORT;
	case EDQUOT:
		return op == FZ_CREATE || op == FZ_RAW || op == FZ_EXPORT ||
		       op == FZ_IMPORT;
	case ENOSPC: case EMLINK: case EBADF:
		return op == FZ_CREATE || op == FZ_RAW || op == FZ_IMPORT;
	case ELOOP:
		return op == FZ_CREATE || op == FZ_RAW;
	case EOPNOTSUPP:
		return op == FZ_OP || op == FZ_RAW || op == FZ_EXPORT;
	case ETIMEDOUT:
		return op == FZ_OP || op == FZ_RAW || op == FZ_WAIT;
	case EMEDIUMTYPE:
		return op == FZ_IMPORT || op == FZ_RAW;
	default:
		return false;
	}
}

static void pool_put(struct fz_thread *t, int file, __u64 h)
{
	unsigned int i = below(t, POOL);

	atomic_store(&fz->pool_handle[i], h);
	atomic_store(&fz->pool_file[i], file);
	t->last = h;
	t->last_file = file;
}

/*
 * A handle to use on @file: one seen recently (live, disposed, or of
 * another file), this thread's last, a forged one near the real ones,
 * zero, or noise.
 */
static __u64 pick_handle(struct fz_thread *t, int file)
{
	unsigned int r = below(t, 100);

	if (r < 55)
		return atomic_load(&fz->pool_handle[below(t, POOL)]);
	if (r < 70)
		return t->last;
	if (r < 85)
		return kd_t_handle_make(below(t, 3000), below(t, 512));
	if (r < 92)
		return 0;
	return rnd(t);
}

/* The fd of one of the shared files. */
static int pick_file(struct fz_thread *t, int *file)
{
	*file = below(t, NFILES);
	return fz_files[*file];
}

/* A bad user pointer: NULL, unmapped, read-only, kernel, non-canonical. */
static void *bad_pointer(struct fz_thread *t)
{
	void *const bad[] = {
		NULL, fz_none, fz_rdonly, (void *)0xffffffff81000000UL,
		(void *)0x8000000000000000UL,
	};

	return bad[below(t, ARRAY_SIZE(bad))];
}

/*
 * The ioctl @cmd with a copy of @arg (@size bytes) in t->arg: mostly as
 * the ABI defines it, sometimes with a larger struct (zero tail: accepted;
 * non-zero tail: E2BIG), a smaller one (ENOTTY), or a bad pointer. On
 * success the kernel's output is copied back to @arg.
 * Return: the ioctl's result or -errno.
 */
static long fz_ioctl(struct fz_thread *t, int fd, unsigned int cmd,
		     void *arg, size_t size)
{
	unsigned int r = below(t, 100), usize = size;
	void *p = t->arg;
	long ret;

	memset(t->arg, 0, sizeof(t->arg));
	memcpy(t->arg, arg, size);
	if (r < 85) {
		usize = size;
	} else if (r < 91) {
		usize = size + 8 * (1 + below(t, 8));
	} else if (r < 94) {
		usize = size + 8 * (1 + below(t, 8));
		t->arg[size + below(t, usize - size)] = 1 + below(t, 255);
	} else if (r < 96) {
		usize = size - 8 * (1 + below(t, 2));
	} else {
		p = bad_pointer(t);
	}
	cmd = _IOC(_IOC_DIR(cmd), _IOC_TYPE(cmd), _IOC_NR(cmd), usize);
	ret = ioctl(fd, cmd, p);
	if (ret < 0)
		return -errno;
	if (p == t->arg)
		memcpy(arg, t->arg, size);
	return ret;
}

/*
 * Token values carry the index of the shared file they were created or set
 * through, in their top byte: a TOKEN_GET through file i that returns a
 * value of file j != i has reached another file's object (files replaced
 * by dup2 keep their index, so this catches a lookup across indexes).
 */
#define TOKEN_TAG_SHIFT	56

static __u64 token_value(struct fz_thread *t, int file)
{
	return (__u64)(file + 1) << TOKEN_TAG_SHIFT |
	       (rnd(t) & ((1ULL << TOKEN_TAG_SHIFT) - 1));
}

static void fz_create(struct fz_thread *t)
{
	static const __u32 types[] = {
		KDISPOSE_TYPE_TOKEN, KDISPOSE_TYPE_MEMORY, KDISPOSE_TYPE_EVENT,
		KDISPOSE_TYPE_FILE, KDISPOSE_TYPE_GROUP,
	};
	struct kdispose_create c = { 0 };
	int file, fd = pick_file(t, &file);
	unsigned int i;
	long ret;

	c.type = chance(t, 92) ? types[below(t, ARRAY_SIZE(types))] :
				 (__u32)rnd(t);
	c.flags = chance(t, 96) ? 0 : (__u32)rnd(t);
	c.parent = chance(t, 55) ? 0 : pick_handle(t, file);
	switch (c.type) {
	case KDISPOSE_TYPE_MEMORY:
		c.args[0] = chance(t, 95) ? 1 + below(t, 3 * fz_page) :
					    rnd(t) >> below(t, 64);
		break;
	case KDISPOSE_TYPE_EVENT:
		c.args[0] = chance(t, 95) ? below(t, 4) : rnd(t);
		break;
	case KDISPOSE_TYPE_FILE:
		/* Mostly a pipe; the device itself (ELOOP), no fd (EBADF). */
		c.args[0] = below(t, 2) ? fz_pipe[below(t, 2)] :
			    chance(t, 50) ? fd : chance(t, 50) ? 1000 : rnd(t);
		break;
	case KDISPOSE_TYPE_TOKEN:
		c.args[0] = token_value(t, file);
		break;
	default:
		c.args[0] = rnd(t);
		break;
	}
	c.args[1] = chance(t, 96) ? 0 : rnd(t);
	for (i = 0; i < sizeof(c.label); i++)
		c.label[i] = chance(t, 80) ? 'a' + below(t, 26) : 0;

	atomic_fetch_add(&fz->create_calls, 1);
	ret = fz_ioctl(t, fd, KDISPOSE_IOC_CREATE, &c, sizeof(c));
	if (ret == 0) {
		atomic_fetch_add(&fz->created, 1);
		if (!c.handle)
			fz_error(t, "create (handle 0)", ret);
		pool_put(t, file, c.handle);
		if (c.type == KDISPOSE_TYPE_MEMORY ||
		    c.type == KDISPOSE_TYPE_EVENT)
			t->shareable[t->nshareable++ % NRECENT] =
				(struct fz_recent){ c.handle, file };
		if (c.type == KDISPOSE_TYPE_EVENT)
			t->events[t->nevents++ % NRECENT] =
				(struct fz_recent){ c.handle, file };
	} else if (ret > 0 || !errno_ok(FZ_CREATE, -ret)) {
		fz_error(t, "create", ret);
	}
}

static void fz_dispose(struct fz_thread *t)
{
	struct kdispose_dispose d = { 0 };
	int file, fd = pick_file(t, &file);
	long ret;

	d.handle = pick_handle(t, file);
	if (chance(t, 4))
		d.flags = rnd(t);
	if (chance(t, 4))
		d.pad = rnd(t);
	ret = fz_ioctl(t, fd, KDISPOSE_IOC_DISPOSE, &d, sizeof(d));
	if (ret == 1)
		atomic_fetch_add(&fz->disposed, 1);
	else if (ret != 0 && (ret > 0 || !errno_ok(FZ_DISPOSE, -ret)))
		fz_error(t, "dispose", ret);
}

static void fz_query(struct fz_thread *t)
{
	struct kdispose_query q = { 0 };
	int file, fd = pick_file(t, &file);
	long ret;

	q.handle = pick_handle(t, file);
	if (chance(t, 4))
		q.flags = rnd(t);
	ret = fz_ioctl(t, fd, KDISPOSE_IOC_QUERY, &q, sizeof(q));
	if (ret == 0) {
		/*
		 * The call's own reference is always there; the table's may be
		 * gone already, when another thread disposed the object since.
		 */
		if (!q.type || q.type > KDISPOSE_TYPE_GROUP ||
		    q.refcount < 1 || q.depth > KDISPOSE_MAX_DEPTH ||
		    (q.depth == 0) != (q.parent == 0)) {
			char what[96];

			snprintf(what, sizeof(what),
				 "query (type %u refcount %u depth %u parent %#llx)",
				 q.type, q.refcount, q.depth, q.parent);
			fz_error(t, what, ret);
		}
	} else if (ret > 0 || !errno_ok(FZ_QUERY, -ret)) {
		fz_error(t, "query", ret);
	}
}

static void fz_op(struct fz_thread *t)
{
	static const __u32 ops[] = {
		KDISPOSE_OP_TOKEN_GET, KDISPOSE_OP_TOKEN_SET,
		KDISPOSE_OP_MEM_READ, KDISPOSE_OP_MEM_WRITE,
		KDISPOSE_OP_EVENT_SIGNAL, KDISPOSE_OP_EVENT_RESET,
		KDISPOSE_OP_EVENT_WAIT, KDISPOSE_OP_FILE_INSTALL,
	};
	struct kdispose_op o = { 0 };
	int file, fd = pick_file(t, &file);
	long ret;

	o.handle = pick_handle(t, file);
	o.op = chance(t, 90) ? ops[below(t, ARRAY_SIZE(ops))] : (__u32)rnd(t);
	if (chance(t, 3))
		o.flags = rnd(t);
	switch (o.op) {
	case KDISPOSE_OP_TOKEN_SET:
		o.args[0] = token_value(t, file);
		break;
	case KDISPOSE_OP_MEM_READ:
	case KDISPOSE_OP_MEM_WRITE:
		o.args[0] = below(t, 3 * fz_page);
		o.args[1] = below(t, 3 * fz_page);
		o.args[2] = chance(t, 92) ? (uintptr_t)t->buf :
					    (uintptr_t)bad_pointer(t);
		break;
	case KDISPOSE_OP_EVENT_WAIT:
		o.args[0] = below(t, 1000000);	/* at most 1 ms */
		break;
	case KDISPOSE_OP_FILE_INSTALL:
		o.args[0] = chance(t, 90) ? below(t, 2) : rnd(t);
		break;
	default:
		break;
	}
	if (chance(t, 3))
		o.args[1 + below(t, 3)] = rnd(t);

	ret = fz_ioctl(t, fd, KDISPOSE_IOC_OP, &o, sizeof(o));
	if (ret > 0 && o.op == KDISPOSE_OP_FILE_INSTALL) {
		if (close((int)ret))
			fz_error(t, "op FILE_INSTALL (not an fd)", ret);
	} else if (ret != 0 && (ret > 0 || !errno_ok(FZ_OP, -ret))) {
		fz_error(t, "op", ret);
	} else if (ret == 0 && o.op == KDISPOSE_OP_TOKEN_GET &&
		   o.args[0] >> TOKEN_TAG_SHIFT != (__u64)file + 1) {
		fz_error(t, "op TOKEN_GET (a token of another file)",
			 (long)(o.args[0] >> TOKEN_TAG_SHIFT));
	}
}

static void fz_batch(struct fz_thread *t)
{
	__u64 handles[KDISPOSE_BATCH_MAX / 8];
	__s32 results[KDISPOSE_BATCH_MAX / 8];
	struct kdispose_dispose_batch b = { 0 };
	int file, fd = pick_file(t, &file);
	unsigned int i, n = below(t, ARRAY_SIZE(handles) + 1);
	long ret;

	for (i = 0; i < n; i++)
		handles[i] = pick_handle(t, file);
	b.handles = chance(t, 95) ? (uintptr_t)handles :
				    (uintptr_t)bad_pointer(t);
	b.results = chance(t, 95) ? (uintptr_t)results :
				    (uintptr_t)bad_pointer(t);
	b.count = chance(t, 97) ? n : KDISPOSE_BATCH_MAX + 1 + below(t, 100);
	if (chance(t, 3))
		b.flags = rnd(t);
	if (chance(t, 3))
		b.pad = rnd(t);

	ret = fz_ioctl(t, fd, KDISPOSE_IOC_DISPOSE_BATCH, &b, sizeof(b));
	if (ret == 0) {
		unsigned int ones = 0;

		for (i = 0; i < b.count; i++) {
			if (results[i] == 1)
				ones++;
			else if (results[i] != 0 && results[i] != -ENOENT)
				fz_error(t, "batch (result)", results[i]);
		}
		if (ones != b.ndisposed)
			fz_error(t, "batch (ndisposed)", b.ndisposed);
		atomic_fetch_add(&fz->disposed, b.ndisposed);
	} else if (ret > 0 || !errno_ok(FZ_BATCH, -ret)) {
		fz_error(t, "batch", ret);
	}
}

/* A few dispose commands through this thread's ring, all reaped. */
static void fz_uring(struct fz_thread *t)
{
	struct __kernel_timespec ts = { .tv_sec = CQE_TIMEOUT_S };
	unsigned int i, n = 1 + below(t, 6);
	struct io_uring_cqe *cqe;
	int ret;

	if (!t->ring_up) {
		ret = io_uring_queue_init(16, &t->ring, 0);
		if (ret) {
			fz_error(t, "io_uring_queue_init", ret);
			return;
		}
		t->ring_up = true;
	}
	for (i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);
		struct kdispose_dispose d = { 0 };
		int file, fd = pick_file(t, &file);

		if (chance(t, 3))
			fd = fz_null;
		io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
		sqe->cmd_op = chance(t, 92) ? KDISPOSE_URING_CMD_DISPOSE :
					      (__u32)rnd(t);
		d.handle = pick_handle(t, file);
		if (chance(t, 3))
			d.flags = rnd(t);
		if (chance(t, 3))
			d.pad = rnd(t);
		memcpy(sqe->cmd, &d, sizeof(d));
		if (chance(t, 20))
			sqe->flags |= IOSQE_ASYNC;
	}
	ret = io_uring_submit(&t->ring);
	if (ret != (int)n) {
		fz_error(t, "io_uring_submit", ret);
		return;
	}
	for (i = 0; i < n; i++) {
		ret = io_uring_wait_cqe_timeout(&t->ring, &cqe, &ts);
		if (ret) {
			fz_error(t, "uring (no completion)", ret);
			return;
		}
		ret = cqe->res;
		io_uring_cqe_seen(&t->ring, cqe);
		if (ret == 1)
			atomic_fetch_add(&fz->disposed, 1);
		else if (ret != 0 && ret != -ENOENT && ret != -EINVAL &&
			 ret != -EOPNOTSUPP)
			fz_error(t, "uring dispose", ret);
	}
}

/* Map a memory buffer (or try to map something else) of a shared file. */
static void fz_mmap(struct fz_thread *t)
{
	struct kdispose_query q;
	int file, fd = pick_file(t, &file);
	size_t len = fz_page * (1 + below(t, 3));
	off_t off = 0;
	char *p;

	if (t->nmaps == MAX_MAPS)
		return;
	if (chance(t, 85)) {
		if (kd_t_query(fd, pick_handle(t, file), &q) == 0)
			off = q.info[1];
	} else {
		off = below(t, 4000) * fz_page;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 chance(t, 92) ? MAP_SHARED : MAP_PRIVATE, fd, off);
	if (p == MAP_FAILED) {
		/* EOVERFLOW: an offset (another type's info) beyond 2^64. */
		if (errno != EINVAL && errno != EOVERFLOW)
			fz_error(t, "mmap", -errno);
		return;
	}
	/* Touch every page: the buffer is at least this long. */
	for (size_t i = 0; i < len; i += fz_page)
		p[i] ^= 1;
	t->maps[t->nmaps].addr = p;
	t->maps[t->nmaps].len = len;
	t->nmaps++;
}

/* Unmap a mapping, or its first page only (a split). */
static void fz_munmap(struct fz_thread *t)
{
	unsigned int i;

	if (!t->nmaps)
		return;
	i = below(t, t->nmaps);
	if (t->maps[i].len > (size_t)fz_page && chance(t, 40)) {
		if (munmap(t->maps[i].addr, fz_page))
			fz_error(t, "munmap (part)", -errno);
		t->maps[i].addr += fz_page;
		t->maps[i].len -= fz_page;
		return;
	}
	if (munmap(t->maps[i].addr, t->maps[i].len))
		fz_error(t, "munmap", -errno);
	t->maps[i] = t->maps[--t->nmaps];
}

/*
 * Any command number, direction and size of kdispose's magic (or another
 * magic), with an argument of noise that starts like a real one. What it
 * created or disposed still counts.
 */
static void fz_raw(struct fz_thread *t)
{
	int file, fd = pick_file(t, &file);
	unsigned int nr = below(t, _IOC_NR(KDISPOSE_IOC_WAIT) + 1), i;
	unsigned int type = chance(t, 90) ? KDISPOSE_IOC_MAGIC : below(t, 256);
	unsigned int size = below(t, 160);
	unsigned int dir = below(t, 4);
	unsigned long cmd = _IOC(dir, type, nr, size);
	struct kdispose_dispose_batch *b = (void *)t->arg;
	struct kdispose_op *o = (void *)t->arg;
	struct kdispose_wait *w = (void *)t->arg;
	bool ours = type == KDISPOSE_IOC_MAGIC;
	long ret;

	for (i = 0; i < sizeof(t->arg); i++)
		t->arg[i] = chance(t, 70) ? 0 : rnd(t);
	if (chance(t, 50))
		memcpy(t->arg, &(__u64){ pick_handle(t, file) }, 8);
	if (ours && nr == _IOC_NR(KDISPOSE_IOC_OP))
		o->args[0] = below(t, 1000000);	/* a wait is short */
	if (ours && nr == _IOC_NR(KDISPOSE_IOC_DISPOSE_BATCH))
		b->count = below(t, 8);
	if (ours && nr == _IOC_NR(KDISPOSE_IOC_WAIT))
		w->timeout_ns = below(t, 1000000);	/* a wait is short */
	if (ours && (nr == _IOC_NR(KDISPOSE_IOC_CREATE) ||
		     nr == _IOC_NR(KDISPOSE_IOC_IMPORT)))
		atomic_fetch_add(&fz->create_calls, 1);
	if (chance(t, 10))
		fd = fz_null;

	ret = ioctl(fd, cmd, chance(t, 95) ? (void *)t->arg : bad_pointer(t));
	ret = ret < 0 ? -errno : ret;
	/* Another driver, or the VFS' own commands: only not crashing counts. */
	if (fd == fz_null || !ours)
		return;
	if (ret < 0) {
		if (!errno_ok(FZ_RAW, -ret))
			fz_error(t, "raw ioctl", ret);
		return;
	}
	if (nr == _IOC_NR(KDISPOSE_IOC_CREATE) ||
	    nr == _IOC_NR(KDISPOSE_IOC_IMPORT))
		atomic_fetch_add(&fz->created, 1);
	else if (nr == _IOC_NR(KDISPOSE_IOC_DISPOSE) && ret == 1)
		atomic_fetch_add(&fz->disposed, 1);
	else if (nr == _IOC_NR(KDISPOSE_IOC_DISPOSE_BATCH))
		atomic_fetch_add(&fz->disposed, b->ndisposed);
	else if (nr == _IOC_NR(KDISPOSE_IOC_OP) && ret > 0)
		close((int)ret);	/* FILE_INSTALL's new fd */
	else if (nr == _IOC_NR(KDISPOSE_IOC_EXPORT))
		close((int)ret);	/* the export fd */
}

/* Keep export fd @efd for imports, in place of an older one. */
static void exports_put(struct fz_thread *t, int efd)
{
	int old = atomic_exchange(&fz_exports[below(t, NEXPORTS)], efd);

	if (old >= 0)
		close(old);
}

/* Close this process' export fds. */
static void exports_close(void)
{
	unsigned int i;
	int old;

	for (i = 0; i < NEXPORTS; i++) {
		old = atomic_exchange(&fz_exports[i], -1);
		if (old >= 0)
			close(old);
	}
}

/*
 * In a new child: forget the inherited export fds that are not open as
 * export fds here. fork() copies the fd table before the memory, and the
 * parent's other threads keep running in between: an export fd made and
 * stored meanwhile is in the child's copy of fz_exports but not in its fd
 * table, and the child must not close that number later (its own io_uring
 * may have it by then).
 */
static void exports_adopt(void)
{
	static const char want[] = "anon_inode:[kdispose-";
	char path[32], link[sizeof(want)];
	unsigned int i;
	int fd;

	for (i = 0; i < NEXPORTS; i++) {
		fd = atomic_load(&fz_exports[i]);
		if (fd < 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (readlink(path, link, sizeof(link)) != sizeof(link) ||
		    memcmp(link, want, sizeof(link) - 1))
			atomic_store(&fz_exports[i], -1);
	}
}

/* One of the @n entries of ring @ring written ever, or NULL. */
static const struct fz_recent *pick_recent(struct fz_thread *t,
					   const struct fz_recent *ring,
					   unsigned int n)
{
	if (!n)
		return NULL;
	return &ring[below(t, n < NRECENT ? n : NRECENT)];
}

/*
 * Export a handle: mostly a buffer or an event this thread made (it may
 * have been disposed since), else one seen recently (of this file or
 * another, of any type), with valid flags; the new fd must be
 * close-on-exec unless asked otherwise.
 */
static void fz_export(struct fz_thread *t)
{
	const struct fz_recent *r = pick_recent(t, t->shareable,
						t->nshareable);
	struct kdispose_export e = { 0 };
	int file, fd = pick_file(t, &file), fdflags;
	long ret;

	e.handle = pick_handle(t, file);
	if (r && chance(t, 70)) {
		file = r->file;
		fd = fz_files[file];
		e.handle = r->handle;
	}
	if (chance(t, 94))
		e.flags = chance(t, 50) ? KDISPOSE_EXPORT_NO_CLOEXEC : 0;
	else
		e.flags = rnd(t);
	if (chance(t, 4))
		e.pad = rnd(t);
	ret = fz_ioctl(t, fd, KDISPOSE_IOC_EXPORT, &e, sizeof(e));
	if (ret < 0) {
		if (!errno_ok(FZ_EXPORT, -ret))
			fz_error(t, "export", ret);
		return;
	}
	fdflags = fcntl((int)ret, F_GETFD);
	if (e.flags & ~KDISPOSE_EXPORT_NO_CLOEXEC || e.pad)
		fz_error(t, "export (flags or pad not zero)", ret);
	else if (fdflags < 0 ||
		 !(fdflags & FD_CLOEXEC) != !!(e.flags &
					       KDISPOSE_EXPORT_NO_CLOEXEC))
		fz_error(t, "export (FD_CLOEXEC not as asked)", fdflags);
	atomic_fetch_add(&fz->exported, 1);
	exports_put(t, (int)ret);
}

/*
 * An fd to import: mostly an export fd of this process (possibly closed
 * meanwhile, its number possibly reused), else something that is not one:
 * a device file, a pipe, /dev/null, any small fd number.
 */
static int pick_efd(struct fz_thread *t)
{
	unsigned int r = below(t, 100);

	if (r < 72)
		return atomic_load(&fz_exports[below(t, NEXPORTS)]);
	if (r < 80)
		return fz_files[below(t, NFILES)];
	if (r < 88)
		return fz_pipe[below(t, 2)];
	if (r < 93)
		return fz_null;
	return (int)below(t, 64) - 1;
}

/*
 * Import into a shared file, as any type or a random one, mostly without a
 * parent. A new handle asked as a type must be of that type when its own
 * label still shows it is the one imported (another thread may have
 * replaced the file since).
 */
static void fz_import(struct fz_thread *t)
{
	struct kdispose_import im = { 0 };
	int file, fd = pick_file(t, &file);
	struct kdispose_query q;
	unsigned int i;
	long ret;

	im.fd = pick_efd(t);
	im.type = chance(t, 50) ? 0 : chance(t, 90) ? 1 + below(t, 5) :
						    (__u32)rnd(t);
	im.parent = chance(t, 60) ? 0 : pick_handle(t, file);
	if (chance(t, 3))
		im.flags = rnd(t);
	if (chance(t, 3))
		im.pad = rnd(t);
	memcpy(im.label, "imp", 3);
	for (i = 3; i < sizeof(im.label) - 1; i++)
		im.label[i] = 'a' + below(t, 26);

	atomic_fetch_add(&fz->create_calls, 1);
	ret = fz_ioctl(t, fd, KDISPOSE_IOC_IMPORT, &im, sizeof(im));
	if (ret != 0) {
		if (ret > 0 || !errno_ok(FZ_IMPORT, -ret))
			fz_error(t, "import", ret);
		return;
	}
	atomic_fetch_add(&fz->created, 1);
	atomic_fetch_add(&fz->imported, 1);
	if (!im.handle)
		fz_error(t, "import (handle 0)", ret);
	else if (im.flags || im.pad)
		fz_error(t, "import (flags or pad not zero)", ret);
	pool_put(t, file, im.handle);
	if (im.type && !kd_t_query(fd, im.handle, &q) &&
	    !strncmp(q.label, im.label, sizeof(q.label)) &&
	    q.type != im.type)
		fz_error(t, "import (not of the type asked)", q.type);
}

/*
 * Wait for any or all of a few handles, for at most a millisecond: mostly
 * events this thread made in one file (created signaled half the time,
 * possibly disposed since), else handles seen recently. The result must be
 * an index of the array (any) or 0 (all).
 */
static void fz_wait(struct fz_thread *t)
{
	const struct fz_recent *r = pick_recent(t, t->events, t->nevents);
	__u64 handles[KDISPOSE_WAIT_MAX + 8];
	struct kdispose_wait w = { 0 };
	int file, fd = pick_file(t, &file);
	unsigned int i, j, n = 1 + below(t, 8);
	long ret;

	if (chance(t, 5))
		n = below(t, ARRAY_SIZE(handles) + 1);
	if (r && chance(t, 60)) {
		file = r->file;
		fd = fz_files[file];
	}
	for (i = 0; i < n; i++) {
		handles[i] = pick_handle(t, file);
		if (!r || chance(t, 5))
			continue;
		/* An event of this file, if the ring has one. */
		for (j = 0; j < NRECENT && j < t->nevents; j++) {
			r = pick_recent(t, t->events, t->nevents);
			if (r->file == file) {
				handles[i] = r->handle;
				break;
			}
		}
	}
	w.handles = chance(t, 95) ? (uintptr_t)handles :
				    (uintptr_t)bad_pointer(t);
	w.count = n;
	if (chance(t, 94))
		w.flags = chance(t, 30) ? KDISPOSE_WAIT_ALL : 0;
	else
		w.flags = rnd(t);
	w.timeout_ns = chance(t, 30) ? 0 : below(t, 1000000);
	if (chance(t, 3))
		w.pad = rnd(t);

	ret = fz_ioctl(t, fd, KDISPOSE_IOC_WAIT, &w, sizeof(w));
	if (ret < 0) {
		if (!errno_ok(FZ_WAIT, -ret))
			fz_error(t, "wait", ret);
		return;
	}
	if (!n || n > KDISPOSE_WAIT_MAX || w.pad ||
	    w.flags & ~KDISPOSE_WAIT_ALL)
		fz_error(t, "wait (bad count, flags or pad)", ret);
	else if (w.flags & KDISPOSE_WAIT_ALL ? ret != 0 : ret >= n)
		fz_error(t, "wait (not an index of the array)", ret);
	else
		atomic_fetch_add(&fz->waited, 1);
}

/* Replace a shared file under the other threads: the old one finalizes. */
static void fz_reopen(struct fz_thread *t)
{
	int file = below(t, NFILES), fd = kd_t_open();

	if (fd < 0) {
		fz_error(t, "open", fd);
		return;
	}
	if (dup2(fd, fz_files[file]) < 0)
		fz_error(t, "dup2", -errno);
	close(fd);
}

static void fz_run(struct fz_thread *t, unsigned long ops);

/*
 * A child runs CHILD_OPS operations on the inherited files, mappings and
 * pool, single-threaded, then exits; or the parent kills it at a random
 * moment. Either way its files and mappings go with it. The child calls
 * no malloc() or stdio: another thread of the parent may have held their
 * locks at the fork.
 */
static void fz_fork(struct fz_thread *t)
{
	pid_t pid;
	int status;

	if (t->child || t->since_fork < FORK_EVERY)
		return;
	t->since_fork = 0;
	pid = fork();
	if (pid < 0) {
		fz_error(t, "fork", -errno);
		return;
	}
	if (pid == 0) {
		t->child = true;
		t->ring_up = false;	/* the parent's ring is not ours */
		exports_adopt();
		fz_run(t, CHILD_OPS);
		_exit(0);
	}
	atomic_fetch_add(&fz->forks, 1);
	if (chance(t, 25)) {
		usleep(below(t, 3000));
		kill(pid, SIGKILL);
		atomic_fetch_add(&fz->kills, 1);
	}
	if (waitpid(pid, &status, 0) != pid)
		fz_error(t, "waitpid", -errno);
	else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) &&
		 !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
		fz_error(t, "child died", status);
}

/* The operations: name, relative weight, and what runs one. */
static const struct {
	const char *name;
	unsigned int weight;
	void (*run)(struct fz_thread *t);
} fz_ops[FZ_NR_OPS] = {
	[FZ_CREATE] = { "create", 24, fz_create },
	[FZ_DISPOSE] = { "dispose", 13, fz_dispose },
	[FZ_QUERY] = { "query", 9, fz_query },
	[FZ_OP] = { "op", 16, fz_op },
	[FZ_BATCH] = { "batch", 6, fz_batch },
	[FZ_URING] = { "uring", 8, fz_uring },
	[FZ_MMAP] = { "mmap", 6, fz_mmap },
	[FZ_MUNMAP] = { "munmap", 4, fz_munmap },
	[FZ_RAW] = { "raw-ioctl", 10, fz_raw },
	[FZ_REOPEN] = { "reopen", 1, fz_reopen },
	[FZ_FORK] = { "fork", 1, fz_fork },
	[FZ_EXPORT] = { "export", 4, fz_export },
	[FZ_IMPORT] = { "import", 6, fz_import },
	[FZ_WAIT] = { "wait", 4, fz_wait },
};

static enum fz_op pick_op(struct fz_thread *t)
{
	unsigned int total = 0, r, op;

	for (op = 0; op < FZ_NR_OPS; op++)
		total += fz_ops[op].weight;
	r = below(t, total);
	for (op = 0; r >= fz_ops[op].weight; op++)
		r -= fz_ops[op].weight;
	return op;
}

static void fz_run(struct fz_thread *t, unsigned long ops)
{
	unsigned long i;

	for (i = 0; i < ops && !atomic_load(&fz_stop); i++) {
		enum fz_op op = pick_op(t);

		atomic_store(&t->current, op);
		fz_ops[op].run(t);
		atomic_store(&t->current, -1);
		atomic_fetch_add(&fz->per_op[op], 1);
		atomic_fetch_add(&fz->ops, 1);
		if (t->child)
			atomic_fetch_add(&fz->child_ops, 1);
		t->since_fork++;
	}
}

static void *fz_thread_main(void *arg)
{
	struct fz_thread *t = arg;

	fz_run(t, t->ops);
	while (t->nmaps) {
		t->nmaps--;
		munmap(t->maps[t->nmaps].addr, t->maps[t->nmaps].len);
	}
	if (t->ring_up)
		io_uring_queue_exit(&t->ring);
	t->ring_up = false;
	return NULL;
}

/* A default seed that differs between boots of the same VM image. */
static uint64_t wall_seed(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec +
	       ((uint64_t)getpid() << 48);
}

/* Return: the numeric value of environment variable @name, or @def. */
static unsigned long long env_ull(const char *name, unsigned long long def)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : def;
}

FIXTURE(fuzz)
{
	struct kd_t_param max_objects;	/* lowered for the run */
	struct kd_t_param max_bytes;
	struct kd_t_counters start;	/* module counters before the run */
	struct fz_thread *threads;
	unsigned int nthreads;
};

FIXTURE_SETUP(fuzz)
{
	unsigned int i;

	fz_page = sysconf(_SC_PAGESIZE);
	fz = mmap(NULL, sizeof(*fz), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, fz);
	fz_none = mmap(NULL, fz_page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	ASSERT_NE(MAP_FAILED, fz_none);
	fz_rdonly = mmap(NULL, fz_page, PROT_READ,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, fz_rdonly);
	ASSERT_EQ(0, pipe2(fz_pipe, O_CLOEXEC));
	fz_null = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fz_null);
	for (i = 0; i < NEXPORTS; i++)
		atomic_store(&fz_exports[i], -1);
	ASSERT_EQ(0, kd_t_param_set_u64(&self->max_objects, "max_objects",
					RUN_MAX_OBJECTS));
	ASSERT_EQ(0, kd_t_param_set_u64(&self->max_bytes, "max_bytes",
					RUN_MAX_BYTES));
	KD_T_ASSERT_COUNTERS(self->start);
	for (i = 0; i < NFILES; i++) {
		fz_files[i] = kd_t_open();
		ASSERT_LE(0, fz_files[i]);
	}
}

FIXTURE_TEARDOWN(fuzz)
{
	EXPECT_EQ(0, kd_t_param_restore(&self->max_objects));
	EXPECT_EQ(0, kd_t_param_restore(&self->max_bytes));
}

/*
 * The harness' timeout only stops a run that hangs for good: the stall
 * check below fails earlier, and a long run (make fuzz) may take hours.
 */
TEST_F_TIMEOUT(fuzz, random_calls, 6 * 3600)
{
	uint64_t seed = env_ull("KDISPOSE_FUZZ_SEED", wall_seed());
	unsigned long total = env_ull("KDISPOSE_FUZZ_OPS", DEFAULT_OPS);
	unsigned long last_ops = 0, done;
	uint64_t t0 = kd_t_now_ns(), last_progress = t0;
	struct kd_t_counters end;
	struct kd_t_delta d;
	unsigned int i, op;
	char why[160] = "";

	self->nthreads = env_ull("KDISPOSE_FUZZ_THREADS", DEFAULT_THREADS);
	ASSERT_LE(1, self->nthreads);
	ASSERT_GE(MAX_THREADS, self->nthreads);
	ksft_print_msg("seed %llu (rerun: KDISPOSE_FUZZ_SEED=%llu), %lu ops, %u threads\n",
		       (unsigned long long)seed, (unsigned long long)seed,
		       total, self->nthreads);
	fflush(stdout);

	self->threads = calloc(self->nthreads, sizeof(*self->threads));
	ASSERT_NE(NULL, self->threads);
	for (i = 0; i < self->nthreads; i++) {
		struct fz_thread *t = &self->threads[i];

		t->id = i;
		t->rng = seed ^ (0x1000193ULL * (i + 1));
		t->ops = total / self->nthreads +
			 (i < total % self->nthreads);
		t->buf = mmap(NULL, 4 * fz_page, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, t->buf);
		atomic_store(&t->current, -1);
		ASSERT_EQ(0, pthread_create(&t->tid, NULL, fz_thread_main, t));
	}

	/* Watch for progress while the threads run. */
	for (;;) {
		bool running = false;

		for (i = 0; i < self->nthreads; i++) {
			struct fz_thread *t = &self->threads[i];

			if (!t->joined && pthread_tryjoin_np(t->tid, NULL))
				running = true;
			else
				t->joined = true;
		}
		if (!running)
			break;
		done = atomic_load(&fz->ops);
		if (done != last_ops) {
			last_ops = done;
			last_progress = kd_t_now_ns();
		} else if (kd_t_now_ns() - last_progress >
			   STALL_S * 1000000000ULL) {
			for (i = 0; i < self->nthreads; i++) {
				int cur = atomic_load(&self->threads[i].current);

				TH_LOG("thread %u stuck in %s", i,
				       cur < 0 ? "(none)" : fz_ops[cur].name);
			}
			atomic_store(&fz_stop, true);
			ASSERT_TRUE(false) TH_LOG("no progress for %d s", STALL_S);
		}
		usleep(100000);
	}

	exports_close();
	for (i = 0; i < NFILES; i++)
		EXPECT_EQ(0, close(fz_files[i]));
	close(fz_pipe[0]);
	close(fz_pipe[1]);
	close(fz_null);
	ASSERT_EQ(0, kd_t_wait_settled(&self->start, &end, SETTLE_MS))
		TH_LOG("objects still live or unreleased after every file closed");

	d = kd_t_delta(&self->start, &end, KD_T_ALL);
	ksft_print_msg("%lu ops in %.1f s (%lu of them in %lu forked children, %lu killed): created %lld, disposed %lld, finalized %lld, released %lld\n",
		       atomic_load(&fz->ops), (kd_t_now_ns() - t0) / 1e9,
		       atomic_load(&fz->child_ops), atomic_load(&fz->forks),
		       atomic_load(&fz->kills), (long long)d.created,
		       (long long)d.disposed, (long long)d.finalized,
		       (long long)d.released);
	for (op = 0; op < FZ_NR_OPS; op++)
		ksft_print_msg("  %-10s %lu\n", fz_ops[op].name,
			       atomic_load(&fz->per_op[op]));
	ksft_print_msg("sharing: %lu export fds, %lu imported handles, %lu waits that found an event\n",
		       atomic_load(&fz->exported), atomic_load(&fz->imported),
		       atomic_load(&fz->waited));
	/* The harness ends the test with _exit(): flush what it printed. */
	fflush(stdout);

	EXPECT_EQ(0, atomic_load(&fz->errors))
		TH_LOG("%lu unexpected results, the first: %s",
		       atomic_load(&fz->errors), fz->first_error);
	EXPECT_EQ(0, kd_t_counters_check(&end, why, sizeof(why)))
		TH_LOG("counter invariant broken: %s", why);
	EXPECT_EQ(d.created, d.disposed + d.finalized);
	EXPECT_EQ(0, d.live);
	EXPECT_EQ(d.created, d.released);
	/* Each create that returned 0 made one object. */
	EXPECT_LE(atomic_load(&fz->created), (unsigned long)d.created);
	EXPECT_GE(atomic_load(&fz->create_calls), (unsigned long)d.created);
	if (!atomic_load(&fz->kills))
		EXPECT_EQ(atomic_load(&fz->created), (unsigned long)d.created);
	/* No object was reported disposed to two callers. */
	EXPECT_LE(atomic_load(&fz->disposed), (unsigned long)d.disposed);

	for (i = 0; i < self->nthreads; i++)
		munmap(self->threads[i].buf, 4 * fz_page);
	free(self->threads);
}

TEST_HARNESS_MAIN
