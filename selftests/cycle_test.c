// SPDX-License-Identifier: GPL-2.0
/*
 * cycle_test: no reference cycle through a pinned file outlives its last
 * process. KDISPOSE_TYPE_FILE pins only the files of an allowlist, which
 * hold no reference back to an address space or to other files, and
 * refuses the rest with ELOOP (module/type_file.c explains the cycle and
 * why a list of what is allowed). Each test checks one behaviour:
 * - refused: one kind of file that holds, or may hold, an mm or files
 *   (unix sockets, io_uring, userfaultfd, vhost-net, /dev/kdispose files,
 *   a character device off the list) is refused with ELOOP;
 * - allowed: one kind of file of the allowlist (regular files, memfds,
 *   directories, pipes, eventfd, timerfd, signalfd, epoll, pidfd, TCP, UDP
 *   and netlink sockets, /dev/null, /dev/urandom) is pinned;
 * - exit: the cycle end to end. A child maps a memory buffer of its
 *   /dev/kdispose file with MAP_SHARED (the mapping holds the file), opens
 *   a file that holds its mm, tries to pin it, closes every fd and exits.
 *   Then nothing the child created is live, and the module's reference
 *   count is what it was (rmmod works, which the VM's final rmmod checks
 *   too). vhost-net after VHOST_SET_OWNER holds the mm's users, so the
 *   mapping never goes: a module that pins it keeps the buffer, the table,
 *   vhost's worker and itself forever. A userfaultfd holds only the
 *   mm_struct (mm_count), not the address space: it is refused for not
 *   being on the list, and its variant checks that path ends clean too.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <linux/io_uring.h>
#include <linux/netlink.h>
#include <linux/vhost.h>
#include <netinet/in.h>
#include <signal.h>

#include "kdispose_test.h"

#define VHOST_NET_DEV	"/dev/vhost-net"

/* The memory buffer the exiting child maps. */
#define CYCLE_BYTES	(256 << 10)

/*
 * How long a cycle's release may take once the child is reaped. It never
 * comes on a module that pins such a file, so this is the time to red.
 */
#define CYCLE_WAIT_MS	15000

/* A file to pin, and the fds besides it that the test must close. */
struct target {
	int fd;
	int extra;		/* -1: none */
};

/*
 * An opener fills @t from the test's /dev/kdispose fd @kd.
 * Return: 0; -ENOENT, -ENOSYS or -EAFNOSUPPORT when the kernel has no such
 * file (the test skips); another -errno when opening it failed.
 */
typedef int (*opener_fn)(int kd, struct target *t);

static int fd_or_errno(int fd)
{
	return fd < 0 ? -errno : fd;
}

static int set_fd(struct target *t, int fd)
{
	t->fd = fd_or_errno(fd);
	return t->fd < 0 ? t->fd : 0;
}

static int open_socket(struct target *t, int family, int type, int proto)
{
	return set_fd(t, socket(family, type | SOCK_CLOEXEC, proto));
}

static int open_unix_stream(int kd, struct target *t)
{
	return open_socket(t, AF_UNIX, SOCK_STREAM, 0);
}

static int open_unix_dgram(int kd, struct target *t)
{
	return open_socket(t, AF_UNIX, SOCK_DGRAM, 0);
}

static int open_unix_socketpair(int kd, struct target *t)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	t->fd = sv[0];
	t->extra = sv[1];
	return 0;
}

static int open_io_uring(int kd, struct target *t)
{
	struct io_uring_params p = { 0 };

	return set_fd(t, syscall(__NR_io_uring_setup, 4, &p));
}

static int open_userfaultfd(int kd, struct target *t)
{
	return set_fd(t, syscall(__NR_userfaultfd, O_CLOEXEC));
}

/* A vhost-net fd that owns the caller's mm (mm_users), as QEMU's does. */
static int open_vhost_net(int kd, struct target *t)
{
	int ret = set_fd(t, open(VHOST_NET_DEV, O_RDWR | O_CLOEXEC));

	if (ret)
		return ret;
	if (ioctl(t->fd, VHOST_SET_OWNER, NULL)) {
		ret = -errno;
		close(t->fd);
		t->fd = -1;
	}
	return ret;
}

/* A dup of the test's own file is that same open file. */
static int open_kdispose_same(int kd, struct target *t)
{
	return set_fd(t, fcntl(kd, F_DUPFD_CLOEXEC, 0));
}

static int open_kdispose_other(int kd, struct target *t)
{
	return set_fd(t, kd_t_open());
}

/* A MEM_MAJOR minor off the list: only null, zero, full, (u)random are. */
static int open_kmsg(int kd, struct target *t)
{
	return set_fd(t, open("/dev/kmsg", O_RDONLY | O_CLOEXEC));
}

static int open_regular(int kd, struct target *t)
{
	char path[] = "/tmp/kdispose_cycle_testXXXXXX";
	int ret = set_fd(t, mkostemp(path, O_CLOEXEC));

	if (!ret)
		unlink(path);
	return ret;
}

static int open_memfd(int kd, struct target *t)
{
	return set_fd(t, memfd_create("kdispose_cycle", MFD_CLOEXEC));
}

static int open_directory(int kd, struct target *t)
{
	return set_fd(t, open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

static int open_pipe(int kd, struct target *t)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	t->fd = p[1];
	t->extra = p[0];
	return 0;
}

static int open_eventfd(int kd, struct target *t)
{
	return set_fd(t, eventfd(0, EFD_CLOEXEC));
}

static int open_timerfd(int kd, struct target *t)
{
	return set_fd(t, timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC));
}

static int open_signalfd(int kd, struct target *t)
{
	sigset_t set;

	sigemptyset(&set);
	return set_fd(t, signalfd(-1, &set, SFD_CLOEXEC));
}

/* epoll holds no reference on what it watches: watching a pipe is fine. */
static int open_epoll(int kd, struct target *t)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int p[2], ret;

	ret = set_fd(t, epoll_create1(EPOLL_CLOEXEC));
	if (ret)
		return ret;
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	ret = epoll_ctl(t->fd, EPOLL_CTL_ADD, p[0], &ev) ? -errno : 0;
	close(p[1]);
	t->extra = p[0];
	return ret;
}

static int open_pidfd(int kd, struct target *t)
{
	return set_fd(t, syscall(__NR_pidfd_open, getpid(), 0));
}

static int open_tcp(int kd, struct target *t)
{
	return open_socket(t, AF_INET, SOCK_STREAM, 0);
}

static int open_udp(int kd, struct target *t)
{
	return open_socket(t, AF_INET, SOCK_DGRAM, 0);
}

static int open_tcp6(int kd, struct target *t)
{
	return open_socket(t, AF_INET6, SOCK_STREAM, 0);
}

static int open_netlink(int kd, struct target *t)
{
	return open_socket(t, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
}

static int open_dev_null(int kd, struct target *t)
{
	return set_fd(t, open("/dev/null", O_RDWR | O_CLOEXEC));
}

static int open_dev_urandom(int kd, struct target *t)
{
	return set_fd(t, open("/dev/urandom", O_RDONLY | O_CLOEXEC));
}

/* Whether the opener's error means that this kernel lacks the file. */
static bool absent(int err)
{
	return err == -ENOENT || err == -ENOSYS || err == -EAFNOSUPPORT ||
	       err == -EPROTONOSUPPORT || err == -ENODEV;
}

static void target_close(struct target *t)
{
	if (t->fd >= 0)
		close(t->fd);
	if (t->extra >= 0)
		close(t->extra);
	t->fd = -1;
	t->extra = -1;
}

/* Pin the file behind @target. Return: 0 or -errno. */
static int pin(int fd, int target, __u64 *handle)
{
	return kd_t_create(fd, KDISPOSE_TYPE_FILE, 0, target, 0, "cycle",
			   handle);
}

/*
 * What the refused and the allowed tests share: a /dev/kdispose file, a
 * snapshot of the counters, and the variant's file to pin.
 */
struct pin_ctx {
	KD_T_DEV_MEMBERS;
	struct target t;		/* the variant's file */
	char skip[128];			/* why the test skips, or "" */
};

/*
 * The harness runs the test even after a SKIP in setup (it stops only on
 * a failure), so setup leaves the reason for the test to SKIP with.
 */
static void pin_ctx_setup(struct __test_metadata *_metadata,
			  struct pin_ctx *c, opener_fn open_fn,
			  const char *what)
{
	int ret;

	c->t.fd = -1;
	c->t.extra = -1;
	KD_T_DEV_SETUP(c);
	ret = open_fn(c->fd, &c->t);
	if (absent(ret)) {
		snprintf(c->skip, sizeof(c->skip), "this kernel has no %s: %s",
			 what, strerror(-ret));
		return;
	}
	ASSERT_EQ(0, ret) TH_LOG("opening %s: %s", what, strerror(-ret));
}

/* No ASSERT here: a failing ASSERT in teardown would re-enter teardown. */
static void pin_ctx_teardown(struct __test_metadata *_metadata,
			     struct pin_ctx *c)
{
	target_close(&c->t);
	KD_T_DEV_TEARDOWN(c, KD_T_ALL, 0);
}

/* Files that hold, or may hold, an mm's address space or other files. */
FIXTURE(refused)
{
	struct pin_ctx c;
};

FIXTURE_VARIANT(refused)
{
	opener_fn open;
	const char *what;
};

FIXTURE_SETUP(refused)
{
	pin_ctx_setup(_metadata, &self->c, variant->open, variant->what);
}

FIXTURE_TEARDOWN(refused)
{
	pin_ctx_teardown(_metadata, &self->c);
}

FIXTURE_VARIANT_ADD(refused, unix_stream) {
	.open = open_unix_stream,
	.what = "a unix stream socket",
};

FIXTURE_VARIANT_ADD(refused, unix_dgram) {
	.open = open_unix_dgram,
	.what = "a unix datagram socket",
};

FIXTURE_VARIANT_ADD(refused, unix_socketpair) {
	.open = open_unix_socketpair,
	.what = "a unix socketpair",
};

FIXTURE_VARIANT_ADD(refused, io_uring) {
	.open = open_io_uring,
	.what = "an io_uring",
};

FIXTURE_VARIANT_ADD(refused, userfaultfd) {
	.open = open_userfaultfd,
	.what = "a userfaultfd",
};

FIXTURE_VARIANT_ADD(refused, vhost_net) {
	.open = open_vhost_net,
	.what = "an owned vhost-net fd",
};

FIXTURE_VARIANT_ADD(refused, kdispose_same) {
	.open = open_kdispose_same,
	.what = "the same kdispose file",
};

FIXTURE_VARIANT_ADD(refused, kdispose_other) {
	.open = open_kdispose_other,
	.what = "another kdispose file",
};

FIXTURE_VARIANT_ADD(refused, dev_kmsg) {
	.open = open_kmsg,
	.what = "/dev/kmsg",
};

TEST_F(refused, eloop)
{
	__u64 h;
	int ret;

	if (self->c.skip[0])
		SKIP(return, "%s", self->c.skip);
	ret = pin(self->c.fd, self->c.t.fd, &h);
	EXPECT_EQ(-ELOOP, ret) TH_LOG("pin of %s: %s", variant->what,
				      ret ? strerror(-ret) : "pinned");
}

/* The allowlist: files that hold nothing back. */
FIXTURE(allowed)
{
	struct pin_ctx c;
};

FIXTURE_VARIANT(allowed)
{
	opener_fn open;
	const char *what;
};

FIXTURE_SETUP(allowed)
{
	pin_ctx_setup(_metadata, &self->c, variant->open, variant->what);
}

FIXTURE_TEARDOWN(allowed)
{
	pin_ctx_teardown(_metadata, &self->c);
}

FIXTURE_VARIANT_ADD(allowed, regular) {
	.open = open_regular,
	.what = "a regular file",
};

FIXTURE_VARIANT_ADD(allowed, memfd) {
	.open = open_memfd,
	.what = "a memfd",
};

FIXTURE_VARIANT_ADD(allowed, directory) {
	.open = open_directory,
	.what = "a directory",
};

FIXTURE_VARIANT_ADD(allowed, pipe) {
	.open = open_pipe,
	.what = "a pipe",
};

FIXTURE_VARIANT_ADD(allowed, eventfd) {
	.open = open_eventfd,
	.what = "an eventfd",
};

FIXTURE_VARIANT_ADD(allowed, timerfd) {
	.open = open_timerfd,
	.what = "a timerfd",
};

FIXTURE_VARIANT_ADD(allowed, signalfd) {
	.open = open_signalfd,
	.what = "a signalfd",
};

FIXTURE_VARIANT_ADD(allowed, epoll) {
	.open = open_epoll,
	.what = "an epoll watching a pipe",
};

FIXTURE_VARIANT_ADD(allowed, pidfd) {
	.open = open_pidfd,
	.what = "a pidfd",
};

FIXTURE_VARIANT_ADD(allowed, tcp) {
	.open = open_tcp,
	.what = "a TCP socket",
};

FIXTURE_VARIANT_ADD(allowed, udp) {
	.open = open_udp,
	.what = "a UDP socket",
};

FIXTURE_VARIANT_ADD(allowed, tcp6) {
	.open = open_tcp6,
	.what = "a TCP/IPv6 socket",
};

FIXTURE_VARIANT_ADD(allowed, netlink) {
	.open = open_netlink,
	.what = "a netlink socket",
};

FIXTURE_VARIANT_ADD(allowed, dev_null) {
	.open = open_dev_null,
	.what = "/dev/null",
};

FIXTURE_VARIANT_ADD(allowed, dev_urandom) {
	.open = open_dev_urandom,
	.what = "/dev/urandom",
};

TEST_F(allowed, pins)
{
	__u64 h;
	int ret;

	if (self->c.skip[0])
		SKIP(return, "%s", self->c.skip);
	ret = pin(self->c.fd, self->c.t.fd, &h);
	ASSERT_EQ(0, ret) TH_LOG("pin of %s: %s", variant->what,
				 strerror(-ret));
	EXPECT_EQ(1, kd_t_dispose(self->c.fd, h));
}

/* What the exiting child tells the test. */
struct child_report {
	char why[200];		/* the child's setup failure, if any */
	int pin;		/* the pin's result: 0 or -errno */
};

FIXTURE(exit)
{
	struct child_report *rep;	/* shared with the child */
	struct kd_t_counters start;	/* module counters after setup */
	long refcnt;			/* the module's, after setup */
	bool absent;			/* no variant->dev: the test skips */
};

FIXTURE_VARIANT(exit)
{
	opener_fn open;
	const char *what;
	const char *dev;	/* a device the file needs, or NULL */
};

FIXTURE_VARIANT_ADD(exit, vhost_net) {
	.open = open_vhost_net,
	.what = "vhost-net",
	.dev = VHOST_NET_DEV,
};

FIXTURE_VARIANT_ADD(exit, userfaultfd) {
	.open = open_userfaultfd,
	.what = "userfaultfd",
};

FIXTURE_SETUP(exit)
{
	/* The harness runs the test after a SKIP here: the test skips. */
	self->absent = variant->dev && access(variant->dev, F_OK);
	self->rep = mmap(NULL, sizeof(*self->rep), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->rep);
	self->refcnt = kd_t_module_refcnt();
	ASSERT_LE(0, self->refcnt)
		TH_LOG("read the module refcnt: %s", strerror(-self->refcnt));
	KD_T_ASSERT_COUNTERS(self->start);
}

FIXTURE_TEARDOWN(exit)
{
	if (self->rep && self->rep != MAP_FAILED)
		munmap(self->rep, sizeof(*self->rep));
}

/* In the child: record the first setup failure and give up. */
#define CHILD_FAIL(rep, fmt, ...) do {					\
	snprintf((rep)->why, sizeof((rep)->why), "line %d: " fmt,	\
		 __LINE__, ##__VA_ARGS__);				\
	_exit(2);							\
} while (0)

/*
 * The child's whole life: a table with a mapped buffer, a file that holds
 * this mm, an attempt to pin it; then every fd is closed and it exits with
 * the mapping still in place, as a process that dies does.
 */
static void child_make_cycle(struct child_report *rep, opener_fn open_fn)
{
	struct target t = { .fd = -1, .extra = -1 };
	struct kdispose_query q;
	int fd, ret;
	__u64 buf, h;
	char *map;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	fd = kd_t_open();
	if (fd < 0)
		CHILD_FAIL(rep, "open: %s", strerror(-fd));
	ret = kd_t_create(fd, KDISPOSE_TYPE_MEMORY, 0, CYCLE_BYTES, 0,
			  "cycle", &buf);
	if (ret)
		CHILD_FAIL(rep, "memory: %s", strerror(-ret));
	ret = kd_t_query(fd, buf, &q);
	if (ret)
		CHILD_FAIL(rep, "query: %s", strerror(-ret));
	map = mmap(NULL, CYCLE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   q.info[1]);
	if (map == MAP_FAILED)
		CHILD_FAIL(rep, "mmap: %s", strerror(errno));
	memset(map, 0x5a, CYCLE_BYTES);
	ret = open_fn(fd, &t);
	if (ret)
		CHILD_FAIL(rep, "open the file to pin: %s", strerror(-ret));
	rep->pin = pin(fd, t.fd, &h);
	target_close(&t);
	close(fd);
	_exit(0);
}

TEST_F(exit, cycle_released_at_exit)
{
	struct kd_t_counters after;
	int status, ret;
	long refcnt;
	pid_t pid;

	if (self->absent)
		SKIP(return, "no %s (load vhost_iotlb vhost tap tun vhost_net)",
		     variant->dev);
	self->rep->why[0] = '\0';
	self->rep->pin = 1;
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		child_make_cycle(self->rep, variant->open);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("child: %s", self->rep->why[0] ? self->rep->why :
		       "died");
	TH_LOG("the pin of %s gave %s", variant->what,
	       self->rep->pin ? strerror(-self->rep->pin) : "success");

	ret = kd_t_wait_settled(&self->start, &after, CYCLE_WAIT_MS);
	EXPECT_EQ(0, ret)
		TH_LOG("%llu objects outlive their process in a %s cycle",
		       after.row[KD_T_ALL].live -
		       self->start.row[KD_T_ALL].live, variant->what);
	refcnt = kd_t_module_refcnt_wait(self->refcnt,
					 ret ? 0 : CYCLE_WAIT_MS);
	EXPECT_EQ(self->refcnt, refcnt)
		TH_LOG("the module keeps %ld references more than before",
		       refcnt - self->refcnt);
}

TEST_HARNESS_MAIN
