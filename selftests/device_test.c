// SPDX-License-Identifier: GPL-2.0
/*
 * device_test: the /dev/kdispose character device itself: the node, the
 * version ioctl, unknown ioctls, open/close, and that an open file pins the
 * module.
 *
 * The rmmod test unloads kdispose and loads it again from $KDISPOSE_KO with
 * the parameters in $KDISPOSE_PARAMS (the VM harness sets both), so the
 * programs that run after it still find the device. Without $KDISPOSE_KO
 * it is skipped.
 */
#include <sys/stat.h>
#include <sys/syscall.h>

#include "kdispose_test.h"

#define MODULE_NAME	"kdispose"

/* How many files the open/close tests open. */
#define OPEN_CLOSE_ROUNDS	2000
#define OPEN_AT_ONCE		256

static int sys_delete_module(const char *name, unsigned int flags)
{
	return syscall(__NR_delete_module, name, flags);
}

static int sys_finit_module(int fd, const char *params, int flags)
{
	return syscall(__NR_finit_module, fd, params, flags);
}

KD_T_DEV_FIXTURE(device, KD_T_ALL);

TEST(node_is_world_rw_char_device)
{
	struct stat st;

	ASSERT_EQ(0, stat(KD_T_DEV, &st)) {
		TH_LOG("stat %s: %s", KD_T_DEV, strerror(errno));
	}
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0666, st.st_mode & 07777);
}

TEST_F(device, version)
{
	EXPECT_EQ(KDISPOSE_ABI_VERSION, ioctl(self->fd, KDISPOSE_IOC_VERSION));
}

TEST_F(device, unknown_command_is_enotty)
{
	EXPECT_EQ(-1, ioctl(self->fd, _IO(KDISPOSE_IOC_MAGIC, 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_F(device, foreign_magic_is_enotty)
{
	__u64 arg = 0;

	EXPECT_EQ(-1, ioctl(self->fd, _IOR(KDISPOSE_IOC_MAGIC + 1, 0x00, __u64),
			    &arg));
	EXPECT_EQ(ENOTTY, errno);
}

TEST(open_close_many_times)
{
	int i, fd;

	for (i = 0; i < OPEN_CLOSE_ROUNDS; i++) {
		fd = open(KD_T_DEV, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fd) {
			TH_LOG("round %d: %s", i, strerror(errno));
		}
		ASSERT_EQ(0, close(fd));
	}
}

TEST(many_files_open_at_once)
{
	int fds[OPEN_AT_ONCE];
	int i;

	for (i = 0; i < OPEN_AT_ONCE; i++) {
		fds[i] = open(KD_T_DEV, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fds[i]) {
			TH_LOG("file %d: %s", i, strerror(errno));
		}
	}
	for (i = 0; i < OPEN_AT_ONCE; i++)
		EXPECT_EQ(KDISPOSE_ABI_VERSION,
			  ioctl(fds[i], KDISPOSE_IOC_VERSION));
	for (i = 0; i < OPEN_AT_ONCE; i++)
		EXPECT_EQ(0, close(fds[i]));
}

TEST(open_file_pins_module)
{
	const char *ko = getenv("KDISPOSE_KO");
	const char *params = getenv("KDISPOSE_PARAMS");
	struct stat st;
	int fd, kofd, ret;

	if (!ko)
		SKIP(return, "KDISPOSE_KO is not set: cannot reload kdispose");
	kofd = open(ko, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, kofd) {
		TH_LOG("open %s: %s", ko, strerror(errno));
	}

	fd = open(KD_T_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ret = sys_delete_module(MODULE_NAME, O_NONBLOCK);
	if (ret && errno == EPERM)
		SKIP(return, "unloading modules needs CAP_SYS_MODULE");
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EWOULDBLOCK, errno);
	EXPECT_EQ(KDISPOSE_ABI_VERSION, ioctl(fd, KDISPOSE_IOC_VERSION));
	ASSERT_EQ(0, close(fd));

	ASSERT_EQ(0, sys_delete_module(MODULE_NAME, O_NONBLOCK)) {
		TH_LOG("rmmod after close: %s", strerror(errno));
	}
	EXPECT_EQ(-1, stat(KD_T_DEV, &st));
	EXPECT_EQ(ENOENT, errno);

	ASSERT_EQ(0, sys_finit_module(kofd, params ? params : "", 0)) {
		TH_LOG("reload %s: %s", ko, strerror(errno));
	}
	ASSERT_EQ(0, close(kofd));
	fd = open(KD_T_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(KDISPOSE_ABI_VERSION, ioctl(fd, KDISPOSE_IOC_VERSION));
	EXPECT_EQ(0, close(fd));
}

TEST_HARNESS_MAIN
