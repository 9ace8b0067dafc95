// SPDX-License-Identifier: GPL-2.0
/*
 * Row 7: kernel memory per object, from what creating N of them takes from
 * MemFree (everything: slab, the handle table, pages allocated directly)
 * and adds to each slab cache of /proc/slabinfo (in whole slabs, so the
 * packing of objects into pages counts). The three kinds are created one
 * after the other and freed together at the end: a free in between would
 * put pages on per-CPU lists that the next kind takes back without MemFree
 * moving. MemFree still moves in per-CPU batches of pages, megabytes in
 * all: hence 10^6 tokens and 2 * 10^5 eventfds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <linux/kdispose.h>

#include "bench.h"

#define MAX_CACHES	512

/* A line of /proc/slabinfo (version 2.1). */
#define SLABINFO_LINE \
	"%39s %ld %ld %ld %ld %ld : tunables %*d %*d %*d : slabdata %ld %ld"

struct slab_cache {
	char name[40];
	long active;
	long objsize;
	long objperslab;
	long pagesperslab;
	long slabs;
};

struct mem_snapshot {
	long memfree_kb;
	unsigned int ncaches;
	struct slab_cache caches[MAX_CACHES];
};

static long memfree_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		die("/proc/meminfo: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemFree: %ld kB", &kb) == 1)
			break;
	fclose(f);
	if (kb < 0)
		die("no MemFree in /proc/meminfo");
	return kb;
}

static void snapshot(struct mem_snapshot *s)
{
	char line[512];
	FILE *f;

	/* Let frees deferred by RCU (slab pages, old tables) finish first. */
	usleep(cfg->settle_us);
	s->ncaches = 0;
	f = fopen("/proc/slabinfo", "r");
	if (!f)
		die("/proc/slabinfo: %s", strerror(errno));
	while (fgets(line, sizeof(line), f) && s->ncaches < MAX_CACHES) {
		struct slab_cache *c = &s->caches[s->ncaches];
		long num, active_slabs;

		if (sscanf(line, SLABINFO_LINE, c->name, &c->active, &num,
			   &c->objsize, &c->objperslab, &c->pagesperslab,
			   &active_slabs, &c->slabs) == 8)
			s->ncaches++;
	}
	fclose(f);
	s->memfree_kb = memfree_kb();
}

static const struct slab_cache *find_cache(const struct mem_snapshot *s,
					   const char *name)
{
	unsigned int i;

	for (i = 0; i < s->ncaches; i++)
		if (!strcmp(s->caches[i].name, name))
			return &s->caches[i];
	return NULL;
}

/**
 * struct mem_growth - what creating n objects cost the kernel, per object
 * @total: bytes MemFree lost.
 * @slab: bytes of slab pages, over every cache.
 * @objects: the objects of the caches that grew by at least half an object
 *	per created object (sum of their objsize).
 * @grown: those caches, "name objsize xcount, ...".
 */
struct mem_growth {
	double total;
	double slab;
	double objects;
	char grown[96];
};

static void growth(const struct mem_snapshot *a, const struct mem_snapshot *b,
		   unsigned int n, struct mem_growth *g)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len = 0;
	unsigned int i;

	memset(g, 0, sizeof(*g));
	g->total = (a->memfree_kb - b->memfree_kb) * 1024.0 / n;
	for (i = 0; i < b->ncaches; i++) {
		const struct slab_cache *after = &b->caches[i];
		const struct slab_cache *before = find_cache(a, after->name);
		long dslabs = after->slabs - (before ? before->slabs : 0);
		long dactive = after->active - (before ? before->active : 0);
		double per = (double)dactive / n;

		g->slab += (double)dslabs * after->pagesperslab * page / n;
		if (per < 0.5)
			continue;
		g->objects += per * after->objsize;
		if (len < sizeof(g->grown))
			len += snprintf(g->grown + len, sizeof(g->grown) - len,
					"%s%s %ld x%.2f", len ? ", " : "",
					after->name, after->objsize, per);
	}
}

/* Make room for @n more open files. */
static void raise_nofile(unsigned int n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		die("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur >= n + 64)
		return;
	rl.rlim_cur = n + 64;
	rl.rlim_max = n + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		die("setrlimit(RLIMIT_NOFILE, %u): %s", n + 64,
		    strerror(errno));
}

void row_memory(void)
{
	static struct mem_snapshot s[4];
	const struct slab_cache *obj_cache;
	struct mem_growth token, buffer, efd;
	struct kdispose_create c = {
		.type = KDISPOSE_TYPE_MEMORY,
		.args = { 4096 },
	};
	int *fds = xcalloc(cfg->mem_eventfds, sizeof(*fds));
	int token_fd = open_kdispose(), buffer_fd = open_kdispose();
	struct result *r;
	unsigned int i;

	progress("row 7: kernel memory per object");
	raise_nofile(cfg->mem_eventfds);

	snapshot(&s[0]);
	create_tokens(token_fd, NULL, cfg->mem_tokens);
	snapshot(&s[1]);
	for (i = 0; i < cfg->mem_buffers; i++)
		xioctl(buffer_fd, KDISPOSE_IOC_CREATE, &c,
		       "create memory buffer");
	snapshot(&s[2]);
	for (i = 0; i < cfg->mem_eventfds; i++) {
		fds[i] = eventfd(0, EFD_CLOEXEC);
		if (fds[i] < 0)
			die("eventfd: %s", strerror(errno));
	}
	snapshot(&s[3]);

	for (i = 0; i < cfg->mem_eventfds; i++)
		close(fds[i]);
	free(fds);
	close(buffer_fd);
	close(token_fd);
	growth(&s[0], &s[1], cfg->mem_tokens, &token);
	growth(&s[1], &s[2], cfg->mem_buffers, &buffer);
	growth(&s[2], &s[3], cfg->mem_eventfds, &efd);

	obj_cache = find_cache(&s[1], "kdispose_object");
	if (obj_cache) {
		r = add(7, "token: slab object (objsize)", obj_cache->objsize,
			"B");
		target(r, "<=", 96);
		note(r, "kdispose_object: %ld per %ld KiB slab = %.1f B each",
		     obj_cache->objperslab, obj_cache->pagesperslab * 4,
		     obj_cache->pagesperslab * 4096.0 / obj_cache->objperslab);
	} else {
		skip(7, "token: slab object (objsize)",
		     "no kdispose_object cache in /proc/slabinfo");
	}
	r = add(7, "token: kernel memory", token.total, "B");
	note(r, "%u live: slab pages %.0f B, rest (handle table) %.0f B",
	     cfg->mem_tokens, token.slab, token.total - token.slab);
	r = add(7, "4 KiB buffer: kernel memory", buffer.total, "B");
	note(r, "%u live: slab pages %.0f B, rest (page, table) %.0f B",
	     cfg->mem_buffers, buffer.slab, buffer.total - buffer.slab);
	r = add(7, "4 KiB buffer: slab objects", buffer.objects, "B");
	note(r, "%s", buffer.grown);
	r = add(7, "eventfd: slab objects", efd.objects, "B");
	note(r, "%s", efd.grown);
	r = add(7, "eventfd: kernel memory", efd.total, "B");
	note(r, "%u open: slab pages %.0f B, rest (fd table) %.0f B",
	     cfg->mem_eventfds, efd.slab, efd.total - efd.slab);
	if (efd.total > 0)
		add(7, "token / eventfd kernel memory",
		    token.total / efd.total, "ratio");
	else
		skip(7, "token / eventfd kernel memory",
		     "MemFree did not move: too few objects");
}
