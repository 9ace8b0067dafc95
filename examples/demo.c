// SPDX-License-Identifier: GPL-2.0
/*
 * demo: a guided tour of kdispose, printed as it happens.
 *
 * Build: make (or make -C examples). Run as any user once kdispose.ko is
 * loaded: ./examples/demo. "make demo" runs it in a throw-away VM.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
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

static void die(const char *what)
{
	fprintf(stderr, "   %s: %s\n", what, strerror(errno));
	exit(EXIT_FAILURE);
}

static __u64 create(int fd, __u32 type, __u64 parent, __u64 arg,
		    const char *label)
{
	struct kdispose_create c = { .type = type, .parent = parent };

	c.args[0] = arg;
	strncpy(c.label, label, sizeof(c.label) - 1);
	if (ioctl(fd, KDISPOSE_IOC_CREATE, &c))
		die(label);
	printf("   created %-8s handle %#llx%s\n", label,
	       (unsigned long long)c.handle, parent ? " (child)" : "");
	return c.handle;
}

static int dispose(int fd, __u64 handle)
{
	struct kdispose_dispose d = { .handle = handle };
	int ret = ioctl(fd, KDISPOSE_IOC_DISPOSE, &d);

	if (ret < 0)
		die("dispose");
	return ret;
}

static void show_counters(void)
{
	char line[256];
	FILE *f = fopen("/sys/class/misc/kdispose/counters", "r");

	if (!f)
		die("/sys/class/misc/kdispose/counters");
	while (fgets(line, sizeof(line), f))
		printf("   | %s", line);
	fclose(f);
}

static void set_leak_report(const char *value)
{
	FILE *f = fopen("/sys/module/kdispose/parameters/leak_report", "w");

	if (!f)
		return; /* not root: the report stays as it is */
	fputs(value, f);
	fclose(f);
}

int main(int argc, char **argv)
{
	__u64 group, token, memory, leaked;
	struct kdispose_query q = { 0 };
	struct kdispose_op op = { 0 };
	char text[] = "hello, kernel", back[sizeof(text)] = "";
	int fd, version, pipefd[2];

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
	if (version < 0)
		die("KDISPOSE_IOC_VERSION");
	printf("   ioctl(KDISPOSE_IOC_VERSION) = %d, built for %d: %s.\n",
	       version, KDISPOSE_ABI_VERSION,
	       version == KDISPOSE_ABI_VERSION ? "they match" : "MISMATCH");
	if (version != KDISPOSE_ABI_VERSION)
		return EXIT_FAILURE;

	step(3, "Build an ownership tree: a group owning one object of each kind.");
	if (pipe(pipefd))
		die("pipe");
	group = create(fd, KDISPOSE_TYPE_GROUP, 0, 0, "group");
	token = create(fd, KDISPOSE_TYPE_TOKEN, group, 42, "token");
	memory = create(fd, KDISPOSE_TYPE_MEMORY, group, 4096, "memory");
	create(fd, KDISPOSE_TYPE_EVENT, group, 0, "event");
	create(fd, KDISPOSE_TYPE_FILE, group, pipefd[1], "pipe");
	close(pipefd[1]);
	printf("   the pipe's write end is closed in this process, but the\n"
	       "   pinned file keeps it open inside the kernel.\n");

	step(4, "Use them.");
	op.handle = memory;
	op.op = KDISPOSE_OP_MEM_WRITE;
	op.args[1] = sizeof(text);
	op.args[2] = (uintptr_t)text;
	if (ioctl(fd, KDISPOSE_IOC_OP, &op))
		die("MEM_WRITE");
	op.op = KDISPOSE_OP_MEM_READ;
	op.args[2] = (uintptr_t)back;
	if (ioctl(fd, KDISPOSE_IOC_OP, &op))
		die("MEM_READ");
	printf("   wrote and read back \"%s\" through the memory buffer.\n",
	       back);
	q.handle = group;
	if (ioctl(fd, KDISPOSE_IOC_QUERY, &q))
		die("QUERY");
	printf("   the group has %u children.\n", q.nchildren);
	show_counters();

	step(5, "Dispose the group: its children are disposed first (cascade).");
	printf("   dispose(group) = %d (1: this call disposed it)\n",
	       dispose(fd, group));
	printf("   dispose(group) = %d (0: already disposed, harmless)\n",
	       dispose(fd, group));
	q.handle = token;
	if (ioctl(fd, KDISPOSE_IOC_QUERY, &q) == 0 || errno != EIDRM)
		die("query of a disposed token");
	printf("   query(token) fails with EIDRM: the child went with its parent,\n"
	       "   like ObjectDisposedException.\n");
	printf("   read(pipe) = %zd: the write end was released with the\n"
	       "   pinned file, so the pipe reports end of file.\n",
	       read(pipefd[0], back, sizeof(back)));
	show_counters();

	step(6, "Forget an object and close the file (the finalizer path).");
	set_leak_report("1");
	leaked = create(fd, KDISPOSE_TYPE_TOKEN, 0, 7, "forgotten");
	printf("   %#llx is never disposed. While the file is open, kdispose-stat\n"
	       "   shows who holds it:\n", (unsigned long long)leaked);
	if (argc > 1) {
		fflush(stdout);
		if (system(argv[1]))
			fprintf(stderr, "   %s failed\n", argv[1]);
	}
	if (close(fd))
		die("close");
	set_leak_report("0");
	printf("   close() = 0: the release hook finalized the forgotten token\n"
	       "   (disposing=false); the kernel log names it (\"leak: ...\").\n");
	show_counters();

	printf("\nDone.\n");
	return EXIT_SUCCESS;
}
