// SPDX-License-Identifier: GPL-2.0
/*
 * file_test: KDISPOSE_TYPE_FILE, the pinned file. Each test checks one
 * behaviour: what create accepts and refuses (bad fds, /dev/kdispose
 * itself), that the object keeps a file open after the caller closed its
 * own fd (seen as the EOF of a pipe), the fds KDISPOSE_OP_FILE_INSTALL
 * makes, and the release on dispose and on close. The fixture teardown
 * checks the module counters.
 */
#include <sys/stat.h>

#include "kdispose_test.h"

FIXTURE(file)
{
	KD_T_DEV_MEMBERS;
	int pipe[2];			/* a pipe, O_NONBLOCK | O_CLOEXEC */
};

FIXTURE_SETUP(file)
{
	KD_T_DEV_SETUP(self);
	ASSERT_EQ(0, pipe2(self->pipe, O_NONBLOCK | O_CLOEXEC));
}

/* No ASSERT here: a failing ASSERT in teardown would re-enter teardown. */
FIXTURE_TEARDOWN(file)
{
	if (self->pipe[0] >= 0)
		close(self->pipe[0]);
	if (self->pipe[1] >= 0)
		close(self->pipe[1]);
	KD_T_DEV_TEARDOWN(self, KDISPOSE_TYPE_FILE, 0);
}

/* Pin the file behind @target. Return: 0 or -errno. */
static int pin(int fd, __u64 target, __u64 *handle)
{
	return kd_t_create(fd, KDISPOSE_TYPE_FILE, 0, target, 0, "pin",
			   handle);
}

/* KDISPOSE_OP_FILE_INSTALL. Return: the new fd or -errno. */
static int install(int fd, __u64 h, __u64 flags)
{
	__u64 args[4] = { flags };

	return kd_t_op(fd, h, KDISPOSE_OP_FILE_INSTALL, args);
}

/*
 * What a read of the (non-blocking) read end of a pipe says: 0 at EOF (no
 * writer left), -EAGAIN while a writer exists, else the byte read.
 */
static int pipe_peek(int rfd)
{
	unsigned char c;
	ssize_t n = read(rfd, &c, 1);

	if (n < 0)
		return -errno;
	return n ? c : 0;
}

/* Close our write end: only the pinned reference keeps the pipe writable. */
static void drop_write_end(int pipe[2])
{
	close(pipe[1]);
	pipe[1] = -1;
}

TEST_F(file, pin_keeps_file_open)
{
	__u64 h;

	ASSERT_EQ(0, pin(self->fd, self->pipe[1], &h));
	drop_write_end(self->pipe);
	EXPECT_EQ(-EAGAIN, pipe_peek(self->pipe[0]))
		TH_LOG("the pinned write end should still be open");
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	EXPECT_EQ(0, pipe_peek(self->pipe[0])) TH_LOG("EOF after dispose");
}

TEST_F(file, lifecycle_dispose)
{
	struct kd_t_counters before, after;
	__u64 h;

	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(0, pin(self->fd, self->pipe[1], &h));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_FILE,
			  .created = 1, .disposed = 1, .released = 1);
}

/* Closing the owner finalizes the object, which drops the file. */
TEST_F(file, lifecycle_close_finalizes)
{
	struct kd_t_counters before, after;
	int fd = kd_t_open();
	__u64 h;

	ASSERT_LE(0, fd);
	KD_T_ASSERT_COUNTERS(before);
	ASSERT_EQ(0, pin(fd, self->pipe[1], &h));
	drop_write_end(self->pipe);
	EXPECT_EQ(-EAGAIN, pipe_peek(self->pipe[0]));
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(0, pipe_peek(self->pipe[0]));
	KD_T_ASSERT_COUNTERS(after);
	KD_T_EXPECT_DELTA(&before, &after, KDISPOSE_TYPE_FILE,
			  .created = 1, .finalized = 1, .released = 1);
}

TEST_F(file, query_reports_f_flags)
{
	struct kdispose_query q;
	int nul = open("/dev/null", O_WRONLY | O_APPEND | O_CLOEXEC);
	__u64 h;

	ASSERT_LE(0, nul);
	ASSERT_EQ(0, pin(self->fd, nul, &h));
	ASSERT_EQ(0, kd_t_query(self->fd, h, &q));
	EXPECT_EQ(KDISPOSE_TYPE_FILE, q.type);
	EXPECT_EQ(O_WRONLY, q.info[0] & O_ACCMODE);
	EXPECT_TRUE(q.info[0] & O_APPEND);
	/* FD_CLOEXEC belongs to the fd, not to the file. */
	EXPECT_FALSE(q.info[0] & O_CLOEXEC);
	EXPECT_EQ(0, close(nul));
}

/* The new fd works after the caller closed its own, and is O_CLOEXEC. */
TEST_F(file, install_works_cloexec)
{
	int nfd;
	__u64 h;

	ASSERT_EQ(0, pin(self->fd, self->pipe[1], &h));
	drop_write_end(self->pipe);
	nfd = install(self->fd, h, 0);
	ASSERT_LE(0, nfd);
	EXPECT_EQ(FD_CLOEXEC, fcntl(nfd, F_GETFD));
	ASSERT_EQ(1, write(nfd, "x", 1));
	EXPECT_EQ('x', pipe_peek(self->pipe[0]));
	EXPECT_EQ(0, close(nfd));
}

TEST_F(file, install_no_cloexec)
{
	int nfd;
	__u64 h;

	ASSERT_EQ(0, pin(self->fd, self->pipe[1], &h));
	nfd = install(self->fd, h, KDISPOSE_FILE_NO_CLOEXEC);
	ASSERT_LE(0, nfd);
	EXPECT_EQ(0, fcntl(nfd, F_GETFD));
	EXPECT_EQ(0, close(nfd));
}

/* An installed fd holds its own reference: it outlives the object. */
TEST_F(file, installed_fd_outlives_dispose)
{
	int nfd;
	__u64 h;

	ASSERT_EQ(0, pin(self->fd, self->pipe[1], &h));
	drop_write_end(self->pipe);
	nfd = install(self->fd, h, 0);
	ASSERT_LE(0, nfd);
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	EXPECT_EQ(-EAGAIN, pipe_peek(self->pipe[0]));
	ASSERT_EQ(1, write(nfd, "y", 1));
	EXPECT_EQ('y', pipe_peek(self->pipe[0]));
	ASSERT_EQ(0, close(nfd));
	EXPECT_EQ(0, pipe_peek(self->pipe[0]));
}

/* The installed fd is the same open file: it shares the file offset. */
TEST_F(file, install_same_open_file)
{
	char path[] = "/tmp/kdispose_file_testXXXXXX";
	int tfd = mkstemp(path);
	int nfd;
	__u64 h;

	ASSERT_LE(0, tfd);
	unlink(path);
	ASSERT_EQ(0, pin(self->fd, tfd, &h));
	nfd = install(self->fd, h, 0);
	ASSERT_LE(0, nfd);
	ASSERT_EQ(4, write(tfd, "abcd", 4));
	EXPECT_EQ(4, lseek(nfd, 0, SEEK_CUR));
	EXPECT_EQ(0, close(nfd));
	EXPECT_EQ(0, close(tfd));
}

TEST_F(file, install_unknown_flag_einval)
{
	__u64 h;

	ASSERT_EQ(0, pin(self->fd, self->pipe[1], &h));
	EXPECT_EQ(-EINVAL, install(self->fd, h, 2));
	EXPECT_EQ(-EINVAL, install(self->fd, h, 1ULL << 63));
}

TEST_F(file, install_unused_args_einval)
{
	__u64 args[4] = { 0, 1, 0, 0 };
	__u64 h;

	ASSERT_EQ(0, pin(self->fd, self->pipe[1], &h));
	EXPECT_EQ(-EINVAL, kd_t_op(self->fd, h, KDISPOSE_OP_FILE_INSTALL,
				   args));
	args[1] = 0;
	args[3] = 1;
	EXPECT_EQ(-EINVAL, kd_t_op(self->fd, h, KDISPOSE_OP_FILE_INSTALL,
				   args));
}

TEST_F(file, install_after_dispose_eidrm)
{
	__u64 h;

	ASSERT_EQ(0, pin(self->fd, self->pipe[1], &h));
	ASSERT_EQ(1, kd_t_dispose(self->fd, h));
	EXPECT_EQ(-EIDRM, install(self->fd, h, 0));
}

TEST_F(file, op_unknown_eopnotsupp)
{
	__u64 args[4] = { 0 };
	__u64 h;

	ASSERT_EQ(0, pin(self->fd, self->pipe[1], &h));
	EXPECT_EQ(-EOPNOTSUPP, kd_t_op(self->fd, h, 0x0402, args));
	EXPECT_EQ(-EOPNOTSUPP, kd_t_op(self->fd, h, KDISPOSE_OP_EVENT_WAIT,
				       args));
}

TEST_F(file, pin_own_device_eloop)
{
	__u64 h;

	EXPECT_EQ(-ELOOP, pin(self->fd, self->fd, &h));
}

TEST_F(file, pin_other_device_file_eloop)
{
	int other = kd_t_open();
	__u64 h;

	ASSERT_LE(0, other);
	EXPECT_EQ(-ELOOP, pin(self->fd, other, &h));
	EXPECT_EQ(-ELOOP, pin(other, self->fd, &h));
	EXPECT_EQ(0, close(other));
}

TEST_F(file, pin_closed_fd_ebadf)
{
	int fd = dup(self->pipe[0]);
	__u64 h;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(-EBADF, pin(self->fd, fd, &h));
}

TEST_F(file, pin_negative_fd_ebadf)
{
	__u64 h;

	EXPECT_EQ(-EBADF, pin(self->fd, (__u64)(__s64)-1, &h));
	EXPECT_EQ(-EBADF, pin(self->fd, (__u64)(__s64)INT32_MIN, &h));
}

TEST_F(file, pin_fd_out_of_range_einval)
{
	__u64 h;

	EXPECT_EQ(-EINVAL, pin(self->fd, (__u64)INT32_MAX + 1, &h));
	EXPECT_EQ(-EINVAL, pin(self->fd, 0xffffffffULL, &h));
	EXPECT_EQ(-EINVAL, pin(self->fd, (__u64)INT32_MIN - 1, &h));
}

/* An O_PATH fd has no open file to pin. */
TEST_F(file, pin_o_path_ebadf)
{
	int pfd = open("/", O_PATH | O_CLOEXEC);
	__u64 h;

	ASSERT_LE(0, pfd);
	EXPECT_EQ(-EBADF, pin(self->fd, pfd, &h));
	EXPECT_EQ(0, close(pfd));
}

TEST_F(file, create_arg1_einval)
{
	__u64 h;

	EXPECT_EQ(-EINVAL, kd_t_create(self->fd, KDISPOSE_TYPE_FILE, 0,
				       self->pipe[1], 1, NULL, &h));
}

/* Each pin is its own reference: the file closes after the last. */
TEST_F(file, two_pins_two_references)
{
	__u64 a, b;

	ASSERT_EQ(0, pin(self->fd, self->pipe[1], &a));
	ASSERT_EQ(0, pin(self->fd, self->pipe[1], &b));
	drop_write_end(self->pipe);
	ASSERT_EQ(1, kd_t_dispose(self->fd, a));
	EXPECT_EQ(-EAGAIN, pipe_peek(self->pipe[0]));
	ASSERT_EQ(1, kd_t_dispose(self->fd, b));
	EXPECT_EQ(0, pipe_peek(self->pipe[0]));
}

TEST_HARNESS_MAIN
