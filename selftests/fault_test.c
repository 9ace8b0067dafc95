// SPDX-License-Identifier: GPL-2.0
/*
 * fault_test: failures inside the kernel, one at a time.
 *
 * The sweep (FIXTURE(sweep), one variant per path). For every entry point
 * that allocates memory or copies user memory (open, create of each type,
 * a create that grows the table, a create with a parent, query, each
 * operation, dispose, batch dispose, the io_uring dispose, mmap, and the
 * munmap/mprotect that split a mapping), the test makes the n-th fault
 * point of that one system call fail, for n = 1, 2, ..., through
 * /proc/thread-self/fail-nth (Documentation/fault-injection/
 * fault-injection.rst, "Systematic faults using fail-nth"): write n, make
 * the call, read the file back. It reads 0 when the n-th fault point was
 * reached and failed; it still reads non-zero when the call has fewer than
 * n fault points, and the sweep ends there, with a call that must have
 * succeeded. The fault points are slab allocations (failslab), page
 * allocations (fail_page_alloc) and user copies (fail_usercopy); the
 * fixture sets debugfs so that sleeping allocations of any order can fail
 * and nothing is printed, and restores it.
 *
 * After each failing call: a clean errno (ENOMEM or EFAULT, plus what the
 * path allows), the module counters, the file's fdinfo, the object's
 * reference count and the process' fd count all unchanged (no partial
 * object, no leaked reference, quota charge or fd); after every attempt,
 * failing or not, everything it created is released again, and a plain
 * create + dispose still works on the file. At the end of a sweep the
 * file can still hold exactly max_objects objects (no slot leaked). A call
 * can also succeed although a fault was injected (a fallback inside the
 * kernel): its result is checked like any success. Each sweep prints how
 * many fault points it went through.
 *
 * Leaked memory that no counter sees (a lost kmalloc) is for kmemleak:
 * make check-debug scans after the run. Without CONFIG_FAULT_INJECTION
 * (the production kernel) the sweep skips.
 *
 * The pointer tests (FIXTURE(ptr)) run on every kernel: each ioctl's
 * argument cut by an unmapped page after each byte, a read-only argument
 * for every create type and the calls that write back, and batch arrays
 * cut at each element; FIXTURE(mem_hole) has memory-buffer reads and
 * writes with a hole at one page of the user buffer, a variant per page.
 */
#include <liburing.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "kdispose_test.h"

#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define FAULT_DEBUGFS	"/sys/kernel/debug/"

/* A sweep that needs more fault points than this is itself a failure. */
#define MAX_POINTS	2000

/* Tokens of the batch dispose sweep: two chunks of the kernel's loop. */
#define SWEEP_BATCH	100

/* Tokens of the batch pointer tests: a third, partial chunk too. */
#define PTR_BATCH	130

/*
 * Tokens a create sweep holds while it injects: more than the freed objects
 * a file keeps for its next creates (KDISPOSE_SPARE in the module, 4), so
 * that each create under test reaches the allocation's fault point.
 */
#define SPARE_TAKE	8

/* Longest wait for an io_uring completion. */
#define CQE_TIMEOUT_S	5

/*
 * debugfs settings of the sweep. Failslab and fail_page_alloc ignore
 * sleeping allocations by default, and fail_page_alloc ignores order 0;
 * kdispose allocates with GFP_KERNEL and alloc_page(). Messages are off:
 * a stack trace per injected fault would read as a kernel splat.
 */
static const struct {
	const char *path;
	const char *value;
	bool required;
} fi_knobs[] = {
	{ FAULT_DEBUGFS "failslab/ignore-gfp-wait", "N", true },
	{ FAULT_DEBUGFS "failslab/verbose", "0", true },
	{ FAULT_DEBUGFS "fail_page_alloc/ignore-gfp-wait", "N", false },
	{ FAULT_DEBUGFS "fail_page_alloc/min-order", "0", false },
	{ FAULT_DEBUGFS "fail_page_alloc/verbose", "0", false },
	{ FAULT_DEBUGFS "fail_usercopy/verbose", "0", false },
};

#define NR_KNOBS	ARRAY_SIZE(fi_knobs)

/* Make the @n-th fault point of this thread's next calls fail. */
static int fi_arm(int nth, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(nth, buf, len, 0) == len ? 0 : -errno;
}

/*
 * fi_disarm() - after the call: was the fault injected? Then reset the
 * counter, which must not fire in a later call. With fail_usercopy the
 * read's own copy-out is a fault point: when one count was left, the read
 * fails with EFAULT, which also means the call did not reach it.
 * Return: 1 when the fault was injected, 0 when not, -errno.
 */
static int fi_disarm(int nth)
{
	char buf[16] = "";
	ssize_t n;
	int ret;

	n = pread(nth, buf, sizeof(buf) - 1, 0);
	if (n < 0 && errno != EFAULT)
		return -errno;
	ret = n > 0 && atoi(buf) == 0;
	/* The write's copy-in may consume a count left over: reset anyway. */
	if (pwrite(nth, "0", 1, 0) != 1 && errno != EFAULT)
		return -errno;
	return ret;
}

/* Return: the number of open fds of this process, or -errno. */
static int count_fds(void)
{
	return kd_t_count_entries("/proc/self/fd", NULL, NULL);
}

/* Return: "FDSize" of /proc/self/status (the fd table's size), or -errno. */
static int fd_table_size(void)
{
	char buf[4096], *p;
	int ret;

	ret = kd_t_read_file("/proc/self/status", buf, sizeof(buf));
	if (ret < 0)
		return ret;
	p = strstr(buf, "\nFDSize:");
	return p ? atoi(p + 8) : -EPROTO;
}

/* What one attempt of a sweep works with. */
struct sweep_ctx {
	int fd;			/* the fixture's device file */
	int dev;		/* the file the call uses: @fd or @grow */
	int grow;		/* a second file, filled up, or -1 */
	int pipe[2];		/* a pipe, for KDISPOSE_TYPE_FILE */
	long page;
	__u64 obj;		/* the object the call works on, or 0 */
	char *buf;		/* two pages, for memory reads and writes */
	char *map;		/* a mapping of @obj, or NULL */
	off_t map_off;		/* @obj's mmap offset */
	__u64 created;		/* the handle a create returned */
	int installed;		/* the fd a call returned, or -1 */
	int *dups;		/* fds filling the fd table, or NULL */
	int ndups;
	__u64 held[SPARE_TAKE];	/* tokens that keep the spares taken */
	__u64 batch[SWEEP_BATCH];
	__s32 results[SWEEP_BATCH];
	struct io_uring ring;
	bool ring_up;
	__u8 sqe_flags;		/* IOSQE_* of the io_uring dispose */
};

/*
 * What a call may change even when it fails. The generic check demands
 * "nothing"; a batch dispose that fails in its second chunk has disposed
 * the first (KDISPOSE_IOC_DISPOSE_BATCH's documented behaviour).
 */
struct snap {
	struct kd_t_counters cnt;
	__u64 live;		/* fdinfo of the call's file */
	__u64 bytes;
	int nfds;
	__u32 refcount;		/* of the object, 0 if none */
	__u32 nchildren;
};

/**
 * struct sweep_path - one entry point under fault injection
 * @name: the variant's name, for the report.
 * @init: optional, once per test: objects the calls work on.
 * @prepare: optional, before each attempt, outside the fault window.
 * @enter: optional, right before the fault window, after the snapshot
 *	that failures are compared with: for state that taking a snapshot
 *	would disturb (it opens files).
 * @call: the call: one system call. Return: >= 0 or -errno.
 * @leave: optional, right after the fault window: undoes @enter.
 * @done: after a call that succeeded: check what it did and undo it.
 *	Return: NULL, or what is wrong.
 * @failed: optional, after a call that failed: check and undo what it
 *	may have done. Missing: the call must have changed nothing.
 * @cleanup: optional, after each attempt, outside the fault window.
 * @errnos: what a failure may return besides ENOMEM and EFAULT (0-ended).
 */
struct sweep_path {
	const char *name;
	int (*init)(struct sweep_ctx *c);
	int (*prepare)(struct sweep_ctx *c);
	int (*enter)(struct sweep_ctx *c);
	long (*call)(struct sweep_ctx *c);
	void (*leave)(struct sweep_ctx *c);
	const char *(*done)(struct sweep_ctx *c, long ret);
	const char *(*failed)(struct sweep_ctx *c, const struct snap *before);
	void (*cleanup)(struct sweep_ctx *c);
	int errnos[4];
};

static int snap_take(struct sweep_ctx *c, struct snap *s)
{
	struct kdispose_query q;
	int ret;

	memset(s, 0, sizeof(*s));
	ret = kd_t_counters_read(&s->cnt);
	if (!ret)
		ret = kd_t_fdinfo(c->dev, "kdispose_live", &s->live);
	if (!ret)
		ret = kd_t_fdinfo(c->dev, "kdispose_bytes", &s->bytes);
	if (!ret) {
		s->nfds = count_fds();
		ret = s->nfds < 0 ? s->nfds : 0;
	}
	if (!ret && c->obj) {
		ret = kd_t_query(c->fd, c->obj, &q);
		s->refcount = q.refcount;
		s->nchildren = q.nchildren;
	}
	return ret;
}

/* Return: NULL when @a and @b agree, else which part differs. */
static const char *snap_diff(const struct snap *a, const struct snap *b)
{
	if (memcmp(&a->cnt, &b->cnt, sizeof(a->cnt)))
		return "module counters changed";
	if (a->live != b->live)
		return "fdinfo kdispose_live changed";
	if (a->bytes != b->bytes)
		return "fdinfo kdispose_bytes changed (quota charge leaked)";
	if (a->nfds != b->nfds)
		return "the number of open fds changed";
	if (a->refcount != b->refcount)
		return "the object's reference count changed";
	if (a->nchildren != b->nchildren)
		return "the parent's child count changed";
	return NULL;
}

/*
 * Everything an attempt made is gone again: no object left live, each one
 * created also released, no quota charge and no fd left behind.
 */
static const char *snap_settled(const struct snap *a, const struct snap *b)
{
	const struct kd_t_count *x = &a->cnt.row[KD_T_ALL];
	const struct kd_t_count *y = &b->cnt.row[KD_T_ALL];

	if (x->live != y->live)
		return "objects left live";
	if (x->created - x->released != y->created - y->released)
		return "objects created but never released";
	if (a->live != b->live || a->bytes != b->bytes)
		return "fdinfo of the fixture's file changed";
	if (a->nfds != b->nfds)
		return "an fd leaked";
	if (a->refcount != b->refcount)
		return "the object's reference count changed";
	return NULL;
}

/* Return: 0 when @h is live, -EIDRM when disposed, else -errno. */
static int obj_state(int fd, __u64 h)
{
	struct kdispose_query q;

	return kd_t_query(fd, h, &q);
}

static int create_type(struct sweep_ctx *c, __u32 type, __u64 parent,
		       __u64 arg0)
{
	return kd_t_create(c->dev, type, parent, arg0, 0, "swept",
			   &c->created);
}

/* A successful create: the object is there, as asked; dispose it. */
static const char *create_done(struct sweep_ctx *c, long ret)
{
	struct kdispose_query q;

	if (kd_t_query(c->dev, c->created, &q))
		return "the object the create reported is not there";
	if (strcmp(q.label, "swept") || q.refcount != 2)
		return "the new object is not as created";
	if (c->dev == c->fd && c->obj && q.parent != c->obj)
		return "the new object lost its parent";
	return kd_t_dispose(c->dev, c->created) == 1 ?
	       NULL : "cannot dispose the new object";
}

static long call_create_token(struct sweep_ctx *c)
{
	return create_type(c, KDISPOSE_TYPE_TOKEN, 0, 42);
}

static long call_create_memory_page(struct sweep_ctx *c)
{
	return create_type(c, KDISPOSE_TYPE_MEMORY, 0, c->page);
}

static long call_create_memory_pages(struct sweep_ctx *c)
{
	return create_type(c, KDISPOSE_TYPE_MEMORY, 0, 3 * c->page + 1);
}

static long call_create_event(struct sweep_ctx *c)
{
	return create_type(c, KDISPOSE_TYPE_EVENT, 0,
			   KDISPOSE_EVENT_SIGNALED |
			   KDISPOSE_EVENT_AUTO_RESET);
}

static long call_create_file(struct sweep_ctx *c)
{
	return create_type(c, KDISPOSE_TYPE_FILE, 0, c->pipe[0]);
}

static long call_create_group(struct sweep_ctx *c)
{
	return create_type(c, KDISPOSE_TYPE_GROUP, 0, 0);
}

static int init_group(struct sweep_ctx *c)
{
	return kd_t_create(c->fd, KDISPOSE_TYPE_GROUP, 0, 0, 0, "parent",
			   &c->obj);
}

static long call_create_child(struct sweep_ctx *c)
{
	return create_type(c, KDISPOSE_TYPE_TOKEN, c->obj, 7);
}

/* A second file holding @n tokens: its next create grows the table. */
static int prepare_grow(struct sweep_ctx *c, int n)
{
	__u64 h;
	int i, ret;

	c->grow = kd_t_open();
	if (c->grow < 0)
		return c->grow;
	for (i = 0; i < n; i++) {
		ret = kd_t_token(c->grow, 0, i, NULL, &h);
		if (ret)
			return ret;
	}
	c->dev = c->grow;
	return 0;
}

static int prepare_grow_64(struct sweep_ctx *c)
{
	return prepare_grow(c, 64);
}

/* 256 slots no longer fit in a page: kvmalloc may fall back to vmalloc. */
static int prepare_grow_128(struct sweep_ctx *c)
{
	return prepare_grow(c, 128);
}

static void cleanup_grow(struct sweep_ctx *c)
{
	c->dev = c->fd;
	if (c->grow >= 0)
		close(c->grow);
	c->grow = -1;
}

static int init_token(struct sweep_ctx *c)
{
	return kd_t_token(c->fd, 0, 0x1234, "target", &c->obj);
}

static int init_memory(struct sweep_ctx *c)
{
	struct kdispose_query q;
	int ret;

	ret = kd_t_create(c->fd, KDISPOSE_TYPE_MEMORY, 0, 2 * c->page, 0,
			  "target", &c->obj);
	if (!ret)
		ret = kd_t_query(c->fd, c->obj, &q);
	if (!ret)
		c->map_off = q.info[1];
	return ret;
}

static int init_event(struct sweep_ctx *c)
{
	return kd_t_create(c->fd, KDISPOSE_TYPE_EVENT, 0,
			   KDISPOSE_EVENT_SIGNALED, 0, "target", &c->obj);
}

static int init_file(struct sweep_ctx *c)
{
	return kd_t_create(c->fd, KDISPOSE_TYPE_FILE, 0, c->pipe[1], 0,
			   "target", &c->obj);
}

static const char *nothing_to_undo(struct sweep_ctx *c, long ret)
{
	return ret == 0 ? NULL : "unexpected return value";
}

static long call_query(struct sweep_ctx *c)
{
	struct kdispose_query q;
	int ret = kd_t_query(c->fd, c->obj, &q);

	if (ret == 0 && (q.type != KDISPOSE_TYPE_MEMORY ||
			 q.info[0] != (__u64)2 * c->page || q.refcount != 2))
		return -EPROTO;
	return ret;
}

static long call_token_get(struct sweep_ctx *c)
{
	__u64 v = 0;
	int ret = kd_t_token_get(c->fd, c->obj, &v);

	return ret == 0 && v != 0x1234 ? -EPROTO : ret;
}

static long call_token_set(struct sweep_ctx *c)
{
	return kd_t_token_set(c->fd, c->obj, 0x1234);
}

/* A range across the buffer's page boundary. */
static long call_mem_rw(struct sweep_ctx *c, __u32 op)
{
	__u64 args[4] = { 100, c->page, (uintptr_t)c->buf };

	return kd_t_op(c->fd, c->obj, op, args);
}

static long call_mem_read(struct sweep_ctx *c)
{
	return call_mem_rw(c, KDISPOSE_OP_MEM_READ);
}

static long call_mem_write(struct sweep_ctx *c)
{
	return call_mem_rw(c, KDISPOSE_OP_MEM_WRITE);
}

static long call_event_wait(struct sweep_ctx *c)
{
	__u64 args[4] = { 1000000 };

	return kd_t_op(c->fd, c->obj, KDISPOSE_OP_EVENT_WAIT, args);
}

static long call_file_install(struct sweep_ctx *c)
{
	int ret = kd_t_op(c->fd, c->obj, KDISPOSE_OP_FILE_INSTALL, NULL);

	c->installed = ret >= 0 ? ret : -1;
	return ret;
}

static const char *install_done(struct sweep_ctx *c, long ret)
{
	int fd = c->installed;

	c->installed = -1;
	if (ret < 0 || fcntl(fd, F_GETFD) != FD_CLOEXEC)
		return "the installed fd is not open with FD_CLOEXEC";
	return close(fd) ? "cannot close the installed fd" : NULL;
}

/*
 * An install that survives a fault (a vmalloc fallback) doubles the fd
 * table for good: leave room for a few doublings under RLIMIT_NOFILE.
 */
static int init_file_many_fds(struct sweep_ctx *c)
{
	struct rlimit rl = { 1 << 16, 1 << 16 };

	if (setrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	return init_file(c);
}

/*
 * Fill the fd table: the next fd needs a larger one (expand_files). The
 * snapshots open files, which would grow the table themselves: this runs
 * after them, right before the call.
 */
static int enter_full_fd_table(struct sweep_ctx *c)
{
	int size = fd_table_size(), fd;

	if (size < 0)
		return size;
	c->dups = calloc(size, sizeof(*c->dups));
	if (!c->dups)
		return -ENOMEM;
	c->ndups = 0;
	do {
		fd = dup(c->pipe[0]);
		if (fd < 0)
			return -errno;
		c->dups[c->ndups++] = fd;
	} while (fd < size - 1 && c->ndups < size);
	return fd == size - 1 ? 0 : -EPROTO;
}

static void leave_full_fd_table(struct sweep_ctx *c)
{
	while (c->ndups)
		close(c->dups[--c->ndups]);
	free(c->dups);
	c->dups = NULL;
}

/* Take the file's spare objects, so that the create under test allocates. */
static int prepare_no_spares(struct sweep_ctx *c)
{
	int i, ret;

	for (i = 0; i < SPARE_TAKE; i++) {
		ret = kd_t_token(c->fd, 0, i, "spare", &c->held[i]);
		if (ret)
			return ret;
	}
	return 0;
}

static void cleanup_no_spares(struct sweep_ctx *c)
{
	int i;

	for (i = 0; i < SPARE_TAKE; i++)
		if (c->held[i])
			kd_t_dispose(c->fd, c->held[i]);
	memset(c->held, 0, sizeof(c->held));
}

static int prepare_token(struct sweep_ctx *c)
{
	return kd_t_token(c->fd, 0, 5, "doomed", &c->obj);
}

/* After each attempt: the token goes, whoever disposed it. */
static void cleanup_token(struct sweep_ctx *c)
{
	kd_t_dispose(c->fd, c->obj);
	c->obj = 0;
}

static long call_dispose(struct sweep_ctx *c)
{
	return kd_t_dispose(c->fd, c->obj);
}

static const char *dispose_done(struct sweep_ctx *c, long ret)
{
	if (ret != 1)
		return "dispose did not return 1";
	return obj_state(c->fd, c->obj) == -EIDRM ?
	       NULL : "the token survived its dispose";
}

static int prepare_batch(struct sweep_ctx *c)
{
	int i, ret;

	for (i = 0; i < SWEEP_BATCH; i++) {
		ret = kd_t_token(c->fd, 0, i, NULL, &c->batch[i]);
		if (ret)
			return ret;
		c->results[i] = 0x7f7f7f7f;
	}
	return 0;
}

static long call_batch(struct sweep_ctx *c)
{
	__u32 nd;
	int ret = kd_t_dispose_batch(c->fd, c->batch, c->results, SWEEP_BATCH,
				     &nd);

	return ret == 0 && nd != SWEEP_BATCH ? -EPROTO : ret;
}

/* Return: how many of the batch are disposed, or -1 if not a prefix. */
static int batch_disposed_prefix(struct sweep_ctx *c)
{
	int i, n = 0;

	for (i = 0; i < SWEEP_BATCH; i++) {
		int st = obj_state(c->fd, c->batch[i]);

		if (st == -EIDRM && n == i)
			n++;
		else if (st != 0)
			return -1;
	}
	return n;
}

static const char *batch_done(struct sweep_ctx *c, long ret)
{
	int i;

	for (i = 0; i < SWEEP_BATCH; i++)
		if (c->results[i] != 1)
			return "a result is not 1";
	return batch_disposed_prefix(c) == SWEEP_BATCH ?
	       NULL : "not every handle was disposed";
}

/*
 * A failing batch may have disposed the chunks before the failure: a
 * prefix of the handles, counted as disposed and released, nothing else.
 */
static const char *batch_failed(struct sweep_ctx *c, const struct snap *b)
{
	struct kd_t_counters now;
	struct kd_t_delta d;
	int n = batch_disposed_prefix(c);

	if (n < 0)
		return "the disposed handles are not a prefix of the batch";
	if (kd_t_counters_read(&now))
		return "counters unreadable";
	d = kd_t_delta(&b->cnt, &now, KD_T_ALL);
	if (d.created || d.finalized || d.disposed != n || d.live != -n ||
	    d.released != n)
		return "counters do not match the disposed prefix";
	return NULL;
}

static void cleanup_batch(struct sweep_ctx *c)
{
	int i;

	for (i = 0; i < SWEEP_BATCH; i++)
		kd_t_dispose(c->fd, c->batch[i]);
}

static int prepare_uring(struct sweep_ctx *c)
{
	struct kdispose_dispose d = { 0 };
	struct io_uring_sqe *sqe;
	int ret;

	ret = prepare_token(c);
	if (ret)
		return ret;
	ret = io_uring_queue_init(4, &c->ring, 0);
	if (ret)
		return ret;
	c->ring_up = true;
	sqe = io_uring_get_sqe(&c->ring);
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, c->fd, NULL, 0, 0);
	sqe->cmd_op = KDISPOSE_URING_CMD_DISPOSE;
	d.handle = c->obj;
	memcpy(sqe->cmd, &d, sizeof(d));
	sqe->flags |= c->sqe_flags;
	return 0;
}

static int init_uring_async(struct sweep_ctx *c)
{
	c->sqe_flags = IOSQE_ASYNC;
	return 0;
}

static long call_uring(struct sweep_ctx *c)
{
	return io_uring_submit(&c->ring);
}

/*
 * The command was submitted: it completes with 1 and the token is gone,
 * or it was cancelled (a failed io-wq worker creation) and the token lives.
 */
static const char *uring_done(struct sweep_ctx *c, long ret)
{
	struct __kernel_timespec ts = { .tv_sec = CQE_TIMEOUT_S };
	struct io_uring_cqe *cqe;
	int res, st = obj_state(c->fd, c->obj);

	if (ret != 1)
		return ret == 0 && st == 0 ? NULL : "submit lost the command";
	if (io_uring_wait_cqe_timeout(&c->ring, &cqe, &ts))
		return "no completion";
	res = cqe->res;
	io_uring_cqe_seen(&c->ring, cqe);
	st = obj_state(c->fd, c->obj);
	if (res == 1)
		return st == -EIDRM ? NULL : "completed with 1, token alive";
	if (res == -ECANCELED || res == -ENOMEM || res == -EAGAIN)
		return st == 0 ? NULL : "failed, but the token is gone";
	return "unexpected completion result";
}

static void cleanup_uring(struct sweep_ctx *c)
{
	if (c->ring_up)
		io_uring_queue_exit(&c->ring);
	c->ring_up = false;
	cleanup_token(c);
}

static long call_mmap(struct sweep_ctx *c)
{
	void *p = mmap(NULL, 2 * c->page, PROT_READ | PROT_WRITE, MAP_SHARED,
		       c->fd, c->map_off);

	if (p == MAP_FAILED)
		return -errno;
	c->map = p;
	return 0;
}

static const char *mmap_done(struct sweep_ctx *c, long ret)
{
	struct kdispose_query q;
	const char *err = NULL;

	c->map[0] = 1;
	c->map[c->page] = 2;
	if (kd_t_query(c->fd, c->obj, &q) || q.refcount != 3 ||
	    !(q.state & KDISPOSE_STATE_MAPPED))
		err = "the mapping holds no reference";
	munmap(c->map, 2 * c->page);
	c->map = NULL;
	return err;
}

static int prepare_mapped(struct sweep_ctx *c)
{
	long ret = call_mmap(c);

	return ret ? (int)ret : 0;
}

static void cleanup_mapped(struct sweep_ctx *c)
{
	if (c->map)
		munmap(c->map, 2 * c->page);
	c->map = NULL;
}

/* The second page of a two-page mapping goes: one vma left. */
static long call_munmap_split(struct sweep_ctx *c)
{
	return munmap(c->map + c->page, c->page) ? -errno : 0;
}

static const char *munmap_split_done(struct sweep_ctx *c, long ret)
{
	struct kdispose_query q;

	if (kd_t_query(c->fd, c->obj, &q) || q.refcount != 3)
		return "the remaining vma does not hold exactly one reference";
	return NULL;
}

/* mprotect of one page splits the vma: two vmas, two references. */
static long call_mprotect_split(struct sweep_ctx *c)
{
	return mprotect(c->map + c->page, c->page, PROT_READ) ? -errno : 0;
}

static const char *mprotect_split_done(struct sweep_ctx *c, long ret)
{
	struct kdispose_query q;

	if (kd_t_query(c->fd, c->obj, &q) || q.refcount != 4)
		return "the two vmas do not hold one reference each";
	return NULL;
}

static long call_open(struct sweep_ctx *c)
{
	int fd = kd_t_open();

	c->installed = fd;
	return fd;
}

static const char *open_done(struct sweep_ctx *c, long ret)
{
	const char *err = NULL;
	__u64 h;

	if (kd_t_token(c->installed, 0, 1, NULL, &h) ||
	    kd_t_dispose(c->installed, h) != 1)
		err = "the new file does not work";
	close(c->installed);
	c->installed = -1;
	return err;
}

FIXTURE(sweep)
{
	int nth;			/* FAIL_NTH, or -1: the test skips */
	const char *skip;		/* why it skips */
	char saved[NR_KNOBS][32];	/* debugfs values before the test */
	bool changed[NR_KNOBS];
	struct sweep_ctx c;
	struct kd_t_param max_objects;	/* lowered by the capacity check */
	struct kd_t_counters start;	/* module counters after setup */
};

FIXTURE_VARIANT(sweep)
{
	const struct sweep_path *path;
};

FIXTURE_SETUP(sweep)
{
	struct sweep_ctx *c = &self->c;
	unsigned int i;
	int ret;

	self->nth = -1;
	c->fd = c->grow = c->installed = -1;
	c->pipe[0] = c->pipe[1] = -1;
	if (access(FAIL_NTH, W_OK)) {
		self->skip = "needs CONFIG_FAULT_INJECTION (make check-debug)";
		return;
	}
	if (access(fi_knobs[0].path, W_OK)) {
		self->skip = "needs CONFIG_FAILSLAB and CONFIG_FAULT_INJECTION_DEBUG_FS (make check-debug)";
		return;
	}
	for (i = 0; i < NR_KNOBS; i++) {
		ret = kd_t_read_file(fi_knobs[i].path, self->saved[i],
				     sizeof(self->saved[i]));
		if (ret == -ENOENT && !fi_knobs[i].required)
			continue;
		ASSERT_LE(0, ret) TH_LOG("%s: %s", fi_knobs[i].path,
					 strerror(-ret));
		ASSERT_EQ(0, kd_t_write_file(fi_knobs[i].path, fi_knobs[i].value));
		self->changed[i] = true;
	}
	self->nth = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->nth);

	c->page = sysconf(_SC_PAGESIZE);
	c->fd = c->dev = kd_t_open();
	ASSERT_LE(0, c->fd);
	ASSERT_EQ(0, pipe2(c->pipe, O_CLOEXEC));
	c->buf = mmap(NULL, 2 * c->page, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, c->buf);
	memset(c->buf, 0x5a, 2 * c->page);
	if (variant->path->init)
		ASSERT_EQ(0, variant->path->init(c));
	KD_T_ASSERT_COUNTERS(self->start);
}

/* No ASSERT here: a failing ASSERT in teardown would re-enter teardown. */
FIXTURE_TEARDOWN(sweep)
{
	const struct kd_t_count *s = &self->start.row[KD_T_ALL];
	struct sweep_ctx *c = &self->c;
	struct kd_t_counters end;
	char why[160] = "";
	unsigned int i;

	for (i = 0; i < NR_KNOBS; i++)
		if (self->changed[i])
			EXPECT_EQ(0, kd_t_write_file(fi_knobs[i].path,
					       self->saved[i]));
	EXPECT_EQ(0, kd_t_param_restore(&self->max_objects));
	if (self->nth >= 0)
		close(self->nth);
	if (c->pipe[0] >= 0) {
		close(c->pipe[0]);
		close(c->pipe[1]);
	}
	if (c->fd < 0)
		return;
	EXPECT_EQ(0, close(c->fd));
	EXPECT_EQ(0, kd_t_counters_read(&end));
	EXPECT_EQ(0, kd_t_counters_check(&end, why, sizeof(why)))
		TH_LOG("counter invariant broken: %s", why);
	EXPECT_EQ(s->live - (c->obj ? 1 : 0), end.row[KD_T_ALL].live);
	EXPECT_EQ(s->created - s->released,
		  end.row[KD_T_ALL].created - end.row[KD_T_ALL].released +
		  (c->obj ? 1 : 0));
}

/* Is @err a clean failure of @path? */
static bool errno_allowed(const struct sweep_path *path, int err)
{
	unsigned int i;

	if (err == ENOMEM || err == EFAULT)
		return true;
	for (i = 0; i < ARRAY_SIZE(path->errnos) && path->errnos[i]; i++)
		if (err == path->errnos[i])
			return true;
	return false;
}

/*
 * The file still takes exactly max_objects objects: no slot leaked.
 * Return: NULL, or what is wrong.
 */
static const char *check_capacity(int fd, struct kd_t_param *max_objects)
{
	const char *err = NULL;
	__u64 live, h[4];
	int i, n;

	if (kd_t_fdinfo(fd, "kdispose_live", &live) ||
	    kd_t_param_set_u64(max_objects, "max_objects",
			       live + ARRAY_SIZE(h)))
		return "cannot set max_objects";
	for (n = 0; n < (int)ARRAY_SIZE(h); n++)
		if (kd_t_token(fd, 0, n, NULL, &h[n]))
			break;
	if (n < (int)ARRAY_SIZE(h))
		err = "fewer creates than max_objects allows (a slot leaked)";
	else if (kd_t_token(fd, 0, 0, NULL, &live) != -EMFILE)
		err = "more creates than max_objects allows";
	for (i = 0; i < n; i++)
		kd_t_dispose(fd, h[i]);
	if (kd_t_param_restore(max_objects) && !err)
		err = "cannot restore max_objects";
	return err;
}

TEST_F_TIMEOUT(sweep, each_fault_point, 120)
{
	const struct sweep_path *path = variant->path;
	struct sweep_ctx *c = &self->c;
	int n, injected, survived = 0, nomem = 0, fault = 0, other = 0;
	struct snap s0, s1, s2;
	char why[160] = "";
	const char *err;
	long ret;
	__u64 h;

	if (self->skip)
		SKIP(return, "%s", self->skip);

	for (n = 1; n <= MAX_POINTS; n++) {
		ASSERT_EQ(0, snap_take(c, &s0));
		if (path->prepare)
			ASSERT_EQ(0, path->prepare(c)) TH_LOG("fault point %d",
							      n);
		ASSERT_EQ(0, snap_take(c, &s1));

		if (path->enter)
			ASSERT_EQ(0, path->enter(c));
		ASSERT_EQ(0, fi_arm(self->nth, n));
		ret = path->call(c);
		injected = fi_disarm(self->nth);
		ASSERT_LE(0, injected);
		if (path->leave)
			path->leave(c);

		if (!injected) {
			ASSERT_LE(0, ret) TH_LOG("no fault injected, but %s",
						 strerror(-ret));
		}
		if (ret >= 0) {
			survived += injected;
			err = path->done(c, ret);
			ASSERT_EQ(NULL, err) TH_LOG("fault point %d: %s", n,
						    err);
		} else {
			ASSERT_TRUE(errno_allowed(path, -ret))
				TH_LOG("fault point %d: %s", n,
				       strerror(-ret));
			nomem += ret == -ENOMEM;
			fault += ret == -EFAULT;
			other += ret != -ENOMEM && ret != -EFAULT;
			ASSERT_EQ(0, snap_take(c, &s2));
			err = path->failed ? path->failed(c, &s1) :
					     snap_diff(&s1, &s2);
			ASSERT_EQ(NULL, err) TH_LOG("fault point %d, %s: %s",
						    n, strerror(-ret), err);
		}
		if (path->cleanup)
			path->cleanup(c);

		ASSERT_EQ(0, snap_take(c, &s2));
		err = snap_settled(&s0, &s2);
		ASSERT_EQ(NULL, err) TH_LOG("after fault point %d: %s", n,
					    err);
		ASSERT_EQ(0, kd_t_counters_check(&s2.cnt, why, sizeof(why)))
			TH_LOG("after fault point %d: %s", n, why);
		ASSERT_EQ(0, kd_t_token(c->fd, 0, n, "after", &h));
		ASSERT_EQ(1, kd_t_dispose(c->fd, h));
		if (!injected)
			break;
	}
	ASSERT_GE(MAX_POINTS, n);
	err = check_capacity(c->fd, &self->max_objects);
	ASSERT_EQ(NULL, err) TH_LOG("after the sweep: %s", err);
	ksft_print_msg("%s: %d fault points swept (ENOMEM %d, EFAULT %d, other %d, survived %d)\n",
		       path->name, n - 1, nomem, fault, other, survived);
	/* The harness ends the test with _exit(): flush what it printed. */
	fflush(stdout);
}

#define SWEEP(id, ...)							\
	static const struct sweep_path path_##id = {			\
		.name = #id, __VA_ARGS__				\
	};								\
	FIXTURE_VARIANT_ADD(sweep, id)					\
	{								\
		.path = &path_##id,					\
	}

SWEEP(open, .call = call_open, .done = open_done);
SWEEP(create_token, .call = call_create_token, .done = create_done,
	.prepare = prepare_no_spares, .cleanup = cleanup_no_spares);
SWEEP(create_memory_page, .call = call_create_memory_page,
	.done = create_done,
	.prepare = prepare_no_spares, .cleanup = cleanup_no_spares);
SWEEP(create_memory_4_pages, .call = call_create_memory_pages,
	.done = create_done,
	.prepare = prepare_no_spares, .cleanup = cleanup_no_spares);
SWEEP(create_event, .call = call_create_event, .done = create_done,
	.prepare = prepare_no_spares, .cleanup = cleanup_no_spares);
SWEEP(create_file, .call = call_create_file, .done = create_done,
	.prepare = prepare_no_spares, .cleanup = cleanup_no_spares);
SWEEP(create_group, .call = call_create_group, .done = create_done,
	.prepare = prepare_no_spares, .cleanup = cleanup_no_spares);
SWEEP(create_child, .init = init_group, .call = call_create_child,
	.done = create_done,
	.prepare = prepare_no_spares, .cleanup = cleanup_no_spares);
SWEEP(create_grows_table_64, .prepare = prepare_grow_64,
	.call = call_create_token, .done = create_done,
	.cleanup = cleanup_grow);
SWEEP(create_grows_table_128, .prepare = prepare_grow_128,
	.call = call_create_token, .done = create_done,
	.cleanup = cleanup_grow);
SWEEP(query, .init = init_memory, .call = call_query,
	.done = nothing_to_undo);
SWEEP(op_token_get, .init = init_token, .call = call_token_get,
	.done = nothing_to_undo);
SWEEP(op_token_set, .init = init_token, .call = call_token_set,
	.done = nothing_to_undo);
SWEEP(op_mem_read, .init = init_memory, .call = call_mem_read,
	.done = nothing_to_undo);
SWEEP(op_mem_write, .init = init_memory, .call = call_mem_write,
	.done = nothing_to_undo);
SWEEP(op_event_wait, .init = init_event, .call = call_event_wait,
	.done = nothing_to_undo);
SWEEP(op_file_install, .init = init_file, .call = call_file_install,
	.done = install_done);
SWEEP(op_file_install_grows_fd_table, .init = init_file_many_fds,
	.enter = enter_full_fd_table, .call = call_file_install,
	.leave = leave_full_fd_table, .done = install_done,
	.errnos = { EMFILE });
SWEEP(dispose, .prepare = prepare_token, .call = call_dispose,
	.done = dispose_done, .cleanup = cleanup_token);
SWEEP(dispose_batch, .prepare = prepare_batch, .call = call_batch,
	.done = batch_done, .failed = batch_failed,
	.cleanup = cleanup_batch);
SWEEP(uring_dispose, .prepare = prepare_uring, .call = call_uring,
	.done = uring_done, .cleanup = cleanup_uring,
	.errnos = { EAGAIN, EBUSY });
SWEEP(uring_dispose_async, .init = init_uring_async,
	.prepare = prepare_uring, .call = call_uring, .done = uring_done,
	.cleanup = cleanup_uring, .errnos = { EAGAIN, EBUSY });
SWEEP(mmap, .init = init_memory, .call = call_mmap, .done = mmap_done,
	.cleanup = cleanup_mapped);
SWEEP(munmap_split, .init = init_memory, .prepare = prepare_mapped,
	.call = call_munmap_split, .done = munmap_split_done,
	.cleanup = cleanup_mapped);
SWEEP(mprotect_split, .init = init_memory, .prepare = prepare_mapped,
	.call = call_mprotect_split, .done = mprotect_split_done,
	.cleanup = cleanup_mapped);

/* ---- bad user pointers, on every kernel ---- */

FIXTURE(ptr)
{
	KD_T_DEV_MEMBERS;
	long page;
	char *area;			/* @page RW, then @page PROT_NONE */
	char *edge;			/* the first PROT_NONE byte */
	int pipe[2];
};

FIXTURE_SETUP(ptr)
{
	self->page = sysconf(_SC_PAGESIZE);
	KD_T_DEV_SETUP(self);
	ASSERT_EQ(0, pipe2(self->pipe, O_CLOEXEC));
	self->area = mmap(NULL, 2 * self->page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->area);
	self->edge = self->area + self->page;
	ASSERT_EQ(0, mprotect(self->edge, self->page, PROT_NONE));
}

/* No ASSERT here: a failing ASSERT in teardown would re-enter teardown. */
FIXTURE_TEARDOWN(ptr)
{
	close(self->pipe[0]);
	close(self->pipe[1]);
	KD_T_DEV_TEARDOWN(self, KD_T_ALL, 0);
}

/* Module counters and the file's fdinfo, compared around a bad call. */
struct ptr_snap {
	struct kd_t_counters cnt;
	__u64 live, bytes;
};

static int ptr_snap(int fd, struct ptr_snap *s)
{
	int ret = kd_t_counters_read(&s->cnt);

	if (!ret)
		ret = kd_t_fdinfo(fd, "kdispose_live", &s->live);
	if (!ret)
		ret = kd_t_fdinfo(fd, "kdispose_bytes", &s->bytes);
	return ret;
}

static bool ptr_snap_same(int fd, const struct ptr_snap *before)
{
	struct ptr_snap now;

	return !ptr_snap(fd, &now) &&
	       !memcmp(&now.cnt, &before->cnt, sizeof(now.cnt)) &&
	       now.live == before->live && now.bytes == before->bytes;
}

/* A valid argument of one ioctl, and how big its struct is. */
struct ptr_case {
	const char *name;
	unsigned int nr;		/* _IOC_NR of the command */
	size_t size;
	union {
		struct kdispose_create create;
		struct kdispose_dispose dispose;
		struct kdispose_query query;
		struct kdispose_op op;
		struct kdispose_dispose_batch batch;
	} arg;
};

/*
 * Each ioctl's argument with its first @k bytes readable and the rest in
 * an unmapped page, for every k below the struct's size; then the same
 * with a caller's struct 64 bytes longer than the kernel's, cut in its
 * tail (which copy_struct_from_user() must read to check it is zero).
 * EFAULT every time, and nothing happened: no object, no dispose.
 */
TEST_F(ptr, arg_cut_at_each_byte)
{
	__u64 token, batch_handles[2];
	__s32 results[2];
	struct ptr_case cases[5];
	struct ptr_snap before;
	unsigned int i, cut, cmd;
	__u64 v;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, NULL, &token));
	ASSERT_EQ(0, kd_t_token(self->fd, 0, 2, NULL, &batch_handles[0]));
	batch_handles[1] = token;
	memset(cases, 0, sizeof(cases));
	cases[0].name = "create";
	cases[0].nr = _IOC_NR(KDISPOSE_IOC_CREATE);
	cases[0].size = sizeof(struct kdispose_create);
	kd_t_create_args(&cases[0].arg.create, KDISPOSE_TYPE_MEMORY, 0,
			 self->page, 0, "cut");
	cases[1].name = "dispose";
	cases[1].nr = _IOC_NR(KDISPOSE_IOC_DISPOSE);
	cases[1].size = sizeof(struct kdispose_dispose);
	cases[1].arg.dispose.handle = token;
	cases[2].name = "query";
	cases[2].nr = _IOC_NR(KDISPOSE_IOC_QUERY);
	cases[2].size = sizeof(struct kdispose_query);
	cases[2].arg.query.handle = token;
	cases[3].name = "op";
	cases[3].nr = _IOC_NR(KDISPOSE_IOC_OP);
	cases[3].size = sizeof(struct kdispose_op);
	cases[3].arg.op.handle = token;
	cases[3].arg.op.op = KDISPOSE_OP_TOKEN_SET;
	cases[3].arg.op.args[0] = 99;
	cases[4].name = "dispose_batch";
	cases[4].nr = _IOC_NR(KDISPOSE_IOC_DISPOSE_BATCH);
	cases[4].size = sizeof(struct kdispose_dispose_batch);
	cases[4].arg.batch.handles = (uintptr_t)batch_handles;
	cases[4].arg.batch.results = (uintptr_t)results;
	cases[4].arg.batch.count = 2;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct ptr_case *pc = &cases[i];

		ASSERT_EQ(0, ptr_snap(self->fd, &before));
		for (cut = 0; cut < pc->size + 64; cut++) {
			size_t usize = cut < pc->size ? pc->size :
				       pc->size + 64;

			/* The part before the cut holds the argument. */
			memset(self->edge - cut, 0, cut);
			memcpy(self->edge - cut, &pc->arg,
			       cut < pc->size ? cut : pc->size);
			cmd = _IOC(_IOC_READ | _IOC_WRITE, KDISPOSE_IOC_MAGIC,
				   pc->nr, usize);
			if (pc->nr == _IOC_NR(KDISPOSE_IOC_DISPOSE))
				cmd = _IOC(_IOC_WRITE, KDISPOSE_IOC_MAGIC,
					   pc->nr, usize);
			ASSERT_EQ(-EFAULT, kd_t_ioctl(self->fd, cmd,
						      self->edge - cut))
				TH_LOG("%s cut after %u of %zu bytes",
				       pc->name, cut, usize);
			ASSERT_TRUE(ptr_snap_same(self->fd, &before))
				TH_LOG("%s cut after %u bytes changed something",
				       pc->name, cut);
		}
	}
	ASSERT_EQ(0, kd_t_token_get(self->fd, token, &v));
	EXPECT_EQ(1, v) TH_LOG("a cut TOKEN_SET changed the token");
	EXPECT_EQ(1, kd_t_dispose(self->fd, token));
	EXPECT_EQ(1, kd_t_dispose(self->fd, batch_handles[0]));
}

/* A read-only copy of @len bytes of @src at the start of the RW page. */
static void *readonly_arg(char *area, long page, const void *src,
			  size_t len)
{
	if (mprotect(area, page, PROT_READ | PROT_WRITE))
		return NULL;
	memcpy(area, src, len);
	if (mprotect(area, page, PROT_READ))
		return NULL;
	return area;
}

/*
 * Every type's create with a read-only argument: the object is built, the
 * handle cannot be written back, so it is destroyed again (released, its
 * quota charge and its pinned file given back) and nothing was published.
 */
TEST_F(ptr, create_readonly_arg_each_type)
{
	static const __u32 types[] = {
		KDISPOSE_TYPE_TOKEN, KDISPOSE_TYPE_MEMORY, KDISPOSE_TYPE_EVENT,
		KDISPOSE_TYPE_FILE, KDISPOSE_TYPE_GROUP,
	};
	struct kdispose_create c;
	struct ptr_snap before;
	__u64 parent, h;
	unsigned int i, p;

	ASSERT_EQ(0, kd_t_create(self->fd, KDISPOSE_TYPE_GROUP, 0, 0, 0,
				 "parent", &parent));
	for (p = 0; p < 2; p++) {
		for (i = 0; i < ARRAY_SIZE(types); i++) {
			__u64 arg0 = types[i] == KDISPOSE_TYPE_MEMORY ?
				     3 * self->page :
				     types[i] == KDISPOSE_TYPE_FILE ?
				     (__u64)self->pipe[0] : 0;
			void *ro;

			kd_t_create_args(&c, types[i], p ? parent : 0, arg0,
					 0, "ro");
			ro = readonly_arg(self->area, self->page, &c, sizeof(c));
			ASSERT_NE(NULL, ro);
			ASSERT_EQ(0, ptr_snap(self->fd, &before));
			EXPECT_EQ(-EFAULT, kd_t_ioctl(self->fd,
						      KDISPOSE_IOC_CREATE,
						      ro))
				TH_LOG("type %u", types[i]);
			EXPECT_TRUE(ptr_snap_same(self->fd, &before))
				TH_LOG("type %u left something behind",
				       types[i]);
		}
	}
	ASSERT_EQ(0, kd_t_query(self->fd, parent,
				&(struct kdispose_query){ 0 }));
	ASSERT_EQ(0, kd_t_token(self->fd, parent, 1, NULL, &h));
	EXPECT_EQ(1, kd_t_dispose(self->fd, parent));
	EXPECT_EQ(-EIDRM, obj_state(self->fd, h));
}

/*
 * The calls that write their argument back, with a read-only argument:
 * EFAULT, and the call's reference on the object is dropped all the same.
 */
TEST_F(ptr, writeback_readonly_arg)
{
	struct kdispose_query q = { 0 };
	struct kdispose_op o = { 0 };
	void *ro;
	__u64 h;

	ASSERT_EQ(0, kd_t_token(self->fd, 0, 7, NULL, &h));
	q.handle = h;
	ro = readonly_arg(self->area, self->page, &q, sizeof(q));
	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-EFAULT, kd_t_ioctl(self->fd, KDISPOSE_IOC_QUERY, ro));

	o.handle = h;
	o.op = KDISPOSE_OP_TOKEN_GET;
	ro = readonly_arg(self->area, self->page, &o, sizeof(o));
	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-EFAULT, kd_t_ioctl(self->fd, KDISPOSE_IOC_OP, ro));

	ASSERT_EQ(0, kd_t_query(self->fd, h, &q));
	EXPECT_EQ(2, q.refcount) TH_LOG("a failed copy-out leaked a reference");
	EXPECT_EQ(1, kd_t_dispose(self->fd, h));
}

/* Four pages of pattern: byte i of the buffer holds (i * 7 + @seed). */
static void pattern(char *p, size_t len, size_t base, int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (char)((base + i) * 7 + seed);
}

/*
 * KDISPOSE_OP_MEM_READ / WRITE of 4 pages minus 100 bytes at offset 100 of
 * a 4-page buffer, with one page of the user buffer unusable: EFAULT. A
 * read has filled the user pages before the chunk that faulted and left
 * the buffer alone; a write has changed nothing at or after the user
 * address that faulted, and has copied the buffer chunks before it. One
 * variant per operation, kind of hole and user page.
 */
FIXTURE(mem_hole)
{
	KD_T_DEV_MEMBERS;
	long page;
	__u64 h;			/* the 4-page memory buffer */
	char *ubuf;			/* the 4-page user buffer */
	char *want, *got;		/* 4 pages each, for comparisons */
};

FIXTURE_VARIANT(mem_hole)
{
	bool write;			/* MEM_WRITE, else MEM_READ */
	int prot;			/* the hole: PROT_NONE or PROT_READ */
	int hole;			/* which user page is the hole */
};

FIXTURE_SETUP(mem_hole)
{
	const long pg = sysconf(_SC_PAGESIZE);

	self->page = pg;
	KD_T_DEV_SETUP(self);
	ASSERT_EQ(0, kd_t_create(self->fd, KDISPOSE_TYPE_MEMORY, 0, 4 * pg,
				 0, "holes", &self->h));
	self->ubuf = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->ubuf);
	self->want = malloc(4 * pg);
	self->got = malloc(4 * pg);
	ASSERT_NE(NULL, self->want);
	ASSERT_NE(NULL, self->got);
}

/* No ASSERT here: a failing ASSERT in teardown would re-enter teardown. */
FIXTURE_TEARDOWN(mem_hole)
{
	free(self->want);
	free(self->got);
	if (self->ubuf != MAP_FAILED)
		munmap(self->ubuf, 4 * self->page);
	KD_T_DEV_TEARDOWN(self, KD_T_ALL, 0);
}

FIXTURE_VARIANT_ADD(mem_hole, read_into_none_page0) {
	.prot = PROT_NONE,
	.hole = 0,
};

FIXTURE_VARIANT_ADD(mem_hole, read_into_none_page1) {
	.prot = PROT_NONE,
	.hole = 1,
};

FIXTURE_VARIANT_ADD(mem_hole, read_into_none_page2) {
	.prot = PROT_NONE,
	.hole = 2,
};

FIXTURE_VARIANT_ADD(mem_hole, read_into_none_page3) {
	.prot = PROT_NONE,
	.hole = 3,
};

FIXTURE_VARIANT_ADD(mem_hole, read_into_readonly_page0) {
	.prot = PROT_READ,
	.hole = 0,
};

FIXTURE_VARIANT_ADD(mem_hole, read_into_readonly_page1) {
	.prot = PROT_READ,
	.hole = 1,
};

FIXTURE_VARIANT_ADD(mem_hole, read_into_readonly_page2) {
	.prot = PROT_READ,
	.hole = 2,
};

FIXTURE_VARIANT_ADD(mem_hole, read_into_readonly_page3) {
	.prot = PROT_READ,
	.hole = 3,
};

/* A write only reads the user buffer: a read-only page is no hole. */
FIXTURE_VARIANT_ADD(mem_hole, write_from_none_page0) {
	.write = true,
	.prot = PROT_NONE,
	.hole = 0,
};

FIXTURE_VARIANT_ADD(mem_hole, write_from_none_page1) {
	.write = true,
	.prot = PROT_NONE,
	.hole = 1,
};

FIXTURE_VARIANT_ADD(mem_hole, write_from_none_page2) {
	.write = true,
	.prot = PROT_NONE,
	.hole = 2,
};

FIXTURE_VARIANT_ADD(mem_hole, write_from_none_page3) {
	.write = true,
	.prot = PROT_NONE,
	.hole = 3,
};

TEST_F(mem_hole, efault_copies_only_before_hole)
{
	const long pg = self->page;
	const size_t len = 4 * pg - 100;
	const int j = variant->hole;
	char *ubuf = self->ubuf, *want = self->want, *got = self->got;
	__u64 args[4];

	/* The buffer holds pattern 1. */
	pattern(want, 4 * pg, 0, 1);
	args[0] = 0;
	args[1] = 4 * pg;
	args[2] = (uintptr_t)want;
	args[3] = 0;
	ASSERT_EQ(0, kd_t_op(self->fd, self->h, KDISPOSE_OP_MEM_WRITE, args));
	/* The user buffer holds pattern 2, but for its hole. */
	pattern(ubuf, 4 * pg, 0, 2);
	ASSERT_EQ(0, mprotect(ubuf + j * pg, pg, variant->prot));
	args[0] = 100;
	args[1] = len;
	args[2] = (uintptr_t)ubuf;
	EXPECT_EQ(-EFAULT,
		  kd_t_op(self->fd, self->h, variant->write ?
			  KDISPOSE_OP_MEM_WRITE : KDISPOSE_OP_MEM_READ, args))
		TH_LOG("%s, hole at user page %d",
		       variant->write ? "write" : "read", j);
	ASSERT_EQ(0, mprotect(ubuf, 4 * pg, PROT_READ | PROT_WRITE));
	args[0] = 0;
	args[1] = 4 * pg;
	args[2] = (uintptr_t)got;
	ASSERT_EQ(0, kd_t_op(self->fd, self->h, KDISPOSE_OP_MEM_READ, args));
	if (variant->write) {
		/* Chunks before the hole: copied. */
		pattern(want + 100, j * pg - 100 > 0 ? j * pg - 100 : 0, 0, 2);
		EXPECT_EQ(0, memcmp(want, got, j ? j * pg : 100))
			TH_LOG("write, hole %d: prefix", j);
		/* At the fault and after: untouched. */
		pattern(want, 4 * pg, 0, 1);
		EXPECT_EQ(0, memcmp(want + 100 + j * pg, got + 100 + j * pg,
				    len - j * pg))
			TH_LOG("write, hole %d: tail", j);
	} else {
		pattern(want, 4 * pg, 0, 1);
		EXPECT_EQ(0, memcmp(want, got, 4 * pg))
			TH_LOG("read changed the buffer");
		if (j) {
			EXPECT_EQ(0, memcmp(ubuf, want + 100, j * pg - 100))
				TH_LOG("read, hole %d: prefix", j);
		}
	}
	EXPECT_EQ(1, kd_t_dispose(self->fd, self->h));
}

/* Return: how many of @h are disposed if they are a prefix, else -1. */
static int disposed_prefix(int fd, const __u64 *h, int n)
{
	int i, k = 0;

	for (i = 0; i < n; i++) {
		int st = obj_state(fd, h[i]);

		if (st == -EIDRM && k == i)
			k++;
		else if (st != 0)
			return -1;
	}
	return k;
}

/*
 * The handle array cut before element i, then the result array cut
 * before element i, for every i: EFAULT. With the handles cut, only
 * handles before i can be disposed; with the results cut, handle i was
 * disposed before its result faulted. Either way the disposed handles are
 * a prefix, and a retry reports 0 for them and disposes the rest.
 */
TEST_F(ptr, batch_cut_at_each_element)
{
	__u64 h[PTR_BATCH], *cut_h;
	__s32 res[PTR_BATCH], *cut_res;
	int i, j, k, results, ret;

	for (results = 0; results < 2; results++) {
		for (i = 0; i < PTR_BATCH; i++) {
			for (j = 0; j < PTR_BATCH; j++)
				ASSERT_EQ(0, kd_t_token(self->fd, 0, j, NULL,
							&h[j]));
			/* Element i of the cut array is the first unmapped. */
			cut_res = (__s32 *)self->edge - i;
			cut_h = (__u64 *)self->edge - i;
			if (results) {
				ret = kd_t_dispose_batch(self->fd, h, cut_res,
							 PTR_BATCH, NULL);
			} else {
				memcpy(cut_h, h, i * sizeof(__u64));
				ret = kd_t_dispose_batch(self->fd, cut_h, res,
							 PTR_BATCH, NULL);
			}
			EXPECT_EQ(-EFAULT, ret) TH_LOG("%s cut at %d",
						       results ? "results" :
						       "handles", i);
			k = disposed_prefix(self->fd, h, PTR_BATCH);
			ASSERT_LE(0, k) TH_LOG("not a prefix, cut at %d", i);
			if (results) {
				EXPECT_LT(i, k) TH_LOG("results cut at %d", i);
			} else {
				EXPECT_GE(i, k) TH_LOG("handles cut at %d", i);
			}
			ASSERT_EQ(0, kd_t_dispose_batch(self->fd, h, res,
							PTR_BATCH, NULL));
			for (j = 0; j < PTR_BATCH; j++) {
				ASSERT_EQ(j < k ? 0 : 1, res[j])
					TH_LOG("retry, cut at %d, slot %d", i,
					       j);
			}
		}
	}
}

TEST_HARNESS_MAIN
