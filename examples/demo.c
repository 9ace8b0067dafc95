// SPDX-License-Identifier: GPL-2.0
/*
 * demo: a guided tour of kdispose, printed as it happens.
 *
 * Build: make (or make -C examples). Run as any user once kdispose.ko is
 * loaded: ./examples/demo. "make demo" runs it in a throw-away VM.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kdispose.h>

#define DEVICE_PATH "/dev/kdispose"

static const char intro[] =
	"kdispose brings the .NET dispose pattern to kernel resources.\n"
	"\n"
	"A program opens /dev/kdispose and asks the kernel to create objects\n"
	"(tokens, memory buffers, events, pinned files, groups). Each object\n"
	"belongs to the open file and is named by a 64-bit handle that is\n"
	"never reused. Every object is released exactly once: either the\n"
	"program disposes of it explicitly (\"disposing\" is true, like\n"
	"calling Dispose() in .NET), or, if the program forgets or dies, the\n"
	"kernel releases whatever is left when the file is closed (the\n"
	"finalizer path, \"disposing\" is false). Nothing leaks and\n"
	"nothing is freed twice.\n";

static void step(int n, const char *what)
{
	printf("\n%d. %s\n", n, what);
}

int main(void)
{
	int fd, version;

	setvbuf(stdout, NULL, _IOLBF, 0);
	fputs(intro, stdout);

	step(1, "Open the device.");
	fd = open(DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "   open(%s): %s. Is kdispose.ko loaded?\n",
			DEVICE_PATH, strerror(errno));
		return EXIT_FAILURE;
	}
	printf("   open(\"%s\") = %d: this file owns an empty object table.\n",
	       DEVICE_PATH, fd);

	step(2, "Ask which ABI the module speaks.");
	version = ioctl(fd, KDISPOSE_IOC_VERSION);
	if (version < 0) {
		fprintf(stderr, "   KDISPOSE_IOC_VERSION: %s\n",
			strerror(errno));
		return EXIT_FAILURE;
	}
	printf("   ioctl(KDISPOSE_IOC_VERSION) = %d, built for %d: %s.\n",
	       version, KDISPOSE_ABI_VERSION,
	       version == KDISPOSE_ABI_VERSION ? "they match" : "MISMATCH");
	if (version != KDISPOSE_ABI_VERSION)
		return EXIT_FAILURE;

	step(3, "Close the file.");
	if (close(fd)) {
		fprintf(stderr, "   close: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	printf("   close() = 0: the kernel ran the file's release hook, which\n"
	       "   finalizes every object still in the table (none yet).\n");

	printf("\nDone.\n");
	return EXIT_SUCCESS;
}
