/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers for the kdispose selftests.
 *
 * Include this header instead of kselftest_harness.h (it includes it).
 *
 * Conventions, as in liburing's test helpers:
 * - every kd_t_*() call returns 0 (or a count, or a dispose result) on
 *   success and a negative errno on failure; none of them aborts;
 * - kd_t_*() functions never use the harness, so threads and forked
 *   children may call them; the KD_T_*() macros use EXPECT/ASSERT and
 *   belong to the test's main thread only;
 * - the module counters are global: a test compares two snapshots taken
 *   around its own actions, which is exact because the harness runs one
 *   test at a time and nothing else uses the device meanwhile.
 */
#ifndef KDISPOSE_TEST_H
#define KDISPOSE_TEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/kdispose.h>

#include "kselftest_harness.h"

#define KD_T_DEV	"/dev/kdispose"
#define KD_T_COUNTERS	"/sys/class/misc/kdispose/counters"
#define KD_T_PARAMS	"/sys/module/kdispose/parameters/"

/*
 * Handle layout (not ABI, but stable enough for tests that forge or guess
 * handles): handle = (seq << KD_T_SLOT_BITS) | slot, where seq is the
 * file's create sequence number (from 1) and slot a reused table index.
 */
#define KD_T_SLOT_BITS	24
#define KD_T_SLOT_MASK	((1ULL << KD_T_SLOT_BITS) - 1)

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

static inline __u64 kd_t_handle_make(__u64 seq, __u64 slot)
{
	return seq << KD_T_SLOT_BITS | (slot & KD_T_SLOT_MASK);
}

static inline __u64 kd_t_handle_seq(__u64 handle)
{
	return handle >> KD_T_SLOT_BITS;
}

static inline __u64 kd_t_handle_slot(__u64 handle)
{
	return handle & KD_T_SLOT_MASK;
}

/* Return: a new file descriptor of /dev/kdispose, or -errno. */
static inline int kd_t_open(void)
{
	int fd = open(KD_T_DEV, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* Return: the ioctl's return value, or -errno. */
static inline int kd_t_ioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

/*
 * kd_t_create_args() - fill a struct kdispose_create. @label may be NULL;
 * at most KDISPOSE_LABEL_LEN bytes of it are copied (a longer label is
 * therefore not NUL-terminated: the kernel must truncate it).
 */
static inline void kd_t_create_args(struct kdispose_create *c, __u32 type,
				    __u64 parent, __u64 arg0, __u64 arg1,
				    const char *label)
{
	memset(c, 0, sizeof(*c));
	c->type = type;
	c->parent = parent;
	c->args[0] = arg0;
	c->args[1] = arg1;
	if (label)
		memcpy(c->label, label, strnlen(label, sizeof(c->label)));
}

/*
 * kd_t_create() - KDISPOSE_IOC_CREATE. On success *@handle is the new
 * handle; on failure it is left alone.
 * Return: 0 or -errno.
 */
static inline int kd_t_create(int fd, __u32 type, __u64 parent, __u64 arg0,
			      __u64 arg1, const char *label, __u64 *handle)
{
	struct kdispose_create c;
	int ret;

	kd_t_create_args(&c, type, parent, arg0, arg1, label);
	ret = kd_t_ioctl(fd, KDISPOSE_IOC_CREATE, &c);
	if (ret == 0)
		*handle = c.handle;
	return ret;
}

/* A token holding @value. Return: 0 or -errno. */
static inline int kd_t_token(int fd, __u64 parent, __u64 value,
			     const char *label, __u64 *handle)
{
	return kd_t_create(fd, KDISPOSE_TYPE_TOKEN, parent, value, 0, label,
			   handle);
}

/* Return: 1 (this call disposed it), 0 (disposed already) or -errno. */
static inline int kd_t_dispose(int fd, __u64 handle)
{
	struct kdispose_dispose d = { .handle = handle };

	return kd_t_ioctl(fd, KDISPOSE_IOC_DISPOSE, &d);
}

/*
 * The value kd_t_dispose_batch() puts in the struct's ndisposed before the
 * call: reading it back means the kernel did not write the field. Tests
 * also fill result slots with it, to see which ones the kernel wrote.
 */
#define KD_T_UNTOUCHED	((__s32)0x5a5a5a5a)

/*
 * kd_t_dispose_batch() - KDISPOSE_IOC_DISPOSE_BATCH of @count handles at
 * @handles, one result per handle to @results, flags and pad 0. The
 * pointers go to the kernel as they are, bad ones included. *@ndisposed
 * (may be NULL) gets the struct's ndisposed after the call: KD_T_UNTOUCHED
 * if the kernel did not write it.
 * Return: 0 or -errno.
 */
static inline int kd_t_dispose_batch(int fd, const __u64 *handles,
				     __s32 *results, __u32 count,
				     __u32 *ndisposed)
{
	struct kdispose_dispose_batch b = {
		.handles = (uintptr_t)handles,
		.results = (uintptr_t)results,
		.count = count,
		.ndisposed = KD_T_UNTOUCHED,
	};
	int ret;

	ret = kd_t_ioctl(fd, KDISPOSE_IOC_DISPOSE_BATCH, &b);
	if (ndisposed)
		*ndisposed = b.ndisposed;
	return ret;
}

/* KDISPOSE_IOC_QUERY into *@q. Return: 0 or -errno. */
static inline int kd_t_query(int fd, __u64 handle, struct kdispose_query *q)
{
	memset(q, 0, sizeof(*q));
	q->handle = handle;
	return kd_t_ioctl(fd, KDISPOSE_IOC_QUERY, q);
}

/*
 * kd_t_op() - KDISPOSE_IOC_OP. @args (4 words, in/out) may be NULL for an
 * operation without arguments.
 * Return: the operation's value or -errno.
 */
static inline int kd_t_op(int fd, __u64 handle, __u32 op, __u64 *args)
{
	struct kdispose_op o = { .handle = handle, .op = op };
	int ret;

	if (args)
		memcpy(o.args, args, sizeof(o.args));
	ret = kd_t_ioctl(fd, KDISPOSE_IOC_OP, &o);
	if (args)
		memcpy(args, o.args, sizeof(o.args));
	return ret;
}

/* Return: 0 with the token's value in *@value, or -errno. */
static inline int kd_t_token_get(int fd, __u64 handle, __u64 *value)
{
	__u64 args[4] = { 0 };
	int ret;

	ret = kd_t_op(fd, handle, KDISPOSE_OP_TOKEN_GET, args);
	if (ret == 0)
		*value = args[0];
	return ret;
}

/* Return: 0 or -errno. */
static inline int kd_t_token_set(int fd, __u64 handle, __u64 value)
{
	__u64 args[4] = { value };

	return kd_t_op(fd, handle, KDISPOSE_OP_TOKEN_SET, args);
}

/*
 * kd_t_export() - KDISPOSE_IOC_EXPORT of @handle with KDISPOSE_EXPORT_*
 * @flags, pad 0.
 * Return: the new export fd, or -errno.
 */
static inline int kd_t_export(int fd, __u64 handle, __u32 flags)
{
	struct kdispose_export e = { .handle = handle, .flags = flags };

	return kd_t_ioctl(fd, KDISPOSE_IOC_EXPORT, &e);
}

/*
 * kd_t_import() - KDISPOSE_IOC_IMPORT of export fd @efd into @fd's table,
 * as @type (0: any) under @parent (0: none), labelled @label (may be NULL),
 * flags and pad 0. On success *@handle is the new handle; on failure it is
 * left alone.
 * Return: 0 or -errno.
 */
static inline int kd_t_import(int fd, int efd, __u32 type, __u64 parent,
			      const char *label, __u64 *handle)
{
	struct kdispose_import im = {
		.fd = efd, .type = type, .parent = parent,
	};
	int ret;

	if (label)
		memcpy(im.label, label, strnlen(label, sizeof(im.label)));
	ret = kd_t_ioctl(fd, KDISPOSE_IOC_IMPORT, &im);
	if (ret == 0)
		*handle = im.handle;
	return ret;
}

/*
 * kd_t_wait() - KDISPOSE_IOC_WAIT on @count handles at @handles with
 * KDISPOSE_WAIT_* @flags, at most @timeout_ns. *@index (may be NULL) gets
 * the struct's index after the call: KD_T_UNTOUCHED if the kernel did not
 * write it.
 * Return: the call's result (an index, or 0) or -errno.
 */
static inline int kd_t_wait(int fd, const __u64 *handles, __u32 count,
			    __u32 flags, __u64 timeout_ns, __u32 *index)
{
	struct kdispose_wait w = {
		.handles = (uintptr_t)handles, .count = count,
		.flags = flags, .timeout_ns = timeout_ns,
		.index = (__u32)KD_T_UNTOUCHED,
	};
	int ret;

	ret = kd_t_ioctl(fd, KDISPOSE_IOC_WAIT, &w);
	if (index)
		*index = w.index;
	return ret;
}

/*
 * kd_t_scaled() - @n, or a tenth of it (at least 1) when KDISPOSE_SLOW is
 * set: a debug kernel (KASAN, lockdep) under emulation runs about ten times
 * slower, and the runner gives each program ten times the timeout.
 */
static inline unsigned long kd_t_scaled(unsigned long n)
{
	const char *slow = getenv("KDISPOSE_SLOW");

	if (!slow || !*slow)
		return n;
	return n / 10 ? n / 10 : 1;
}

/* Monotonic time in nanoseconds. */
static inline uint64_t kd_t_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * kd_t_read_file() - read a small file (sysfs, procfs) into @buf as a
 * NUL-terminated string.
 * Return: the length read, or -errno (-EFBIG if it does not fit).
 */
static inline int kd_t_read_file(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do {
		n = read(fd, buf + len, size - 1 - len);
		if (n > 0)
			len += n;
	} while (n > 0 && len < size - 1);
	if (n < 0)
		n = -errno;
	else if (len == size - 1)
		n = -EFBIG;
	close(fd);
	buf[len] = '\0';
	return n < 0 ? (int)n : (int)len;
}

/*
 * kd_t_write_file() - write the string @value to the file @path (sysfs,
 * tracefs, procfs).
 * Return: 0 or -errno.
 */
static inline int kd_t_write_file(const char *path, const char *value)
{
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, value, strlen(value));
	if (n < 0)
		n = -errno;
	close(fd);
	return n < 0 ? (int)n : 0;
}

/* An event with KDISPOSE_EVENT_* @flags. Return: 0 or -errno. */
static inline int kd_t_event(int fd, __u64 parent, __u64 flags,
			     __u64 *handle)
{
	return kd_t_create(fd, KDISPOSE_TYPE_EVENT, parent, flags, 0, "ev",
			   handle);
}

/* KDISPOSE_OP_EVENT_SIGNAL. Return: 0 or -errno. */
static inline int kd_t_event_signal(int fd, __u64 handle)
{
	return kd_t_op(fd, handle, KDISPOSE_OP_EVENT_SIGNAL, NULL);
}

/*
 * Whether an event is signaled, from KDISPOSE_IOC_QUERY (which never
 * consumes a signal).
 * Return: 1 (signaled), 0 (not) or -errno.
 */
static inline int kd_t_event_signaled(int fd, __u64 handle)
{
	struct kdispose_query q;
	int ret = kd_t_query(fd, handle, &q);

	if (ret)
		return ret;
	return !!(q.state & KDISPOSE_STATE_SIGNALED);
}

/*
 * kd_t_count_entries() - the entries of directory @dir other than . and ..;
 * with @file, only those whose @dir/<entry>/@file begins with @prefix
 * ("/proc/self/task", "comm", "iou-wrk-": the io-wq workers).
 * Return: the count, or -errno when @dir cannot be read.
 */
static inline int kd_t_count_entries(const char *dir, const char *file,
				     const char *prefix)
{
	char path[300], buf[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (file) {
			snprintf(path, sizeof(path), "%s/%s/%s", dir,
				 de->d_name, file);
			if (kd_t_read_file(path, buf, sizeof(buf)) <= 0 ||
			    strncmp(buf, prefix, strlen(prefix)))
				continue;
		}
		n++;
	}
	closedir(d);
	return n;
}

/*
 * kd_t_asleep_in() - whether task @tid (a thread of any process: /proc
 * resolves thread ids too) sleeps (state S) in system call @nr (x86-64
 * numbers: 0 read, 7 poll, 16 ioctl, 232 epoll_wait...), or in any system
 * call when @nr is negative.
 */
static inline bool kd_t_asleep_in(pid_t tid, int nr)
{
	char path[64], buf[512], *paren;
	int cur;

	snprintf(path, sizeof(path), "/proc/%d/syscall", tid);
	if (kd_t_read_file(path, buf, sizeof(buf)) < 0 ||
	    sscanf(buf, "%d ", &cur) != 1 || cur < 0 ||
	    (nr >= 0 && cur != nr))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", tid);
	if (kd_t_read_file(path, buf, sizeof(buf)) < 0)
		return false;
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && paren[2] == 'S';
}

/* Wait up to 10 s until kd_t_asleep_in(@tid, @nr). */
static inline bool kd_t_wait_asleep(pid_t tid, int nr)
{
	int i;

	for (i = 0; i < 10000; i++) {
		if (kd_t_asleep_in(tid, nr))
			return true;
		usleep(1000);
	}
	return false;
}

/*
 * Module-wide counters, one row for all objects and one per type: rows are
 * indexed by enum kdispose_type, row 0 (KD_T_ALL) is the "all" line.
 */
#define KD_T_ALL	0
#define KD_T_NROWS	(KDISPOSE_TYPE_GROUP + 1)

static const char *const kd_t_row_names[KD_T_NROWS] = {
	[KD_T_ALL] = "all",
	[KDISPOSE_TYPE_TOKEN] = "token",
	[KDISPOSE_TYPE_MEMORY] = "memory",
	[KDISPOSE_TYPE_EVENT] = "event",
	[KDISPOSE_TYPE_FILE] = "file",
	[KDISPOSE_TYPE_GROUP] = "group",
};

struct kd_t_count {
	__u64 created;
	__u64 disposed;
	__u64 finalized;
	__u64 live;
	__u64 released;
};

/*
 * The rows the tests name, by enum kdispose_type, and any other the module
 * lists (a kind newer than this file): the invariants cover them all.
 */
#define KD_T_MAX_EXTRA	16

struct kd_t_counters {
	struct kd_t_count row[KD_T_NROWS];
	struct kd_t_count extra[KD_T_MAX_EXTRA];
	char extra_name[KD_T_MAX_EXTRA][16];
	int nextra;
};

/*
 * kd_t_counters_read() - one snapshot of KD_T_COUNTERS.
 * Return: 0, -errno, or -EPROTO if a row is missing or malformed.
 */
static inline int kd_t_counters_read(struct kd_t_counters *c)
{
	unsigned int seen = 0;
	char buf[2048], *line, *save;
	int ret, i;

	ret = kd_t_read_file(KD_T_COUNTERS, buf, sizeof(buf));
	if (ret < 0)
		return ret;
	memset(c, 0, sizeof(*c));
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct kd_t_count v;
		char name[16] = { 0 };

		if (sscanf(line,
			   "%15s created %llu disposed %llu finalized %llu live %llu released %llu",
			   name, &v.created, &v.disposed, &v.finalized,
			   &v.live, &v.released) != 6)
			return -EPROTO;
		for (i = 0; i < KD_T_NROWS; i++) {
			if (!strcmp(name, kd_t_row_names[i])) {
				c->row[i] = v;
				seen |= 1U << i;
				break;
			}
		}
		if (i == KD_T_NROWS) {
			if (c->nextra == KD_T_MAX_EXTRA)
				return -EPROTO;
			c->extra[c->nextra] = v;
			memcpy(c->extra_name[c->nextra], name, sizeof(name));
			c->nextra++;
		}
	}
	return seen == (1U << KD_T_NROWS) - 1 ? 0 : -EPROTO;
}

/*
 * kd_t_counters_check() - the invariants every snapshot must satisfy:
 * per row created == disposed + finalized + live and released <= disposed +
 * finalized; the "all" row is the sum of the kind rows, including rows
 * of kinds this file does not name.
 * Return: 0, or -1 with the first broken rule written to @why.
 */
static inline int kd_t_counters_check(const struct kd_t_counters *c,
				      char *why, size_t len)
{
	struct kd_t_count sum = { 0 };
	int i;

	for (i = 0; i < KD_T_NROWS + c->nextra; i++) {
		const struct kd_t_count *r = i < KD_T_NROWS ? &c->row[i] :
					     &c->extra[i - KD_T_NROWS];
		const char *name = i < KD_T_NROWS ? kd_t_row_names[i] :
				   c->extra_name[i - KD_T_NROWS];

		if (r->created != r->disposed + r->finalized + r->live) {
			snprintf(why, len,
				 "%s: created %llu != disposed %llu + finalized %llu + live %llu",
				 name, r->created, r->disposed,
				 r->finalized, r->live);
			return -1;
		}
		if (r->released > r->disposed + r->finalized) {
			snprintf(why, len,
				 "%s: released %llu > disposed %llu + finalized %llu",
				 name, r->released, r->disposed, r->finalized);
			return -1;
		}
		if (i == KD_T_ALL)
			continue;
		sum.created += r->created;
		sum.disposed += r->disposed;
		sum.finalized += r->finalized;
		sum.live += r->live;
		sum.released += r->released;
	}
	if (memcmp(&sum, &c->row[KD_T_ALL], sizeof(sum))) {
		snprintf(why, len, "the \"all\" row is not the sum of the kinds");
		return -1;
	}
	return 0;
}

/* Counter changes between two snapshots, for one row. */
struct kd_t_delta {
	int64_t created;
	int64_t disposed;
	int64_t finalized;
	int64_t live;
	int64_t released;
};

static inline struct kd_t_delta kd_t_delta(const struct kd_t_counters *before,
					   const struct kd_t_counters *after,
					   int row)
{
	const struct kd_t_count *b = &before->row[row], *a = &after->row[row];

	return (struct kd_t_delta) {
		.created = (int64_t)(a->created - b->created),
		.disposed = (int64_t)(a->disposed - b->disposed),
		.finalized = (int64_t)(a->finalized - b->finalized),
		.live = (int64_t)(a->live - b->live),
		.released = (int64_t)(a->released - b->released),
	};
}

/*
 * kd_t_wait_settled_row() - poll the counters into *@now until row @r
 * (enum kdispose_type, or KD_T_ALL) has as many live objects as in @start
 * and has released every object created since (a file's last fput, and
 * so its finalizer, may run a little later in a kworker or in task work),
 * for at most @ms milliseconds; @ms 0 reads the counters once.
 * Return: 0, -ETIMEDOUT (*@now is the last snapshot), or -errno from
 * reading the counters.
 */
static inline int kd_t_wait_settled_row(const struct kd_t_counters *start,
					struct kd_t_counters *now, int r,
					int ms)
{
	const struct kd_t_count *s = &start->row[r];
	const struct kd_t_count *n = &now->row[r];
	uint64_t deadline = kd_t_now_ns() + ms * 1000000ULL;
	int ret;

	for (;;) {
		ret = kd_t_counters_read(now);
		if (ret)
			return ret;
		if (n->live == s->live &&
		    n->released - s->released == n->created - s->created)
			return 0;
		if (kd_t_now_ns() >= deadline)
			return -ETIMEDOUT;
		usleep(10000);
	}
}

/* kd_t_wait_settled_row() for all objects. */
static inline int kd_t_wait_settled(const struct kd_t_counters *start,
				    struct kd_t_counters *now, int ms)
{
	return kd_t_wait_settled_row(start, now, KD_T_ALL, ms);
}

/*
 * KD_T_ASSERT_COUNTERS(c) - take a snapshot into @c (a struct
 * kd_t_counters) and assert the invariants on it.
 */
#define KD_T_ASSERT_COUNTERS(c) do {					\
	char __why[160] = "";						\
									\
	ASSERT_EQ(0, kd_t_counters_read(&(c)));				\
	ASSERT_EQ(0, kd_t_counters_check(&(c), __why, sizeof(__why)))	\
		TH_LOG("counter invariant broken: %s", __why);		\
} while (0)

/*
 * KD_T_EXPECT_SETTLED_WITHIN(start, r, ms) - for a fixture's teardown,
 * after the test closed its files: wait up to @ms milliseconds (0: not at
 * all) for row @r (enum kdispose_type, or KD_T_ALL) to settle, then expect
 * the invariants on the last snapshot and that row @r has as many live and
 * as many taken-but-unreleased objects as in @start (a struct
 * kd_t_counters taken in setup): the test left nothing behind. EXPECT
 * only, so that it can run in a teardown.
 */
#define KD_T_EXPECT_SETTLED_WITHIN(start, r, ms) do {			\
	const struct kd_t_counters *__start = &(start);			\
	const int __r = (r);						\
	const struct kd_t_count *__s = &__start->row[__r];		\
	struct kd_t_counters __end;					\
	const struct kd_t_count *__e = &__end.row[__r];			\
	char __why[160] = "";						\
	int __ret;							\
									\
	__ret = kd_t_wait_settled_row(__start, &__end, __r, ms);	\
	if (__ret != -ETIMEDOUT) {					\
		EXPECT_EQ(0, __ret);					\
	}								\
	EXPECT_EQ(0, kd_t_counters_check(&__end, __why, sizeof(__why)))	\
		TH_LOG("counter invariant broken: %s", __why);		\
	EXPECT_EQ(__s->live, __e->live)					\
		TH_LOG("row %s: objects left live", kd_t_row_names[__r]); \
	EXPECT_EQ(__s->disposed + __s->finalized - __s->released,	\
		  __e->disposed + __e->finalized - __e->released)	\
		TH_LOG("row %s: objects taken but not released",	\
		       kd_t_row_names[__r]);				\
} while (0)

/* KD_T_EXPECT_SETTLED_WITHIN() without waiting. */
#define KD_T_EXPECT_SETTLED(start, r) KD_T_EXPECT_SETTLED_WITHIN(start, r, 0)

/*
 * The device fixture. Most programs open /dev/kdispose in each test's
 * setup and, in its teardown, close it and check that the test left no
 * object behind. A fixture that needs nothing else is one line:
 *
 *	KD_T_DEV_FIXTURE(race, KD_T_ALL);
 *
 * One with more state puts KD_T_DEV_MEMBERS first in its FIXTURE(), calls
 * KD_T_DEV_SETUP(self) in its setup before it creates anything, and ends
 * its teardown with KD_T_DEV_TEARDOWN(self, row, ms) once its own state
 * (mappings, rings, other files) is gone. The two macros take any struct
 * with these members (a fixture's self, or a context of its own).
 */
#define KD_T_DEV_MEMBERS						\
	int fd;				/* /dev/kdispose; -1 once closed */ \
	struct kd_t_counters start	/* module counters after setup */

/* Open @f->fd and take @f->start. ASSERT: for a fixture's setup. */
#define KD_T_DEV_SETUP(f) do {						\
	__typeof__(f) __f = (f);					\
									\
	__f->fd = kd_t_open();						\
	ASSERT_LE(0, __f->fd) TH_LOG("open %s: %s", KD_T_DEV,		\
				     strerror(-__f->fd));		\
	KD_T_ASSERT_COUNTERS(__f->start);				\
} while (0)

/*
 * Close @f->fd unless the test did (and set it to -1), then expect row @r
 * settled within @ms milliseconds (KD_T_EXPECT_SETTLED_WITHIN()). EXPECT
 * only: a failing ASSERT in a teardown would re-enter the teardown.
 */
#define KD_T_DEV_TEARDOWN(f, r, ms) do {				\
	__typeof__(f) __f = (f);					\
									\
	if (__f->fd >= 0) {						\
		EXPECT_EQ(0, close(__f->fd));				\
	}								\
	KD_T_EXPECT_SETTLED_WITHIN(__f->start, r, ms);			\
} while (0)

/*
 * KD_T_DEV_FIXTURE(name, r) - FIXTURE(@name) with only KD_T_DEV_MEMBERS,
 * its setup (KD_T_DEV_SETUP()) and its teardown (KD_T_DEV_TEARDOWN() of
 * row @r, without waiting). It ends in a declaration of the fixture's
 * struct, so that the caller's semicolon ends a declaration too
 * (checkpatch reads these declarations as statements: a false positive).
 */
#define KD_T_DEV_FIXTURE(name, r)					\
	FIXTURE(name) {							\
		KD_T_DEV_MEMBERS;					\
	};								\
	FIXTURE_SETUP(name)						\
	{								\
		KD_T_DEV_SETUP(self);					\
	}								\
	FIXTURE_TEARDOWN(name)						\
	{								\
		KD_T_DEV_TEARDOWN(self, r, 0);				\
	}								\
	FIXTURE_DATA(name)

/*
 * KD_T_EXPECT_DELTA(before, after, row, .field = n, ...) - expect the
 * counters of @row to have moved by exactly the given amounts between the
 * two snapshots (pointers); fields not named must not have moved.
 */
#define KD_T_EXPECT_DELTA(before, after, row, ...) do {			\
	const struct kd_t_delta __want = { __VA_ARGS__ };		\
	const struct kd_t_delta __got = kd_t_delta(before, after, row);\
	const char *__row = kd_t_row_names[row];			\
									\
	EXPECT_EQ(__want.created, __got.created)			\
		TH_LOG("row %s: created", __row);			\
	EXPECT_EQ(__want.disposed, __got.disposed)			\
		TH_LOG("row %s: disposed", __row);			\
	EXPECT_EQ(__want.finalized, __got.finalized)			\
		TH_LOG("row %s: finalized", __row);			\
	EXPECT_EQ(__want.live, __got.live)				\
		TH_LOG("row %s: live", __row);				\
	EXPECT_EQ(__want.released, __got.released)			\
		TH_LOG("row %s: released", __row);			\
} while (0)

/*
 * kd_t_fdinfo_str() - the text after "@key:" and its blanks in
 * /proc/self/fdinfo/@fd, into @val (@len bytes, truncated).
 * Return: 0, -errno, or -ENOENT if the key is absent.
 */
static inline int kd_t_fdinfo_str(int fd, const char *key, char *val,
				  size_t len)
{
	char path[64], buf[4096], *line, *save;
	size_t klen = strlen(key);
	int ret;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	ret = kd_t_read_file(path, buf, sizeof(buf));
	if (ret < 0)
		return ret;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			line += klen + 1;
			line += strspn(line, " \t");
			snprintf(val, len, "%s", line);
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * kd_t_fdinfo() - the value of "@key:" in /proc/self/fdinfo/@fd, e.g.
 * "kdispose_live" or "kdispose_live_token".
 * Return: 0, -errno, -ENOENT if the key is absent, or -EPROTO if its value
 * is not a number.
 */
static inline int kd_t_fdinfo(int fd, const char *key, __u64 *value)
{
	char val[32];
	int ret = kd_t_fdinfo_str(fd, key, val, sizeof(val));

	if (ret)
		return ret;
	return sscanf(val, "%llu", value) == 1 ? 0 : -EPROTO;
}

/*
 * Module parameters. A test that changes one saves it first with
 * kd_t_param_set() and puts it back with kd_t_param_restore(), normally
 * from its fixture teardown so that a failed ASSERT still restores it.
 */
struct kd_t_param {
	const char *name;	/* NULL: nothing saved */
	char saved[64];		/* value read before the change */
};

/* Return: 0 with the value (no newline) in @buf, or -errno. */
static inline int kd_t_param_read(const char *name, char *buf, size_t size)
{
	char path[128];
	int ret;

	snprintf(path, sizeof(path), KD_T_PARAMS "%s", name);
	ret = kd_t_read_file(path, buf, size);
	if (ret < 0)
		return ret;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* Return: 0 or -errno. */
static inline int kd_t_param_write(const char *name, const char *value)
{
	char path[128];

	snprintf(path, sizeof(path), KD_T_PARAMS "%s", name);
	return kd_t_write_file(path, value);
}

/*
 * kd_t_param_set() - save parameter @name into @p (once: a second call on
 * the same @p keeps the first saved value) and write @value.
 * Return: 0 or -errno.
 */
static inline int kd_t_param_set(struct kd_t_param *p, const char *name,
				 const char *value)
{
	int ret;

	if (!p->name) {
		ret = kd_t_param_read(name, p->saved, sizeof(p->saved));
		if (ret)
			return ret;
		p->name = name;
	}
	return kd_t_param_write(name, value);
}

/* Same as kd_t_param_set() for a number. */
static inline int kd_t_param_set_u64(struct kd_t_param *p, const char *name,
				     __u64 value)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", value);
	return kd_t_param_set(p, name, buf);
}

/* Write back the saved value, if any. Return: 0 or -errno. */
static inline int kd_t_param_restore(struct kd_t_param *p)
{
	const char *name = p->name;

	if (!name)
		return 0;
	p->name = NULL;
	return kd_t_param_write(name, p->saved);
}

/*
 * Kernel log. kd_t_kmsg_open() opens /dev/kmsg positioned after the last
 * record; kd_t_kmsg_count() then reads every record logged since
 * (non-blocking) and counts those whose text contains both @needle and
 * @needle2 (NULL: @needle alone).
 */
static inline int kd_t_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (lseek(fd, 0, SEEK_END) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Return: the number of matching records, or -errno. */
static inline int kd_t_kmsg_count(int fd, const char *needle,
				  const char *needle2)
{
	char rec[8192];
	int count = 0;
	ssize_t n;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* records overwritten: skip them */
		if (n < 0 && errno == EAGAIN)
			return count;
		if (n < 0)
			return -errno;
		rec[n] = '\0';
		if (strstr(rec, needle) && (!needle2 || strstr(rec, needle2)))
			count++;
	}
}

/* /sys/module/kdispose/refcnt. Return: the count, or -errno. */
static inline long kd_t_module_refcnt(void)
{
	char buf[32];
	int ret = kd_t_read_file("/sys/module/kdispose/refcnt", buf,
				 sizeof(buf));

	return ret < 0 ? ret : strtol(buf, NULL, 10);
}

/*
 * kd_t_module_refcnt_wait() - poll the module's reference count until it
 * is @want, for at most @ms milliseconds: a file's last fput puts its
 * module reference after the release hook that settles the counters.
 * Return: the last count read, or -errno.
 */
static inline long kd_t_module_refcnt_wait(long want, int ms)
{
	uint64_t deadline = kd_t_now_ns() + ms * 1000000ULL;
	long now;

	for (;;) {
		now = kd_t_module_refcnt();
		if (now == want || now < 0 || kd_t_now_ns() > deadline)
			return now;
		usleep(10000);
	}
}

/*
 * The end of a shared object: the tracepoint kdispose:kdispose_share_end
 * fires once per exported object, when its last name (a handle in any
 * table, or an export fd) goes, with the object's kind and the disposing
 * flag of that last name. kd_t_ends_start() clears the trace buffer and
 * enables that event alone (no filter: the harness runs one test at a
 * time and nothing else uses the device); kd_t_ends_parse() counts the
 * events in trace output.
 */
#define KD_T_TRACEFS	"/sys/kernel/tracing/"
#define KD_T_SHARE_END	"events/kdispose/kdispose_share_end/"

/* Write @value to tracefs file @file, truncating it. Return: 0 or -errno. */
static inline int kd_t_trace_write(const char *file, const char *value)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), KD_T_TRACEFS "%s", file);
	/* O_TRUNC: opening "trace" so is what clears the buffer. */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, value, strlen(value));
	close(fd);
	return n < 0 ? -errno : 0;
}

/*
 * kd_t_trace_enable() - enable (@on) or disable the events of tracefs
 * directory @events ("events/kdispose/"). With the option record-cmd on,
 * as it is by default, every enable of an event also hooks the scheduler's
 * sched_switch and sched_wakeup tracepoints, patching the scheduler's text
 * live while both CPUs run it: under QEMU's TCG that was seen once to end
 * in "Oops: int3" in ttwu_do_activate() on 6.12, with nothing of kdispose
 * on the stack. The tests read no command names from the trace, so the
 * option is off while their events are on. Return: 0 or -errno.
 */
static inline int kd_t_trace_enable(const char *events, bool on)
{
	char path[128];
	int ret;

	snprintf(path, sizeof(path), "%senable", events);
	if (!on) {
		ret = kd_t_trace_write(path, "0");
		return ret ? ret : kd_t_trace_write("options/record-cmd", "1");
	}
	ret = kd_t_trace_write("options/record-cmd", "0");
	return ret ? ret : kd_t_trace_write(path, "1");
}

/* Ends seen in trace output. */
struct kd_t_ends {
	int n;			/* events */
	int disposing;		/* of which with disposing=1 */
	int memory;		/* of which of kind=memory */
	int event;		/* of which of kind=event */
};

/* Return: 0, or -ENOENT when the kernel has no such event. */
static inline int kd_t_ends_start(void)
{
	int ret;

	if (access(KD_T_TRACEFS KD_T_SHARE_END "enable", F_OK))
		return -ENOENT;
	ret = kd_t_trace_enable(KD_T_SHARE_END, false);
	if (!ret)
		ret = kd_t_trace_write(KD_T_SHARE_END "filter", "0");
	if (!ret)
		ret = kd_t_trace_write("trace", "");
	if (!ret)
		ret = kd_t_trace_enable(KD_T_SHARE_END, true);
	return ret;
}

static inline int kd_t_ends_stop(void)
{
	return kd_t_trace_enable(KD_T_SHARE_END, false);
}

/*
 * kd_t_ends_parse() - add the kdispose_share_end events of the complete
 * lines of @buf (NUL-terminated, modified) to *@e.
 * Return: the length of the complete lines (what follows the last newline
 * is left for the next chunk of a stream).
 */
static inline size_t kd_t_ends_parse(char *buf, struct kd_t_ends *e)
{
	char *line = buf, *nl, *p;

	while ((nl = strchr(line, '\n'))) {
		*nl = '\0';
		if (line[0] != '#' && strstr(line, " kdispose_share_end: ")) {
			e->n++;
			p = strstr(line, "disposing=");
			e->disposing += p && p[10] == '1';
			p = strstr(line, "kind=");
			e->memory += p && !strncmp(p + 5, "memory", 6);
			e->event += p && !strncmp(p + 5, "event", 5);
		}
		line = nl + 1;
	}
	return line - buf;
}

/*
 * kd_t_ends_read() - the events in the trace buffer now (it is not
 * consumed).
 * Return: 0 or -errno.
 */
static inline int kd_t_ends_read(struct kd_t_ends *e)
{
	size_t size = 1 << 20;
	char *buf = malloc(size);
	int ret;

	if (!buf)
		return -ENOMEM;
	memset(e, 0, sizeof(*e));
	ret = kd_t_read_file(KD_T_TRACEFS "trace", buf, size);
	if (ret >= 0) {
		kd_t_ends_parse(buf, e);
		ret = 0;
	}
	free(buf);
	return ret;
}

/*
 * kd_t_ends_wait() - read the events until there are at least @want, for
 * at most @ms milliseconds (the last name of an object can be dropped by
 * a file's release, which may run a little later).
 * Return: 0 (*@e holds the last read, possibly fewer) or -errno.
 */
static inline int kd_t_ends_wait(struct kd_t_ends *e, int want, int ms)
{
	uint64_t deadline = kd_t_now_ns() + ms * 1000000ULL;
	int ret;

	for (;;) {
		ret = kd_t_ends_read(e);
		if (ret || e->n >= want || kd_t_now_ns() >= deadline)
			return ret;
		usleep(10000);
	}
}

/* Send @fd over unix socket @sock, with byte @tag. Return: 0 or -errno. */
static inline int kd_t_send_fd(int sock, int fd, char tag)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { &tag, 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(fd));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

/*
 * Receive one fd over unix socket @sock, close-on-exec, and its byte into
 * *@tag (may be NULL). Return: the fd; -EPIPE at end of file; -EPROTO for
 * a message without an fd; or -errno.
 */
static inline int kd_t_recv_fd(int sock, char *tag)
{
	char data, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &data, 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg;
	ssize_t n;
	int fd;

	n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	if (n == 0)
		return -EPIPE;
	if (n != 1)
		return -errno;
	cmsg = CMSG_FIRSTHDR(&msg);
	if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(fd));
	if (tag)
		*tag = data;
	return fd;
}

#endif /* KDISPOSE_TEST_H */
