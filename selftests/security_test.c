// SPDX-License-Identifier: GPL-2.0
/*
 * security_test: what an unprivileged user can and cannot do with
 * /dev/kdispose; Documentation/threat-model.md explains the model.
 *
 * Each test forks a child that drops to uid/gid 65534 ("nobody") with no
 * supplementary groups and no capabilities, and does the user's part
 * there; the test's root process sets module parameters, measures and
 * checks. The child reports the first broken expectation through a shared
 * page and its exit status.
 *
 * The user can open the device, create every kind of object and dispose
 * it; cannot exceed max_objects or max_bytes, however hard it tries, so the
 * kernel memory it holds stays below what the quotas allow for the files
 * it may open; cannot exceed max_user_objects or max_user_bytes over all
 * the files it opened, however it keeps them alive after their fds are
 * closed (mappings, forks, SCM_RIGHTS), while other users keep quotas of
 * their own; cannot name another file's objects (a handle is only a
 * number in its own file's table), unless it is given the file itself
 * (SCM_RIGHTS: the fd is the capability); pins only files it already has
 * open, with the access they were opened with; cannot change the module
 * parameters; cannot keep objects alive after it is gone by making a
 * reference cycle (a file pinning a unix socket or io_uring that holds the
 * file itself); and cannot forge kernel log lines through labels.
 */
#include <grp.h>
#include <liburing.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "kdispose_test.h"

#define NOBODY		65534

/* Quotas of the resource tests, small enough to fill quickly. */
#define Q_OBJECTS	600
#define Q_BYTES		(512 << 10)

/* Files the memory test lets the user open (RLIMIT_NOFILE). */
#define Q_NOFILE	16

/* How many times over its quotas the user tries to allocate. */
#define OVERSHOOT	3

/* Buffer held by a file caught in a reference cycle. */
#define CYCLE_BYTES	(1 << 20)

/* How long the release of a file caught in a cycle may take. */
#define CYCLE_WAIT_MS	15000

/* What the root process and the user's child share. */
struct shared {
	char why[256];		/* the child's first failure */
	int nfiles;		/* files the memory test's child filled */
};

/* In the child: become @uid (and gid @uid), for good. Return: 0 or -errno. */
static int become_user(uid_t uid)
{
	char status[4096], *cap;
	int ret;

	if (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
	    setresuid(uid, uid, uid))
		return -errno;
	ret = kd_t_read_file("/proc/self/status", status, sizeof(status));
	if (ret < 0)
		return ret;
	cap = strstr(status, "CapEff:");
	if (!cap || strtoull(cap + 7, NULL, 16) != 0)
		return -EPERM;
	return 0;
}

/* In the child: record why it failed (the first reason wins). */
#define CHILD_CHECK(sh, cond, fmt, ...) do {				\
	if (!(cond)) {							\
		if (!(sh)->why[0])					\
			snprintf((sh)->why, sizeof((sh)->why),		\
				 "line %d: " fmt, __LINE__,		\
				 ##__VA_ARGS__);			\
		return -1;						\
	}								\
} while (0)

typedef int (*child_fn)(struct shared *sh, void *arg);

/*
 * as_user() - run @fn(@sh, @arg) in a child that dropped to @uid.
 * Return: the child's pid; the caller waits with child_wait().
 */
static pid_t as_user(uid_t uid, struct shared *sh, child_fn fn, void *arg)
{
	pid_t pid = fork();
	int ret;

	if (pid)
		return pid;
	ret = become_user(uid);
	if (ret) {
		snprintf(sh->why, sizeof(sh->why), "cannot drop to uid %d: %s",
			 uid, strerror(-ret));
		_exit(2);
	}
	_exit(fn(sh, arg) ? 1 : 0);
}

/* as_user() for nobody. */
static pid_t as_nobody(struct shared *sh, child_fn fn, void *arg)
{
	return as_user(NOBODY, sh, fn, arg);
}

/* Return: true when the child exited with 0. */
static bool child_wait(pid_t pid)
{
	int status;

	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

FIXTURE(security)
{
	struct shared *sh;		/* shared with the child */
	int fd;				/* root's /dev/kdispose, for some tests */
	struct kd_t_param max_objects;
	struct kd_t_param max_bytes;
	struct kd_t_param leak_report;
	struct kd_t_counters start;	/* module counters after setup */
};

FIXTURE_SETUP(security)
{
	self->fd = -1;
	self->sh = mmap(NULL, sizeof(*self->sh), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->sh);
	KD_T_ASSERT_COUNTERS(self->start);
}

/* No ASSERT here: a failing ASSERT in teardown would re-enter teardown. */
FIXTURE_TEARDOWN(security)
{
	const struct kd_t_count *s = &self->start.row[KD_T_ALL];
	struct kd_t_counters end;
	char why[160] = "";

	EXPECT_EQ(0, kd_t_param_restore(&self->max_objects));
	EXPECT_EQ(0, kd_t_param_restore(&self->max_bytes));
	EXPECT_EQ(0, kd_t_param_restore(&self->leak_report));
	if (self->fd >= 0)
		EXPECT_EQ(0, close(self->fd));
	EXPECT_EQ(0, kd_t_counters_read(&end));
	EXPECT_EQ(0, kd_t_counters_check(&end, why, sizeof(why)))
		TH_LOG("counter invariant broken: %s", why);
	EXPECT_EQ(s->live, end.row[KD_T_ALL].live);
	EXPECT_EQ(s->created - s->released,
		  end.row[KD_T_ALL].created - end.row[KD_T_ALL].released);
}

/* Run @fn as nobody and expect it to succeed. */
#define RUN_AS_NOBODY(fn, arg) do {					\
	self->sh->why[0] = '\0';					\
	ASSERT_TRUE(child_wait(as_nobody(self->sh, fn, arg)))		\
		TH_LOG("as uid %d: %s", NOBODY, self->sh->why);	\
} while (0)

static int user_every_kind(struct shared *sh, void *arg)
{
	int fd = kd_t_open(), p[2];
	__u64 h[6], v;
	int i;

	CHILD_CHECK(sh, getuid() == NOBODY, "still uid %d", getuid());
	CHILD_CHECK(sh, fd >= 0, "open: %s", strerror(-fd));
	CHILD_CHECK(sh, pipe(p) == 0, "pipe");
	CHILD_CHECK(sh, !kd_t_token(fd, 0, 5, "u", &h[0]), "token");
	CHILD_CHECK(sh, !kd_t_create(fd, KDISPOSE_TYPE_MEMORY, 0, 4096, 0,
				     "u", &h[1]), "memory");
	CHILD_CHECK(sh, !kd_t_create(fd, KDISPOSE_TYPE_EVENT, 0, 0, 0, "u",
				     &h[2]), "event");
	CHILD_CHECK(sh, !kd_t_create(fd, KDISPOSE_TYPE_FILE, 0, p[0], 0, "u",
				     &h[3]), "file");
	CHILD_CHECK(sh, !kd_t_create(fd, KDISPOSE_TYPE_GROUP, 0, 0, 0, "u",
				     &h[4]), "group");
	CHILD_CHECK(sh, !kd_t_token(fd, h[4], 6, "u", &h[5]), "child");
	CHILD_CHECK(sh, !kd_t_token_get(fd, h[0], &v) && v == 5, "get");
	for (i = 0; i < 5; i++)
		CHILD_CHECK(sh, kd_t_dispose(fd, h[i]) == 1, "dispose %d", i);
	CHILD_CHECK(sh, kd_t_query(fd, h[5], &(struct kdispose_query){ 0 }) ==
			-EIDRM, "cascade");
	close(p[0]);
	close(p[1]);
	return close(fd);
}

/* An unprivileged user opens the device and uses every kind of object. */
TEST_F(security, nobody_creates_and_disposes_every_kind)
{
	struct kd_t_counters after;

	RUN_AS_NOBODY(user_every_kind, NULL);
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&self->start, &after, KD_T_ALL, .created = 6,
			  .disposed = 6, .released = 6);
}

/*
 * Fill one file to the quotas: memory buffers of a page until EDQUOT, then
 * tokens until EMFILE, each attempted OVERSHOOT times more than the quota
 * allows. Return: 0 with the file full, or -1.
 */
static int fill_file(struct shared *sh, int fd)
{
	unsigned long pages = Q_BYTES / 4096, i, made = 0;
	__u64 h = 0, bytes, live;
	int ret;

	for (i = 0; i < OVERSHOOT * pages; i++) {
		ret = kd_t_create(fd, KDISPOSE_TYPE_MEMORY, 0, 4096, 0, "q", &h);
		CHILD_CHECK(sh, ret == 0 || ret == -EDQUOT,
			    "memory %lu: %s", i, strerror(-ret));
		CHILD_CHECK(sh, (ret == 0) == (i < pages),
			    "memory %lu of a %lu-page quota: %s", i, pages,
			    strerror(-ret));
		made += ret == 0;
	}
	CHILD_CHECK(sh, kd_t_create(fd, KDISPOSE_TYPE_MEMORY, 0, Q_BYTES + 1,
				    0, "q", &h) == -EINVAL,
		    "a buffer larger than max_bytes");
	for (i = 0; i < OVERSHOOT * Q_OBJECTS; i++) {
		ret = kd_t_token(fd, 0, i, "q", &h);
		CHILD_CHECK(sh, ret == 0 || ret == -EMFILE, "token %lu: %s", i,
			    strerror(-ret));
		CHILD_CHECK(sh, (ret == 0) == (made < Q_OBJECTS),
			    "object %lu of a quota of %d: %s", made + 1,
			    Q_OBJECTS, strerror(-ret));
		made += ret == 0;
	}
	CHILD_CHECK(sh, !kd_t_fdinfo(fd, "kdispose_live", &live) &&
			live == Q_OBJECTS, "live %llu", live);
	CHILD_CHECK(sh, !kd_t_fdinfo(fd, "kdispose_bytes", &bytes) &&
			bytes == Q_BYTES, "bytes %llu", bytes);
	/* A dispose makes room for exactly one more. */
	CHILD_CHECK(sh, kd_t_dispose(fd, h) == 1, "dispose");
	CHILD_CHECK(sh, !kd_t_token(fd, 0, 0, "q", &h), "create after dispose");
	CHILD_CHECK(sh, kd_t_token(fd, 0, 0, "q", &h) == -EMFILE, "full again");
	return 0;
}

static int user_fill_one(struct shared *sh, void *arg)
{
	int fd = kd_t_open();

	CHILD_CHECK(sh, fd >= 0, "open: %s", strerror(-fd));
	if (fill_file(sh, fd))
		return -1;
	return close(fd);
}

/* max_objects and max_bytes hold for an unprivileged user. */
TEST_F(security, nobody_cannot_exceed_quotas)
{
	ASSERT_EQ(0, kd_t_param_set_u64(&self->max_objects, "max_objects",
					Q_OBJECTS));
	ASSERT_EQ(0, kd_t_param_set_u64(&self->max_bytes, "max_bytes",
					Q_BYTES));
	RUN_AS_NOBODY(user_fill_one, NULL);
}

/*
 * The user lowers its own RLIMIT_NOFILE, as an administrator would set it,
 * opens every device file it may and fills each to the quotas; then it
 * tells root (@arg: two pipes) and waits until root has measured.
 */
static int user_fill_all(struct shared *sh, void *arg)
{
	const int *pipes = arg;
	struct rlimit rl = { Q_NOFILE, Q_NOFILE };
	int fd, spare;
	char c;

	CHILD_CHECK(sh, setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit");
	for (;;) {
		fd = kd_t_open();
		if (fd == -EMFILE)
			break;
		CHILD_CHECK(sh, fd >= 0, "open: %s", strerror(-fd));
		/* Keep one fd free, to read fdinfo. */
		spare = dup(fd);
		if (spare < 0) {
			close(fd);
			break;
		}
		close(spare);
		if (fill_file(sh, fd))
			return -1;
		sh->nfiles++;
	}
	CHILD_CHECK(sh, write(pipes[1], "f", 1) == 1, "tell root");
	CHILD_CHECK(sh, read(pipes[2], &c, 1) == 1, "wait for root");
	return 0;
}

/* Return: the "active_objs" of slab cache @name, or -errno. */
static long slab_objects(const char *name)
{
	static char buf[1 << 16];
	size_t len = strlen(name);
	char *line;

	if (kd_t_read_file("/proc/slabinfo", buf, sizeof(buf)) < 0)
		return -ENOENT;
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		if (!strncmp(line, name, len) && line[len] == ' ')
			return strtol(line + len, NULL, 10);
	return -ENOENT;
}

/* Return: MemAvailable of /proc/meminfo in bytes, or -errno. */
static long long mem_available(void)
{
	char buf[4096], *p;
	int ret = kd_t_read_file("/proc/meminfo", buf, sizeof(buf));

	if (ret < 0)
		return ret;
	p = strstr(buf, "MemAvailable:");
	return p ? strtoll(p + 13, NULL, 10) << 10 : -EPROTO;
}

/*
 * However hard an unprivileged user tries, the objects and memory it holds
 * stay within (files it may open) x (the per-file quotas): the module's
 * counters, the kdispose_object slab cache and MemAvailable all show it.
 */
TEST_F_TIMEOUT(security, nobody_memory_bounded_by_quotas, 120)
{
	struct kd_t_counters full, after;
	long long avail0, avail1, bound;
	long slab0, slab1;
	int p[4];
	pid_t pid;
	char c;

	ASSERT_EQ(0, kd_t_param_set_u64(&self->max_objects, "max_objects",
					Q_OBJECTS));
	ASSERT_EQ(0, kd_t_param_set_u64(&self->max_bytes, "max_bytes",
					Q_BYTES));
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, pipe(p + 2));
	slab0 = slab_objects("kdispose_object");
	avail0 = mem_available();
	ASSERT_LT(0, avail0);

	self->sh->why[0] = '\0';
	pid = as_nobody(self->sh, user_fill_all, (int[]){ p[0], p[1], p[2] });
	ASSERT_LT(0, pid);
	/* Only the child holds these ends: its exit ends root's read. */
	close(p[1]);
	close(p[2]);
	ASSERT_EQ(1, read(p[0], &c, 1)) TH_LOG("the user failed: %s",
					       self->sh->why);
	KD_T_ASSERT_COUNTERS(full);
	slab1 = slab_objects("kdispose_object");
	avail1 = mem_available();
	ASSERT_EQ(1, write(p[3], "g", 1));
	ASSERT_TRUE(child_wait(pid)) TH_LOG("as uid %d: %s", NOBODY,
					    self->sh->why);

	/*
	 * Per file: the quota's bytes, and up to 512 bytes of bookkeeping per
	 * object (object, slot, KASAN redzones and kmemleak's record on a
	 * debug kernel) plus the table itself.
	 */
	bound = (long long)self->sh->nfiles *
		(Q_BYTES + Q_OBJECTS * 512LL + 64 * 1024);
	ksft_print_msg("%d files of %d objects / %d bytes: live +%llu, slab objects %+ld, MemAvailable -%lld KiB (bound %lld KiB + 8 MiB)\n",
		       self->sh->nfiles, Q_OBJECTS, Q_BYTES,
		       full.row[KD_T_ALL].live - self->start.row[KD_T_ALL].live,
		       slab1 - slab0, (avail0 - avail1) >> 10, bound >> 10);
	fflush(stdout);
	ASSERT_LT(0, self->sh->nfiles);
	EXPECT_GE(Q_NOFILE, self->sh->nfiles);
	EXPECT_EQ((__u64)self->sh->nfiles * Q_OBJECTS,
		  full.row[KD_T_ALL].live - self->start.row[KD_T_ALL].live);
	if (slab0 >= 0 && slab1 >= 0) {
		/* Per-CPU slab caches keep a few objects around. */
		EXPECT_GE((long)self->sh->nfiles * Q_OBJECTS + 1024,
			  slab1 - slab0);
	}
	EXPECT_GE(bound + (8 << 20), avail0 - avail1);

	/* All of it comes back when the user's process is gone. */
	KD_T_ASSERT_COUNTERS(after);
	EXPECT_EQ(self->start.row[KD_T_ALL].live, after.row[KD_T_ALL].live);
	close(p[0]);
	close(p[3]);
}

struct foreign {
	int root_fd;		/* root's file, closed by the child */
	__u64 handle;		/* root's object in it */
};

static int user_foreign_handles(struct shared *sh, void *arg)
{
	const struct foreign *f = arg;
	struct kdispose_query q;
	__u64 mine, seq, slot, v;
	int fd;

	CHILD_CHECK(sh, close(f->root_fd) == 0, "close root's fd");
	fd = kd_t_open();
	CHILD_CHECK(sh, fd >= 0, "open: %s", strerror(-fd));
	/* Nothing in this file yet: no handle means anything. */
	for (seq = 0; seq < 8; seq++)
		for (slot = 0; slot < 8; slot++)
			CHILD_CHECK(sh, kd_t_query(fd, kd_t_handle_make(seq,
							slot), &q) == -ENOENT,
				    "forged handle %llu/%llu", seq, slot);
	CHILD_CHECK(sh, kd_t_query(fd, f->handle, &q) == -ENOENT, "query");
	CHILD_CHECK(sh, kd_t_token_get(fd, f->handle, &v) == -ENOENT, "op");
	CHILD_CHECK(sh, kd_t_dispose(fd, f->handle) == -ENOENT, "dispose");
	/* The same number, issued by this file, names this file's object. */
	CHILD_CHECK(sh, !kd_t_token(fd, 0, 2, "mine", &mine), "create");
	CHILD_CHECK(sh, mine == f->handle, "first handles differ: %#llx %#llx",
		    mine, f->handle);
	CHILD_CHECK(sh, !kd_t_token_get(fd, mine, &v) && v == 2, "own token");
	CHILD_CHECK(sh, kd_t_dispose(fd, mine) == 1, "own dispose");
	return close(fd);
}

/*
 * A handle is a number in one file's table: in another user's file, the
 * value of root's handle is unknown (ENOENT), or names that file's own
 * object; root's object is untouched either way.
 */
TEST_F(security, handles_of_another_file_mean_nothing)
{
	struct foreign f;
	__u64 v;

	self->fd = kd_t_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, kd_t_token(self->fd, 0, 1, "root", &f.handle));
	f.root_fd = self->fd;
	RUN_AS_NOBODY(user_foreign_handles, &f);
	ASSERT_EQ(0, kd_t_token_get(self->fd, f.handle, &v));
	EXPECT_EQ(1, v);
	EXPECT_EQ(1, kd_t_dispose(self->fd, f.handle));
}

struct transfer {
	int root_fd;		/* root's file, closed by the child */
	int sock;		/* the child's end of the socket pair */
	__u64 handle;
};

static int user_receives_file(struct shared *sh, void *arg)
{
	const struct transfer *t = arg;
	__u64 v;
	int fd;

	/* Root's file reaches this process only through the socket. */
	CHILD_CHECK(sh, close(t->root_fd) == 0, "close root's fd");
	fd = kd_t_recv_fd(t->sock, NULL);
	CHILD_CHECK(sh, fd >= 0, "recvmsg: %s", strerror(-fd));
	CHILD_CHECK(sh, !kd_t_token_get(fd, t->handle, &v) && v == 77,
		    "root's token through the received file");
	CHILD_CHECK(sh, kd_t_dispose(fd, t->handle) == 1, "dispose");
	return close(fd);
}

/*
 * The fd is the capability: root's file sent to an unprivileged process
 * by SCM_RIGHTS is that process' to use, objects included (ownership
 * moves with the file, not with the uid).
 */
TEST_F(security, scm_rights_hands_over_the_table)
{
	struct transfer t;
	int sv[2];
	pid_t pid;

	self->fd = kd_t_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, kd_t_token(self->fd, 0, 77, "root", &t.handle));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	t.sock = sv[1];
	t.root_fd = self->fd;

	self->sh->why[0] = '\0';
	pid = as_nobody(self->sh, user_receives_file, &t);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, kd_t_send_fd(sv[0], self->fd, 'f'));
	ASSERT_TRUE(child_wait(pid)) TH_LOG("as uid %d: %s", NOBODY,
					    self->sh->why);
	EXPECT_EQ(-EIDRM, kd_t_query(self->fd, t.handle,
				     &(struct kdispose_query){ 0 }));
	close(sv[0]);
	close(sv[1]);
}

#define SECRET	"/tmp/kdispose-secret"

static int user_pins_own_fds(struct shared *sh, void *arg)
{
	int ro = *(int *)arg, fd, nfd;
	char buf[8] = "";
	__u64 h;

	CHILD_CHECK(sh, open(SECRET, O_RDONLY) < 0 && errno == EACCES,
		    "nobody opened the 0600 file");
	fd = kd_t_open();
	CHILD_CHECK(sh, fd >= 0, "open: %s", strerror(-fd));
	CHILD_CHECK(sh, kd_t_create(fd, KDISPOSE_TYPE_FILE, 0, 1000, 0, "p",
				    &h) == -EBADF, "pin of an fd not open");
	/* An fd it holds (opened while root) pins, with its own access. */
	CHILD_CHECK(sh, !kd_t_create(fd, KDISPOSE_TYPE_FILE, 0, ro, 0, "p",
				     &h), "pin of an fd it holds");
	close(ro);
	nfd = kd_t_op(fd, h, KDISPOSE_OP_FILE_INSTALL, NULL);
	CHILD_CHECK(sh, nfd >= 0, "install: %s", strerror(-nfd));
	CHILD_CHECK(sh, pread(nfd, buf, 6, 0) == 6 && !strcmp(buf, "secret"),
		    "read through the installed fd");
	CHILD_CHECK(sh, write(nfd, "x", 1) < 0 && errno == EBADF,
		    "a read-only file became writable");
	close(nfd);
	CHILD_CHECK(sh, kd_t_dispose(fd, h) == 1, "dispose");
	return close(fd);
}

/*
 * Pinning takes only an fd the caller holds; installing gives back the
 * same open file, with the same access mode: no file becomes reachable or
 * writable that was not.
 */
TEST_F(security, pin_grants_nothing_new)
{
	int secret, ro;
	pid_t pid;

	secret = open(SECRET, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, secret);
	ASSERT_EQ(6, write(secret, "secret", 6));
	close(secret);
	ro = open(SECRET, O_RDONLY);
	ASSERT_LE(0, ro);

	self->sh->why[0] = '\0';
	pid = as_nobody(self->sh, user_pins_own_fds, &ro);
	EXPECT_TRUE(child_wait(pid)) TH_LOG("as uid %d: %s", NOBODY,
					    self->sh->why);
	close(ro);
	unlink(SECRET);
}

static int user_params(struct shared *sh, void *arg)
{
	static const char *const names[] = {
		"max_objects", "max_bytes", "max_handle_seq", "leak_report",
		"max_user_objects", "max_user_bytes",
	};
	char value[64];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		CHILD_CHECK(sh, kd_t_param_read(names[i], value,
						sizeof(value)) == 0,
			    "%s is not readable", names[i]);
		CHILD_CHECK(sh, kd_t_param_write(names[i], "1") == -EACCES,
			    "%s is writable", names[i]);
	}
	return 0;
}

/* The module parameters are world-readable and root-only to change. */
TEST_F(security, params_root_only)
{
	char before[64], after[64];

	ASSERT_EQ(0, kd_t_param_read("max_objects", before, sizeof(before)));
	RUN_AS_NOBODY(user_params, NULL);
	ASSERT_EQ(0, kd_t_param_read("max_objects", after, sizeof(after)));
	EXPECT_STREQ(before, after);
}

/*
 * A file that pins (KDISPOSE_TYPE_FILE) a unix socket and is itself in
 * flight in that socket: once the user's fds are closed, only the cycle
 * holds the two files. The unix garbage collector only follows unix
 * sockets, so the module must refuse such a pin (ELOOP); otherwise the
 * file, its objects and the module stay pinned after the user is gone,
 * with no fd left to count against any limit.
 */
static int user_unix_cycle(struct shared *sh, void *arg)
{
	int fd = kd_t_open(), sv[2], ret;
	__u64 h, buf;

	CHILD_CHECK(sh, fd >= 0, "open: %s", strerror(-fd));
	CHILD_CHECK(sh, !socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv),
		    "socketpair");
	CHILD_CHECK(sh, !kd_t_create(fd, KDISPOSE_TYPE_MEMORY, 0, CYCLE_BYTES,
				     0, "cycle", &buf), "memory");
	ret = kd_t_create(fd, KDISPOSE_TYPE_FILE, 0, sv[0], 0, "cycle", &h);
	/* Pinned: close the cycle, so that the parent sees what it costs. */
	if (ret == 0)
		CHILD_CHECK(sh, kd_t_send_fd(sv[1], fd, 'f') == 0, "send the file");
	CHILD_CHECK(sh, ret == -ELOOP, "pin of a unix socket: %s",
		    ret ? strerror(-ret) : "pinned");
	close(sv[0]);
	close(sv[1]);
	return close(fd);
}

/* The same through io_uring: the ring holds the file as a fixed file. */
static int user_uring_cycle(struct shared *sh, void *arg)
{
	int fd = kd_t_open(), ret;
	struct io_uring ring;
	__u64 h, buf;

	CHILD_CHECK(sh, fd >= 0, "open: %s", strerror(-fd));
	ret = io_uring_queue_init(4, &ring, 0);
	CHILD_CHECK(sh, ret == 0, "io_uring_queue_init: %s", strerror(-ret));
	CHILD_CHECK(sh, !kd_t_create(fd, KDISPOSE_TYPE_MEMORY, 0, CYCLE_BYTES,
				     0, "cycle", &buf), "memory");
	ret = kd_t_create(fd, KDISPOSE_TYPE_FILE, 0, ring.ring_fd, 0, "cycle",
			  &h);
	/* Pinned: close the cycle, so that the parent sees what it costs. */
	if (ret == 0)
		CHILD_CHECK(sh, io_uring_register_files(&ring, &fd, 1) == 0,
			    "register the file");
	CHILD_CHECK(sh, ret == -ELOOP, "pin of an io_uring: %s",
		    ret ? strerror(-ret) : "pinned");
	io_uring_queue_exit(&ring);
	return close(fd);
}

/* Wait until nothing the test created is live any more. */
static int wait_released(const struct kd_t_counters *start,
			 struct kd_t_counters *now)
{
	int sv[2];

	/* A socket closed with an fd in flight runs the unix collector. */
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == 0) {
		kd_t_send_fd(sv[1], sv[0], 'f');
		close(sv[0]);
		close(sv[1]);
	}
	return kd_t_wait_settled(start, now, CYCLE_WAIT_MS);
}

TEST_F(security, unix_socket_cycle_is_released)
{
	struct kd_t_counters after;

	RUN_AS_NOBODY(user_unix_cycle, NULL);
	EXPECT_EQ(0, wait_released(&self->start, &after))
		TH_LOG("%llu objects outlive their user in a unix socket cycle",
		       after.row[KD_T_ALL].live -
		       self->start.row[KD_T_ALL].live);
}

TEST_F(security, io_uring_cycle_is_released)
{
	struct kd_t_counters after;

	RUN_AS_NOBODY(user_uring_cycle, NULL);
	EXPECT_EQ(0, wait_released(&self->start, &after))
		TH_LOG("%llu objects outlive their user in an io_uring cycle",
		       after.row[KD_T_ALL].live -
		       self->start.row[KD_T_ALL].live);
}

static int user_control_label(struct shared *sh, void *arg)
{
	int fd = kd_t_open();
	__u64 h;

	CHILD_CHECK(sh, fd >= 0, "open: %s", strerror(-fd));
	/* Left for the finalizer, which reports it. */
	CHILD_CHECK(sh, !kd_t_token(fd, 0, 0, "kdlbl\nforged", &h),
		    "create");
	return close(fd);
}

/*
 * Labels are the user's bytes. With leak_report on, the finalizer logs
 * them: a newline in a label must not start a line of its own in the
 * kernel log (a forged "BUG:" line, say). /dev/kmsg shows a raw newline
 * inside a record as "\x0a".
 */
TEST_F(security, label_cannot_forge_log_lines)
{
	int kmsg[2];

	ASSERT_EQ(0, kd_t_param_set(&self->leak_report, "leak_report", "Y"));
	/* Each count reads the records once: one reader per count. */
	kmsg[0] = kd_t_kmsg_open();
	kmsg[1] = kd_t_kmsg_open();
	ASSERT_LE(0, kmsg[0]);
	ASSERT_LE(0, kmsg[1]);
	RUN_AS_NOBODY(user_control_label, NULL);
	EXPECT_EQ(1, kd_t_kmsg_count(kmsg[0], "kdlbl", NULL))
		TH_LOG("the leak report is missing");
	EXPECT_EQ(0, kd_t_kmsg_count(kmsg[1], "kdlbl\\x0a", NULL))
		TH_LOG("the label's newline reached the log as is");
	close(kmsg[0]);
	close(kmsg[1]);
}

/*
 * Per-user quotas (max_user_objects, max_user_bytes).
 *
 * A file outlives its fds while a mapping, a fork or a message in flight
 * holds it, so RLIMIT_NOFILE does not bound how many files, and so how
 * many objects and bytes, one user keeps. The module charges every file
 * to the real uid that opened it: the slots of its handle table (tables
 * start with U_TABLE_MIN slots and double, and are given back when the
 * file is released) and the bytes of its memory buffers (given back when a
 * buffer is freed, at its last munmap). The tests below try to get past
 * those sums with files kept in each of these ways, as nobody with
 * RLIMIT_NOFILE Q_NOFILE, and follow every create with a model of the
 * user's charges: each create must succeed or fail (EDQUOT at the user's
 * bound, EMFILE or EDQUOT at the file's) exactly as the model says. Root
 * checks meanwhile that the module's live objects and buffers never go
 * past the bound, and that everything is released afterwards.
 *
 * Two variants: "objects" fills files with tokens (the slot bound bites),
 * "bytes" with memory buffers (the byte bound bites).
 */

/* The per-user quotas of these tests. */
#define U_OBJECTS	1024
#define U_BYTES		(1 << 20)

/* The per-file quotas, below them: a file takes a table of 512 slots. */
#define F_OBJECTS	300
#define F_BYTES		(256 << 10)

/* Slots of a new table; it doubles when full. */
#define U_TABLE_MIN	64

/* Buffers of the "bytes" variant; the "objects" variant maps a page. */
#define U_CHUNK		(64 << 10)
#define U_PAGE		4096

/* A second unprivileged user. */
#define OTHER_UID	65533

/* How long the release of everything the user held may take. */
#define SETTLE_MS	10000

/* What keeps a file after its fd is closed. */
enum keep {
	KEEP_MAP,	/* a one-page MAP_SHARED mapping of one of its buffers */
	KEEP_FORK,	/* a child holding the inherited fd */
	KEEP_SCM,	/* the fd in flight in a unix socket nobody reads */
	KEEP_MIX,	/* each of these in turn */
};

static const char *const keep_names[] = {
	[KEEP_MAP] = "mappings", [KEEP_FORK] = "forks",
	[KEEP_SCM] = "SCM_RIGHTS", [KEEP_MIX] = "mappings, forks and SCM_RIGHTS",
};

/*
 * The model of one user's charges, and what it holds: the objects and
 * bytes of files that are still alive, however they are kept.
 */
struct quota_user {
	bool tokens;			/* fill with tokens, else with buffers */
	unsigned long slots;		/* the tables of its live files */
	unsigned long long bytes;	/* their buffers */
	unsigned long objects;		/* their objects */
	unsigned int files;		/* files kept */
	unsigned int creates;		/* creates tried */
	unsigned int edquot;		/* ... that failed with EDQUOT */
	unsigned int at_bound;		/* ... at the user's bound, as due */
	unsigned int mismatches;	/* ... that the model did not expect */
};

/* One file of the model. */
struct quota_file {
	int fd;
	unsigned int n;			/* its number, for messages */
	unsigned int live;		/* its objects */
	unsigned int table;		/* its table's slots */
	unsigned long long bytes;	/* its buffers' bytes */
	__u64 first;			/* its first buffer, or 0 */
	__u64 last;			/* its last object */
};

/* What the user's child reports to root about its attack. */
struct quota_report {
	struct quota_user user;
	unsigned int tried;		/* files opened */
	char mismatch[160];		/* the first create the model did not expect */
};

static const char *err_name(int err)
{
	switch (err) {
	case 0: return "success";
	case -EDQUOT: return "EDQUOT";
	case -EMFILE: return "EMFILE";
	default: return strerror(-err);
	}
}

/*
 * One create in @f as the model says the module works: a slot (the file's
 * max_objects: EMFILE; a full table doubles, charging the new slots to the
 * user: EDQUOT over max_user_objects), then for a buffer its bytes
 * (EDQUOT over max_user_bytes or the file's max_bytes). The "objects"
 * variant makes a one-page buffer first, that a mapping can keep, then
 * tokens. Afterwards the model follows what the module did.
 * Return: the create's result.
 */
static int quota_create(struct quota_user *u, struct quota_file *f,
			char *mismatch, size_t len)
{
	bool memory = !u->tokens || !f->first;
	__u64 size = u->tokens ? U_PAGE : U_CHUNK, h = 0;
	bool slot_ok = true, user = false, file = false;
	unsigned int grow = 0;
	int want = 0, ret;

	if (f->live >= F_OBJECTS) {
		want = -EMFILE;
		slot_ok = false;
	} else {
		if (f->live == f->table)
			grow = f->table ? f->table : U_TABLE_MIN;
		if (grow && u->slots + grow > U_OBJECTS) {
			slot_ok = false;
			user = true;
		} else if (memory) {
			user = u->bytes + size > U_BYTES;
			file = f->bytes + size > F_BYTES;
		}
		if (user || file)
			want = -EDQUOT;
	}
	if (memory)
		ret = kd_t_create(f->fd, KDISPOSE_TYPE_MEMORY, 0, size, 0, "q",
				  &h);
	else
		ret = kd_t_token(f->fd, 0, 0, "q", &h);
	u->creates++;
	u->edquot += ret == -EDQUOT;
	/* Refused because of the user alone: its bound is reached. */
	u->at_bound += user && !file && ret == -EDQUOT;
	if (ret != want && !u->mismatches++)
		snprintf(mismatch, len,
			 "file %u, object %u (%s): %s where %s was due, the user holding %lu slots, %llu bytes",
			 f->n, f->live + 1, memory ? "buffer" : "token",
			 err_name(ret), err_name(want), u->slots, u->bytes);
	/* A failure after the slot was reserved leaves the table grown. */
	if (ret == 0 || (ret == -EDQUOT && slot_ok)) {
		f->table += grow;
		u->slots += grow;
	}
	if (ret)
		return ret;
	f->live++;
	f->last = h;
	u->objects++;
	if (memory) {
		f->bytes += size;
		u->bytes += size;
		if (!f->first)
			f->first = h;
	}
	return 0;
}

/* Whether the model says the user's next create in a new file fails. */
static bool quota_user_full(const struct quota_user *u)
{
	if (u->tokens)
		return u->slots + U_TABLE_MIN > U_OBJECTS;
	return u->bytes + U_CHUNK > U_BYTES;
}

/*
 * Fill @f until two creates in a row fail. Return: 0, or -1 with @sh->why
 * set for an error no quota explains.
 */
static int quota_fill(struct shared *sh, struct quota_user *u,
		      struct quota_file *f, char *mismatch, size_t len)
{
	unsigned int failed = 0, i;
	int ret;

	for (i = 0; failed < 2 && i < F_OBJECTS + 4; i++) {
		ret = quota_create(u, f, mismatch, len);
		CHILD_CHECK(sh, ret == 0 || ret == -EDQUOT || ret == -EMFILE,
			    "create in file %u: %s", f->n, strerror(-ret));
		failed = ret ? failed + 1 : 0;
	}
	return 0;
}

/* The model of a file released: its charges go back to the user. */
static void quota_release(struct quota_user *u, const struct quota_file *f)
{
	u->slots -= f->table;
	u->bytes -= f->bytes;
	u->objects -= f->live;
}

/* Return: the mmap offset of buffer @h of @fd, or -errno. */
static long long buffer_offset(int fd, __u64 h)
{
	struct kdispose_query q;
	int ret = kd_t_query(fd, h, &q);

	return ret ? ret : (long long)q.info[1];
}

/* Return: a one-page shared mapping of buffer @h of @fd, or MAP_FAILED. */
static void *map_page(int fd, __u64 h)
{
	long long off = buffer_offset(fd, h);

	if (off < 0)
		return MAP_FAILED;
	return mmap(NULL, U_PAGE, PROT_READ, MAP_SHARED, fd, off);
}

/*
 * A child of the attacker that keeps @keep_fd, and nothing else of it,
 * until @go_fd reads EOF.
 */
static void holder(int keep_fd, int go_fd)
{
	char c;
	int fd;

	for (fd = 0; fd < 1024; fd++)
		if (fd != keep_fd && fd != go_fd)
			close(fd);
	while (read(go_fd, &c, 1) > 0)
		;
	_exit(0);
}

struct attack {
	enum keep keep;
	bool tokens;
	unsigned int files;		/* files to try */
	int held_fd;			/* write end: tell root all is held */
	int go_fd;			/* read end: EOF when root has measured */
	int root_fds[2];		/* root's ends of the pipes, to close */
	struct quota_report *report;	/* in shared memory */
};

/*
 * The attacker, as nobody with RLIMIT_NOFILE Q_NOFILE: open a file, fill
 * it, keep it, close its fd, @a->files times over; tell root, and hold it
 * all until root has measured. Files that cannot be kept (no buffer to map,
 * a socket that takes no more fds) are released at their close, as the
 * model says.
 */
static int user_attack(struct shared *sh, void *arg)
{
	const struct attack *a = arg;
	struct rlimit rl = { Q_NOFILE, Q_NOFILE };
	struct quota_report *r = a->report;
	struct quota_user *u = &r->user;
	int sv[2], ret;
	unsigned int i;
	enum keep keep;
	bool kept;
	pid_t pid;
	char c;

	close(a->root_fds[0]);
	close(a->root_fds[1]);
	memset(r, 0, sizeof(*r));
	u->tokens = a->tokens;
	CHILD_CHECK(sh, setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit");
	CHILD_CHECK(sh, !socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
		    "socketpair");
	for (i = 0; i < a->files; i++) {
		struct quota_file f = { .fd = kd_t_open(), .n = i + 1 };

		CHILD_CHECK(sh, f.fd >= 0, "open %u: %s", i, strerror(-f.fd));
		r->tried++;
		if (quota_fill(sh, u, &f, r->mismatch, sizeof(r->mismatch)))
			return -1;
		keep = a->keep == KEEP_MIX ? (enum keep)(i % 3) : a->keep;
		kept = false;
		switch (keep) {
		case KEEP_MAP:
			kept = f.first && map_page(f.fd, f.first) != MAP_FAILED;
			CHILD_CHECK(sh, kept || !f.first, "mmap: %s",
				    strerror(errno));
			break;
		case KEEP_FORK:
			pid = fork();
			if (pid == 0)
				holder(f.fd, a->go_fd);
			CHILD_CHECK(sh, pid > 0, "fork: %s", strerror(errno));
			kept = true;
			break;
		case KEEP_SCM:
			ret = kd_t_send_fd(sv[0], f.fd, 'f');
			/* The user's fds in flight are bounded too. */
			CHILD_CHECK(sh, !ret || ret == -ETOOMANYREFS ||
				    ret == -EAGAIN, "sendmsg: %s",
				    strerror(-ret));
			kept = !ret;
			break;
		default:
			break;
		}
		close(f.fd);
		if (kept)
			u->files++;
		else
			quota_release(u, &f);
	}
	CHILD_CHECK(sh, write(a->held_fd, "h", 1) == 1, "tell root");
	while (read(a->go_fd, &c, 1) > 0)
		;
	while (wait(NULL) > 0)
		;
	close(sv[0]);
	close(sv[1]);
	CHILD_CHECK(sh, !u->mismatches, "%u creates not as the model says, first: %s",
		    u->mismatches, r->mismatch);
	return 0;
}

/* The work of fill_to_bound(), which closes the files on failure. */
static int fill_files(struct shared *sh, bool tokens, int *fds, int max)
{
	struct quota_user u = { .tokens = tokens };
	char mismatch[160] = "";
	int n;

	for (n = 0; n < max; n++) {
		struct quota_file f = { .fd = kd_t_open(), .n = n + 1 };

		CHILD_CHECK(sh, f.fd >= 0, "open: %s", strerror(-f.fd));
		fds[n] = f.fd;
		if (quota_fill(sh, &u, &f, mismatch, sizeof(mismatch)))
			return -1;
		CHILD_CHECK(sh, !u.mismatches, "%s", mismatch);
		if (!f.live) {
			close(fds[n]);
			fds[n] = -1;
			break;
		}
	}
	CHILD_CHECK(sh, n < max, "no EDQUOT after %d files", n);
	CHILD_CHECK(sh, u.objects <= U_OBJECTS && u.bytes <= U_BYTES,
		    "%lu objects, %llu bytes", u.objects, u.bytes);
	return n;
}

/*
 * fill_to_bound() - fill files kept open until a new file's first create
 * fails with EDQUOT, from a user that holds nothing, following the model.
 * @fds receives the files (at most @max). Return: the number of files, or
 * -1 with @sh->why set and the files closed.
 */
static int fill_to_bound(struct shared *sh, bool tokens, int *fds, int max)
{
	int n, i;

	for (i = 0; i < max; i++)
		fds[i] = -1;
	n = fill_files(sh, tokens, fds, max);
	if (n < 0) {
		for (i = 0; i < max; i++)
			if (fds[i] >= 0)
				close(fds[i]);
	}
	return n;
}

/* Most files fill_to_bound() may need, plus one. */
#define BOUND_FILES	(U_BYTES / F_BYTES + 2)

struct fill_args {
	bool tokens;
	int ready_fd;		/* write end: tell root, or -1 */
	int go_fd;		/* read end: EOF when root is done, or -1 */
	int root_fds[2];	/* root's ends of those pipes, to close */
};

/*
 * A user that fills its whole quota, from nothing: the bound is its own.
 * With @ready_fd it then tells root and keeps its files until @go_fd reads
 * EOF.
 */
static int user_fill_to_bound(struct shared *sh, void *arg)
{
	const struct fill_args *a = arg;
	int fds[BOUND_FILES], n;
	char c;

	if (a->ready_fd >= 0) {
		close(a->root_fds[0]);
		close(a->root_fds[1]);
	}
	n = fill_to_bound(sh, a->tokens, fds, BOUND_FILES);
	if (n < 0)
		return -1;
	if (a->ready_fd >= 0) {
		CHILD_CHECK(sh, write(a->ready_fd, "r", 1) == 1, "tell root");
		while (read(a->go_fd, &c, 1) > 0)
			;
	}
	while (n--)
		close(fds[n]);
	return 0;
}

/* A token, or a buffer of U_CHUNK bytes. Return: 0 or -errno. */
static int create_one(int fd, bool tokens)
{
	__u64 h;

	if (tokens)
		return kd_t_token(fd, 0, 0, "q", &h);
	return kd_t_create(fd, KDISPOSE_TYPE_MEMORY, 0, U_CHUNK, 0, "q", &h);
}

/* A user at its bound: the first create of a new file fails. */
static int user_is_at_bound(struct shared *sh, void *arg)
{
	const bool *tokens = arg;
	int fd = kd_t_open(), ret;

	CHILD_CHECK(sh, fd >= 0, "open: %s", strerror(-fd));
	ret = create_one(fd, *tokens);
	close(fd);
	CHILD_CHECK(sh, ret == -EDQUOT, "a create of uid %d at its bound: %s",
		    getuid(), err_name(ret));
	return 0;
}

FIXTURE(quota)
{
	struct shared *sh;		/* shared with the children */
	struct quota_report *report;	/* the attacker's, shared too */
	bool params;			/* the quotas could be set */
	struct kd_t_param param[4];	/* set by set_quotas(), restored by teardown */
	struct kd_t_counters start;	/* module counters after setup */
};

FIXTURE_VARIANT(quota)
{
	bool tokens;	/* fill files with tokens, else with buffers */
};

FIXTURE_VARIANT_ADD(quota, objects)
{
	.tokens = true,
};

FIXTURE_VARIANT_ADD(quota, bytes)
{
	.tokens = false,
};

FIXTURE_SETUP(quota)
{
	self->sh = mmap(NULL, sizeof(*self->sh), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->sh);
	self->report = mmap(NULL, sizeof(*self->report),
			    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			    -1, 0);
	ASSERT_NE(MAP_FAILED, self->report);
	KD_T_ASSERT_COUNTERS(self->start);
}

FIXTURE_TEARDOWN(quota)
{
	struct kd_t_counters now;
	unsigned int i;

	EXPECT_EQ(0, kd_t_wait_settled(&self->start, &now, SETTLE_MS));
	KD_T_EXPECT_SETTLED(self->start, KD_T_ALL);
	for (i = 0; i < ARRAY_SIZE(self->param); i++)
		EXPECT_EQ(0, kd_t_param_restore(&self->param[i]));
}

/*
 * Set the quotas, first thing in each test (teardown restores them). On a
 * module without per-user quotas the parameters do not exist: the test
 * fails then but goes on, to show how far past the bound the user gets
 * (a failure in the fixture's setup would end the test there).
 */
static void set_quotas(struct __test_metadata *_metadata,
		       FIXTURE_DATA(quota) *self)
{
	static const struct {
		const char *name;
		__u64 value;
	} quotas[] = {
		{ "max_objects", F_OBJECTS }, { "max_bytes", F_BYTES },
		{ "max_user_objects", U_OBJECTS }, { "max_user_bytes", U_BYTES },
	};
	unsigned int i;
	int ret;

	self->params = true;
	for (i = 0; i < ARRAY_SIZE(quotas); i++) {
		ret = kd_t_param_set_u64(&self->param[i], quotas[i].name,
					 quotas[i].value);
		EXPECT_EQ(0, ret) TH_LOG("parameter %s: %s", quotas[i].name,
					 strerror(-ret));
		self->params &= !ret;
	}
}

/* Files each attack opens, one after the other. */
static const unsigned int attack_files[] = {
	[KEEP_MAP] = 200, [KEEP_FORK] = 48, [KEEP_SCM] = 48, [KEEP_MIX] = 96,
};

/*
 * run_attack() - the attacker keeps files by @keep; while it works, and
 * once it holds everything, root checks the module's counters against the
 * bound; then everything must be released, and the user's whole quota be
 * free again.
 */
static void run_attack(struct __test_metadata *_metadata,
		       FIXTURE_DATA(quota) *self, bool tokens, enum keep keep)
{
	__u64 size = tokens ? U_PAGE : U_CHUNK;
	const struct quota_user *u = &self->report->user;
	struct attack a = {
		.keep = keep, .tokens = tokens, .files = attack_files[keep],
		.report = self->report,
	};
	const struct kd_t_count *s = &self->start.row[KD_T_ALL];
	const struct kd_t_count *sm = &self->start.row[KDISPOSE_TYPE_MEMORY];
	__u64 max_live = 0, max_buffers = 0;
	struct kd_t_counters now;
	struct fill_args fill = { .tokens = tokens, .ready_fd = -1,
				  .go_fd = -1 };
	struct pollfd pfd;
	long slab0, slab1;
	int held[2], go[2], ret;
	bool ok;
	pid_t pid;
	char c;

	set_quotas(_metadata, self);
	ASSERT_EQ(0, pipe2(held, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	a.held_fd = held[1];
	a.go_fd = go[0];
	a.root_fds[0] = held[0];
	a.root_fds[1] = go[1];
	slab0 = slab_objects("kdispose_object");
	self->sh->why[0] = '\0';
	pid = as_nobody(self->sh, user_attack, &a);
	ASSERT_LT(0, pid);
	close(held[1]);
	close(go[0]);

	/* Sample the counters while the user works. */
	pfd = (struct pollfd){ .fd = held[0], .events = POLLIN };
	do {
		ret = poll(&pfd, 1, 10);
		ASSERT_EQ(0, kd_t_counters_read(&now));
		if (now.row[KD_T_ALL].live - s->live > max_live)
			max_live = now.row[KD_T_ALL].live - s->live;
		if (now.row[KDISPOSE_TYPE_MEMORY].live - sm->live > max_buffers)
			max_buffers = now.row[KDISPOSE_TYPE_MEMORY].live -
				      sm->live;
	} while (ret == 0);
	ret = read(held[0], &c, 1);
	slab1 = slab_objects("kdispose_object");
	ksft_print_msg("%s: %u files, %u kept by %s: %lu objects, %llu bytes, %lu slots; %u creates, %u EDQUOT, %u at the bound; module: max %llu live, %llu buffers, slab %+ld\n",
		       tokens ? "tokens" : "buffers", self->report->tried,
		       u->files, keep_names[keep], u->objects, u->bytes,
		       u->slots, u->creates, u->edquot, u->at_bound, max_live,
		       max_buffers, slab1 - slab0);
	fflush(stdout);
	EXPECT_EQ(1, ret) TH_LOG("the user failed: %s", self->sh->why);
	EXPECT_GE(U_OBJECTS, max_live);
	EXPECT_GE(U_BYTES, max_buffers * size);
	EXPECT_GE((__u64)U_OBJECTS, u->objects);
	EXPECT_GE((__u64)U_BYTES, u->bytes);
	if (slab0 >= 0 && slab1 >= 0) {
		/* Per-CPU slab caches keep a few objects around. */
		EXPECT_GE(U_OBJECTS + 1024, slab1 - slab0);
	}
	/* The bound was reached, and held. */
	EXPECT_LT(0, u->at_bound);

	close(go[1]);
	ok = child_wait(pid);
	EXPECT_TRUE(ok) TH_LOG("as uid %d: %s", NOBODY, self->sh->why);
	close(held[0]);
	EXPECT_EQ(0, kd_t_wait_settled(&self->start, &now, SETTLE_MS))
		TH_LOG("%llu objects still live",
		       now.row[KD_T_ALL].live - s->live);

	/* All of the user's quota is free again. */
	if (self->params) {
		self->sh->why[0] = '\0';
		EXPECT_TRUE(child_wait(as_nobody(self->sh, user_fill_to_bound,
						 &fill)))
			TH_LOG("after the attack: %s", self->sh->why);
	}
}

/*
 * (a) Files kept by a one-page mapping each after their fd is closed:
 * hundreds of them, and RLIMIT_NOFILE never counts them.
 */
TEST_F_TIMEOUT(quota, mappings_do_not_escape, 120)
{
	run_attack(_metadata, self, variant->tokens, KEEP_MAP);
}

/* (b) Files kept by forked children holding the inherited fds. */
TEST_F_TIMEOUT(quota, forks_do_not_escape, 120)
{
	run_attack(_metadata, self, variant->tokens, KEEP_FORK);
}

/* (c) Files in flight over SCM_RIGHTS in a socket nobody reads. */
TEST_F_TIMEOUT(quota, scm_rights_does_not_escape, 120)
{
	run_attack(_metadata, self, variant->tokens, KEEP_SCM);
}

/* (d) All three, one file after the other. */
TEST_F_TIMEOUT(quota, mixed_keeping_does_not_escape, 120)
{
	run_attack(_metadata, self, variant->tokens, KEEP_MIX);
}

/*
 * The bound is per user: while nobody holds its whole quota, a second
 * unprivileged user fills a whole quota of its own, and a new process of
 * nobody's is still at nobody's bound.
 */
TEST_F(quota, another_user_has_its_own_quota)
{
	struct fill_args fill = { .tokens = variant->tokens };
	bool tokens = variant->tokens, ok;
	int ready[2], go[2];
	pid_t pid;
	char c;

	set_quotas(_metadata, self);
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	fill.ready_fd = ready[1];
	fill.go_fd = go[0];
	fill.root_fds[0] = ready[0];
	fill.root_fds[1] = go[1];
	self->sh->why[0] = '\0';
	pid = as_nobody(self->sh, user_fill_to_bound, &fill);
	ASSERT_LT(0, pid);
	close(ready[1]);
	close(go[0]);
	ok = read(ready[0], &c, 1) == 1;
	EXPECT_TRUE(ok) TH_LOG("as uid %d: %s", NOBODY, self->sh->why);

	if (ok) {
		struct fill_args other = { .tokens = tokens, .ready_fd = -1,
					   .go_fd = -1 };

		self->sh->why[0] = '\0';
		EXPECT_TRUE(child_wait(as_user(OTHER_UID, self->sh,
					       user_fill_to_bound, &other)))
			TH_LOG("as uid %d: %s", OTHER_UID, self->sh->why);
		self->sh->why[0] = '\0';
		EXPECT_TRUE(child_wait(as_nobody(self->sh, user_is_at_bound,
						 &tokens)))
			TH_LOG("as uid %d: %s", NOBODY, self->sh->why);
	}
	close(go[1]);
	EXPECT_TRUE(child_wait(pid)) TH_LOG("as uid %d: %s", NOBODY,
					    self->sh->why);
	close(ready[0]);
}

/*
 * Root's own files are charged to root: with root at its bound, nobody
 * still fills its whole quota, and root stays at its bound.
 */
TEST_F(quota, root_is_counted_apart)
{
	struct fill_args fill = { .tokens = variant->tokens, .ready_fd = -1,
				  .go_fd = -1 };
	bool tokens = variant->tokens;
	int fds[BOUND_FILES], n;

	set_quotas(_metadata, self);
	self->sh->why[0] = '\0';
	n = fill_to_bound(self->sh, tokens, fds, BOUND_FILES);
	EXPECT_LE(0, n) TH_LOG("as root: %s", self->sh->why);
	self->sh->why[0] = '\0';
	EXPECT_TRUE(child_wait(as_nobody(self->sh, user_fill_to_bound, &fill)))
		TH_LOG("as uid %d: %s", NOBODY, self->sh->why);
	self->sh->why[0] = '\0';
	EXPECT_EQ(0, user_is_at_bound(self->sh, &tokens))
		TH_LOG("as root: %s", self->sh->why);
	while (n-- > 0)
		close(fds[n]);
}

/*
 * A mapping keeps charging the user until munmap, after the dispose of its
 * buffer and the close of the file: its file's table ("objects"), the
 * buffer's bytes ("bytes").
 */
static int user_mapping_counts(struct shared *sh, void *arg)
{
	const bool *tokens = arg;
	struct quota_user u = { .tokens = *tokens };
	struct quota_file a = { .fd = kd_t_open(), .n = 1 };
	struct quota_file f = { .n = 2 };
	char mismatch[160] = "";
	__u64 handles[F_OBJECTS];
	unsigned int i, n = 0;
	int fds[BOUND_FILES], nfds = 0, ret;
	void *map;

	/* A full file; its first buffer mapped, then everything disposed. */
	CHILD_CHECK(sh, a.fd >= 0, "open: %s", strerror(-a.fd));
	while (n < F_OBJECTS &&
	       !quota_create(&u, &a, mismatch, sizeof(mismatch)))
		handles[n++] = a.last;
	CHILD_CHECK(sh, !u.mismatches, "%s", mismatch);
	map = map_page(a.fd, a.first);
	CHILD_CHECK(sh, map != MAP_FAILED, "mmap: %s", strerror(errno));
	for (i = 0; i < n; i++)
		CHILD_CHECK(sh, kd_t_dispose(a.fd, handles[i]) == 1,
			    "dispose %u", i);
	CHILD_CHECK(sh, close(a.fd) == 0, "close");
	/* The model: the table stays charged, and the mapped buffer. */
	u.objects = 0;
	u.bytes = *tokens ? U_PAGE : U_CHUNK;

	/* Fill to the bound with files kept open. */
	while (!quota_user_full(&u)) {
		f.fd = kd_t_open();
		CHILD_CHECK(sh, f.fd >= 0 && nfds < BOUND_FILES, "open");
		fds[nfds++] = f.fd;
		f = (struct quota_file){ .fd = f.fd, .n = f.n };
		if (quota_fill(sh, &u, &f, mismatch, sizeof(mismatch)))
			return -1;
		CHILD_CHECK(sh, !u.mismatches, "%s", mismatch);
		f.n++;
	}
	/* At the bound, a new file gets nothing; the munmap makes room. */
	f.fd = kd_t_open();
	CHILD_CHECK(sh, f.fd >= 0 && nfds < BOUND_FILES, "open");
	fds[nfds++] = f.fd;
	ret = create_one(f.fd, *tokens);
	CHILD_CHECK(sh, ret == -EDQUOT, "at the bound: %s", err_name(ret));
	CHILD_CHECK(sh, munmap(map, U_PAGE) == 0, "munmap");
	ret = create_one(f.fd, *tokens);
	CHILD_CHECK(sh, ret == 0, "after munmap: %s", err_name(ret));
	while (nfds--)
		close(fds[nfds]);
	return 0;
}

TEST_F(quota, mapping_counts_until_munmap)
{
	bool tokens = variant->tokens;

	set_quotas(_metadata, self);
	self->sh->why[0] = '\0';
	EXPECT_TRUE(child_wait(as_nobody(self->sh, user_mapping_counts,
					 &tokens)))
		TH_LOG("as uid %d: %s", NOBODY, self->sh->why);
}

TEST_HARNESS_MAIN
