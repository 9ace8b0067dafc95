// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * kdispose-stat: which process holds which kdispose objects.
 *
 * Lists every open /dev/kdispose file per process (from /proc/<pid>/fd and
 * /proc/<pid>/fdinfo) with its live objects by kind, the memory-buffer bytes
 * it holds and how many objects it disposed, then the module-wide counters
 * (/sys/class/misc/kdispose/counters).
 *
 *   kdispose-stat [-p PID] [-w [SECONDS]] [--json]
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEVICE "/dev/kdispose"
#define COUNTERS "/sys/class/misc/kdispose/counters"

/*
 * The kinds are the rows of the counters file after "all": the module's
 * own list (module/kinds.h), so a new kind shows up here without a change.
 */
#define MAX_KINDS 32

/* One open /dev/kdispose file of one process. */
struct owner {
	int pid;
	int fd;
	char comm[32];
	unsigned long long live;
	unsigned long long live_kind[MAX_KINDS];
	unsigned long long bytes;
	unsigned long long disposed;
	unsigned long long next_seq;
};

/* One line of the module's counters. */
struct counters {
	char name[16];
	unsigned long long created, disposed, finalized, live, released;
};

struct snapshot {
	struct owner *owners;
	size_t nowners;
	struct counters counters[MAX_KINDS + 1];
	size_t ncounters;
	const char *kinds[MAX_KINDS];
	size_t nkinds;
};

static int read_text(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	while ((n = fread(buf + len, 1, size - 1 - len, f)) > 0)
		len += n;
	fclose(f);
	buf[len] = '\0';
	return len;
}

static int read_counters(struct snapshot *s)
{
	char buf[4096], *line, *save;
	int ret;

	ret = read_text(COUNTERS, buf, sizeof(buf));
	if (ret < 0)
		return ret;
	for (line = strtok_r(buf, "\n", &save);
	     line && s->ncounters < MAX_KINDS + 1;
	     line = strtok_r(NULL, "\n", &save)) {
		struct counters *c = &s->counters[s->ncounters];

		if (sscanf(line,
			   "%15s created %llu disposed %llu finalized %llu live %llu released %llu",
			   c->name, &c->created, &c->disposed, &c->finalized,
			   &c->live, &c->released) != 6)
			continue;
		s->ncounters++;
		if (strcmp(c->name, "all") && s->nkinds < MAX_KINDS)
			s->kinds[s->nkinds++] = c->name;
	}
	return s->ncounters ? 0 : -EPROTO;
}

static void parse_fdinfo(const struct snapshot *s, struct owner *o, char *text)
{
	char *line, *save, key[64];
	unsigned long long v;
	size_t k;

	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "kdispose_%63[a-z_]:%llu", key, &v) != 2)
			continue;
		if (!strcmp(key, "live"))
			o->live = v;
		else if (!strcmp(key, "bytes"))
			o->bytes = v;
		else if (!strcmp(key, "disposed"))
			o->disposed = v;
		else if (!strcmp(key, "next_seq"))
			o->next_seq = v;
		else if (!strncmp(key, "live_", 5))
			for (k = 0; k < s->nkinds; k++)
				if (!strcmp(key + 5, s->kinds[k]))
					o->live_kind[k] = v;
	}
}

static int add_owner(struct snapshot *s, int pid, int fd, const char *comm)
{
	char path[64], text[4096];
	struct owner *o, *grown;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	if (read_text(path, text, sizeof(text)) < 0)
		return 0; /* the fd or the process went away meanwhile */
	grown = realloc(s->owners, (s->nowners + 1) * sizeof(*o));
	if (!grown)
		return -ENOMEM;
	s->owners = grown;
	o = memset(&s->owners[s->nowners++], 0, sizeof(*o));
	o->pid = pid;
	o->fd = fd;
	snprintf(o->comm, sizeof(o->comm), "%s", comm);
	parse_fdinfo(s, o, text);
	return 0;
}

static int scan_process(struct snapshot *s, int pid)
{
	char path[64], target[PATH_MAX], comm[32] = "?";
	struct dirent *d;
	int ret = 0;
	ssize_t n;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if (read_text(path, comm, sizeof(comm)) > 0)
		comm[strcspn(comm, "\n")] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir)
		return errno == EACCES ? -EACCES : 0;
	while (!ret && (d = readdir(dir))) {
		char fdpath[sizeof(path) + sizeof(d->d_name)];

		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, d->d_name);
		n = readlink(fdpath, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (!strcmp(target, DEVICE))
			ret = add_owner(s, pid, atoi(d->d_name), comm);
	}
	closedir(dir);
	return ret;
}

/* Return: 0, or -errno; *denied counts processes we could not look into. */
static int scan(struct snapshot *s, int only_pid, int *denied)
{
	struct dirent *d;
	int ret = 0;
	DIR *proc;

	*denied = 0;
	proc = opendir("/proc");
	if (!proc)
		return -errno;
	while (!ret && (d = readdir(proc))) {
		int pid;

		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		pid = atoi(d->d_name);
		if (only_pid && pid != only_pid)
			continue;
		ret = scan_process(s, pid);
		if (ret == -EACCES) {
			(*denied)++;
			ret = 0;
		}
	}
	closedir(proc);
	return ret;
}

static void print_table(const struct snapshot *s, int denied)
{
	size_t i, k;

	printf("%7s %-16s %4s %8s", "PID", "COMM", "FD", "LIVE");
	for (k = 0; k < s->nkinds; k++)
		printf(" %7s", s->kinds[k]);
	printf(" %12s %10s\n", "BYTES", "DISPOSED");
	for (i = 0; i < s->nowners; i++) {
		const struct owner *o = &s->owners[i];

		printf("%7d %-16s %4d %8llu", o->pid, o->comm, o->fd, o->live);
		for (k = 0; k < s->nkinds; k++)
			printf(" %7llu", o->live_kind[k]);
		printf(" %12llu %10llu\n", o->bytes, o->disposed);
	}
	if (!s->nowners)
		printf("(no process has %s open)\n", DEVICE);
	if (denied)
		printf("(%d processes not readable: run as root to see them)\n",
		       denied);
	printf("\n%-8s %12s %12s %12s %12s %12s\n", "MODULE", "CREATED",
	       "DISPOSED", "FINALIZED", "LIVE", "RELEASED");
	for (i = 0; i < s->ncounters; i++) {
		const struct counters *c = &s->counters[i];

		printf("%-8s %12llu %12llu %12llu %12llu %12llu\n", c->name,
		       c->created, c->disposed, c->finalized, c->live,
		       c->released);
	}
}

static void print_json(const struct snapshot *s, int denied)
{
	size_t i, k;

	printf("{\"owners\":[");
	for (i = 0; i < s->nowners; i++) {
		const struct owner *o = &s->owners[i];

		printf("%s{\"pid\":%d,\"comm\":\"", i ? "," : "", o->pid);
		for (k = 0; o->comm[k]; k++) {
			unsigned char c = o->comm[k];

			if (c == '"' || c == '\\')
				printf("\\%c", c);
			else if (c < 0x20)
				printf("\\u%04x", c);
			else
				putchar(c);
		}
		printf("\",\"fd\":%d,\"live\":%llu,\"kinds\":{", o->fd,
		       o->live);
		for (k = 0; k < s->nkinds; k++)
			printf("%s\"%s\":%llu", k ? "," : "", s->kinds[k],
			       o->live_kind[k]);
		printf("},\"bytes\":%llu,\"disposed\":%llu,\"next_seq\":%llu}",
		       o->bytes, o->disposed, o->next_seq);
	}
	printf("],\"unreadable_processes\":%d,\"module\":{", denied);
	for (i = 0; i < s->ncounters; i++) {
		const struct counters *c = &s->counters[i];

		printf("%s\"%s\":{\"created\":%llu,\"disposed\":%llu,\"finalized\":%llu,\"live\":%llu,\"released\":%llu}",
		       i ? "," : "", c->name, c->created, c->disposed,
		       c->finalized, c->live, c->released);
	}
	printf("}}\n");
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kdispose-stat [-p PID] [-w [SECONDS]] [--json]\n"
		"  -p, --pid PID       only this process\n"
		"  -w, --watch[=SECS]  refresh every SECS seconds (default 2)\n"
		"  -j, --json          one JSON object per refresh\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "watch", optional_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	int only_pid = 0, watch = 0, opt;

	while ((opt = getopt_long(argc, argv, "p:w::jh", longopts, NULL)) !=
	       -1) {
		switch (opt) {
		case 'p':
			only_pid = atoi(optarg);
			if (only_pid <= 0) {
				fprintf(stderr, "kdispose-stat: bad pid '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'w':
			watch = optarg ? atoi(optarg) : 2;
			if (watch <= 0) {
				fprintf(stderr,
					"kdispose-stat: bad interval '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	for (;;) {
		struct snapshot s = { 0 };
		int ret, denied;

		ret = read_counters(&s);
		if (ret == -ENOENT) {
			fprintf(stderr,
				"kdispose-stat: the kdispose module is not loaded (no %s)\n",
				COUNTERS);
			return 1;
		}
		if (ret) {
			fprintf(stderr, "kdispose-stat: cannot read %s: %s\n",
				COUNTERS, strerror(-ret));
			return 1;
		}
		ret = scan(&s, only_pid, &denied);
		if (ret) {
			fprintf(stderr,
				"kdispose-stat: cannot read /proc: %s\n",
				strerror(-ret));
			free(s.owners);
			return 1;
		}
		if (watch && !json)
			printf("\033[H\033[2J");
		if (json)
			print_json(&s, denied);
		else
			print_table(&s, denied);
		fflush(stdout);
		free(s.owners);
		if (!watch)
			return 0;
		sleep(watch);
	}
}
