// SPDX-License-Identifier: GPL-2.0
/*
 * The guest side of insn-profile: the system calls it single-steps, made
 * over and over. Each round: ioctl(VERSION), a token's create and dispose,
 * eventfd() and close(), then a pause, so that the debugger, which counts
 * one of each once the caches are warm, mostly finds the guest asleep.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#include <linux/kdispose.h>

int main(void)
{
	struct kdispose_create c;
	struct kdispose_dispose d;
	int fd;

	fd = open("/dev/kdispose", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror("insn_prog: /dev/kdispose");
		return 1;
	}
	printf("insn_prog: ready\n");
	fflush(stdout);
	for (;;) {
		memset(&c, 0, sizeof(c));
		c.type = KDISPOSE_TYPE_TOKEN;
		strcpy(c.label, "x");
		ioctl(fd, KDISPOSE_IOC_VERSION);
		if (ioctl(fd, KDISPOSE_IOC_CREATE, &c)) {
			perror("insn_prog: create");
			return 1;
		}
		memset(&d, 0, sizeof(d));
		d.handle = c.handle;
		ioctl(fd, KDISPOSE_IOC_DISPOSE, &d);
		close(eventfd(0, EFD_CLOEXEC));
		usleep(1000);
	}
}
