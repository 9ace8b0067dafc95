// SPDX-License-Identifier: GPL-2.0
/*
 * share: two processes share a memory buffer and an event through export
 * fds (Documentation/sharing.md), printed as it happens.
 *
 * The parent creates a buffer and an auto-reset event in its table,
 * exports both and sends the two fds to a child over a unix socket
 * (SCM_RIGHTS). The child imports the buffer into a table of its own and
 * maps it, and puts the event's fd in an epoll set: it never imports the
 * event, it only reads it. Each time the parent writes a message into the
 * buffer and signals the event, the child's epoll loop wakes (EPOLLIN),
 * read() consumes the signal and the child prints the message from its
 * mapping. When the parent disposes its handle of the event, no table
 * holds one any more: the child sees EPOLLHUP and exits.
 *
 * Written with libkdispose (kd_export(), kd_event_fd(), kd_import()); the
 * socket and epoll code is plain POSIX. Build: make (or make -C examples).
 * Run once kdispose.ko is loaded: ./examples/share. "make demo" runs it in
 * a throw-away VM.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kdispose.h"

#define BUF_SIZE	4096
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const char *const messages[] = {
	"hello from the parent",
	"the buffer is the parent's; this mapping is the child's",
	"last message: the event goes next",
};

/* Library calls return -errno; the others set errno. */
static void die(const char *who, const char *what, int err)
{
	fprintf(stderr, "   %s: %s: %s\n", who, what,
		strerror(err ? -err : errno));
	exit(EXIT_FAILURE);
}

static struct kd_ctx *open_ctx(const char *who)
{
	struct kd_ctx *ctx;
	int err;

	ctx = kd_ctx_open(0, &err);
	if (!ctx) {
		fprintf(stderr, "   %s: kd_ctx_open: %s. Is kdispose.ko loaded?\n",
			who, strerror(-err));
		exit(EXIT_FAILURE);
	}
	return ctx;
}

static unsigned long long handle_of(struct kd_obj *obj)
{
	struct kdispose_query q;

	return kd_obj_query(obj, &q) ? 0 : q.handle;
}

/* Send two fds in one message. */
static void send_fds(int sock, int fd0, int fd1)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	char byte = 'f';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	int fds[2] = { fd0, fd1 };

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	if (sendmsg(sock, &msg, 0) != 1)
		die("parent", "sendmsg", 0);
}

static void recv_fds(int sock, int *fd0, int *fd1)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;
	int fds[2];

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		die("child", "recvmsg", 0);
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len != CMSG_LEN(sizeof(fds))) {
		fprintf(stderr, "   child: no fds in the message\n");
		exit(EXIT_FAILURE);
	}
	memcpy(fds, CMSG_DATA(cm), sizeof(fds));
	*fd0 = fds[0];
	*fd1 = fds[1];
}

/* The child: import and map the buffer, then an epoll loop on the event. */
static int child(int sock)
{
	struct epoll_event ev = { .events = EPOLLIN }, out;
	int buf_fd, ev_fd, ep, err, n = 0;
	struct kd_ctx *ctx;
	struct kd_obj *buf;
	uint64_t value, size;
	char *map;

	recv_fds(sock, &buf_fd, &ev_fd);
	printf("   child: received export fds %d (buffer) and %d (event)\n",
	       buf_fd, ev_fd);

	ctx = open_ctx("child");
	buf = kd_import(ctx, &kd_memory_class, NULL, buf_fd, &err);
	if (!buf)
		die("child", "kd_import", err);
	close(buf_fd);	/* the imported object names the buffer now */
	map = kd_memory_map(buf, &size, &err);
	if (!map)
		die("child", "kd_memory_map", err);
	printf("   child: imported the buffer as handle %#llx of its own table\n"
	       "          and mapped its %llu bytes\n", handle_of(buf),
	       (unsigned long long)size);

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, ev_fd, &ev))
		die("child", "epoll", 0);
	if (write(sock, "r", 1) != 1)	/* ready */
		die("child", "write", 0);

	for (;;) {
		if (epoll_wait(ep, &out, 1, -1) != 1) {
			if (errno == EINTR)
				continue;
			die("child", "epoll_wait", 0);
		}
		if (out.events & EPOLLIN) {
			if (read(ev_fd, &value, sizeof(value)) != sizeof(value))
				die("child", "read of the event fd", 0);
			printf("   child: EPOLLIN, read() = %llu, message %d: \"%s\"\n",
			       (unsigned long long)value, ++n, map);
			if (write(sock, "a", 1) != 1)	/* acknowledged */
				die("child", "write", 0);
			continue;
		}
		if (out.events & EPOLLHUP) {
			printf("   child: EPOLLHUP: no table holds the event any more,\n"
			       "          nobody can signal it: exiting\n");
			break;
		}
	}
	close(ep);
	close(ev_fd);
	/* Its dispose unmaps the buffer; the parent's handle keeps it. */
	kd_dispose(buf);
	kd_obj_unref(buf);
	kd_ctx_close(ctx);
	return n == (int)ARRAY_SIZE(messages) ? EXIT_SUCCESS : EXIT_FAILURE;
}

static void wait_byte(int sock, char want)
{
	char c;

	if (read(sock, &c, 1) != 1 || c != want) {
		fprintf(stderr, "   parent: the child did not answer '%c'\n",
			want);
		exit(EXIT_FAILURE);
	}
}

int main(void)
{
	int buf_fd, ev_fd, sv[2], status, ret, err;
	struct kd_obj *buf, *event;
	struct kd_ctx *ctx;
	unsigned int i;
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("share: a buffer and an event, shared with a child process\n\n");

	ctx = open_ctx("parent");
	buf = kd_memory_new(ctx, NULL, NULL, BUF_SIZE, &err);
	if (!buf)
		die("parent", "kd_memory_new", err);
	event = kd_event_new(ctx, NULL, NULL, KDISPOSE_EVENT_AUTO_RESET, &err);
	if (!event)
		die("parent", "kd_event_new", err);
	buf_fd = kd_export(buf, 0);
	if (buf_fd < 0)
		die("parent", "kd_export", buf_fd);
	ev_fd = kd_event_fd(event, 0);
	if (ev_fd < 0)
		die("parent", "kd_event_fd", ev_fd);
	printf("   parent: created buffer %#llx and auto-reset event %#llx,\n"
	       "           exported them as fds %d and %d\n", handle_of(buf),
	       handle_of(event), buf_fd, ev_fd);

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		die("parent", "socketpair", 0);
	pid = fork();
	if (pid < 0)
		die("parent", "fork", 0);
	if (pid == 0) {
		/* The child opens a table of its own; the parent's is not its. */
		close(kd_ctx_fd(ctx));
		close(sv[0]);
		close(buf_fd);
		close(ev_fd);
		exit(child(sv[1]));
	}
	close(sv[1]);
	send_fds(sv[0], buf_fd, ev_fd);
	close(buf_fd);
	close(ev_fd);
	printf("   parent: sent both fds over SCM_RIGHTS and closed its copies\n");
	wait_byte(sv[0], 'r');

	for (i = 0; i < ARRAY_SIZE(messages); i++) {
		ret = kd_memory_write(buf, 0, messages[i],
				      strlen(messages[i]) + 1);
		if (ret)
			die("parent", "kd_memory_write", ret);
		printf("   parent: wrote message %u into the buffer, signals\n",
		       i + 1);
		ret = kd_event_signal(event);
		if (ret)
			die("parent", "kd_event_signal", ret);
		wait_byte(sv[0], 'a');
	}

	printf("   parent: disposes its handle of the event, the only one\n");
	ret = kd_dispose(event);
	kd_obj_unref(event);
	if (waitpid(pid, &status, 0) != pid)
		die("parent", "waitpid", 0);
	printf("   parent: kd_dispose(event) returned %d; the child exited with %d\n",
	       ret, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	printf("   parent: kd_dispose(buffer) = %d: its last name, the buffer is freed\n",
	       kd_dispose(buf));
	kd_obj_unref(buf);
	close(sv[0]);
	kd_ctx_close(ctx);
	printf("\nDone.\n");
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ?
	       EXIT_SUCCESS : EXIT_FAILURE;
}
