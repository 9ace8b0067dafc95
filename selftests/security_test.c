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
 * it may open; cannot name another file's objects (a handle is only a
 * number in its own file's table), unless it is given the file itself
 * (SCM_RIGHTS: the fd is the capability); pins only files it already has
 * open, with the access they were opened with; cannot change the module
 * parameters; cannot keep objects alive after it is gone by making a
 * reference cycle (a file pinning a unix socket or io_uring that holds the
 * file itself); and cannot forge kernel log lines through labels.
 */
#include <grp.h>
#include <liburing.h>
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
#define CYCLE_WAIT_MS	5000

/* What the root process and the user's child share. */
struct shared {
	char why[256];		/* the child's first failure */
	int nfiles;		/* files the memory test's child filled */
};

/* In the child: give up root, for good. Return: 0 or -errno. */
static int become_nobody(void)
{
	char status[4096], *cap;
	int ret;

	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY))
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
 * as_nobody() - run @fn(@sh, @arg) in a child that dropped to nobody.
 * Return: the child's pid; the caller waits with child_wait().
 */
static pid_t as_nobody(struct shared *sh, child_fn fn, void *arg)
{
	pid_t pid = fork();
	int ret;

	if (pid)
		return pid;
	ret = become_nobody();
	if (ret) {
		snprintf(sh->why, sizeof(sh->why), "cannot drop to nobody: %s",
			 strerror(-ret));
		_exit(2);
	}
	_exit(fn(sh, arg) ? 1 : 0);
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

/* Receive one fd over unix socket @sock. Return: the fd or -errno. */
static int recv_fd(int sock)
{
	char data, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &data, 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -errno;
	cmsg = CMSG_FIRSTHDR(&msg);
	if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(fd));
	return fd;
}

/* Send @fd over unix socket @sock. Return: 0 or -errno. */
static int send_fd(int sock, int fd)
{
	char data = 'f', cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { &data, 1 };
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
	fd = recv_fd(t->sock);
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
	ASSERT_EQ(0, send_fd(sv[0], self->fd));
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
		CHILD_CHECK(sh, send_fd(sv[1], fd) == 0, "send the file");
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
		send_fd(sv[1], sv[0]);
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

TEST_HARNESS_MAIN
