// SPDX-License-Identifier: GPL-2.0
/*
 * lifecycle: the dispose pattern with libkdispose, told as it happens.
 *
 * A "cache" class derives from the memory-buffer kind: each cache is a
 * kernel memory buffer (the unmanaged resource, released by the kind's
 * dispose at the end of the chain), with a malloc'd index of names and a
 * member object, a token counting lookups (the managed state). The program
 * disposes one cache explicitly, one with KD_AUTO (C's "using"), lets the
 * construction of one fail halfway, and forgets one, which kd_ctx_close()
 * then finalizes.
 *
 * Two things a class of your own needs besides dispose:
 * - an init hook (kd_memory_new_full()): cache_init() builds the index and
 *   the member before anything can see the cache, and undoes its own work
 *   when it fails halfway, so cache_dispose() never meets a half-built
 *   cache;
 * - its caller's call site: cache_new() is a macro passing __FILE__ and
 *   __LINE__ to cache_new_at(), which hands them to the constructors, so
 *   the kernel labels (kd_obj_query(), the module's leak report) and
 *   KDISPOSE_DEBUG=leaks name the line in main() that made each cache, not
 *   a line inside the factory.
 *
 * Build: make -C examples (static, against lib/libkdispose.a), or from a
 * checkout through pkg-config (see libkdispose(7)). Run once kdispose.ko
 * is loaded: ./examples/lifecycle ("make demo" runs it in a VM);
 * KDISPOSE_DEBUG=leaks ./examples/lifecycle also reports the forgotten
 * cache's call site on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdispose.h"

#define COUNTERS "/sys/class/misc/kdispose/counters"

struct cache {
	struct kd_obj obj;	/* first: a kd_memory_class object */
	const char *name;
	char **index;		/* managed: malloc'd names */
	unsigned int nindex;
	struct kd_obj *lookups;	/* managed: a member object (a token) */
};

static const struct kd_class cache_class;

/*
 * Dispose(bool disposing). With disposing true (kd_dispose) the cache
 * disposes its member object; with disposing false (the finalizer path of
 * kd_ctx_close) it must not: the member may be finalized already, and the
 * context finalizes it anyway. Its own memory is freed on both paths: C has
 * no garbage collector to do it later. The kernel buffer is the kind's
 * business: kd_chain_dispose() ends in the memory kind's dispose.
 * c->lookups and c->index are never NULL here: cache_init() set both, or
 * the cache never existed for anyone.
 */
static void cache_dispose(struct kd_obj *obj, bool disposing)
{
	struct cache *c = (struct cache *)obj;
	unsigned int i;

	printf("   %s: cache_dispose(disposing=%s)\n", c->name,
	       disposing ? "true" : "false");
	if (disposing) {
		printf("   %s:   disposes its member \"lookups\" token\n",
		       c->name);
		kd_dispose(c->lookups);
	} else {
		printf("   %s:   leaves its member alone (finalized on its own)\n",
		       c->name);
	}
	/* Dropping a reference never runs a dispose: allowed on both paths. */
	kd_obj_unref(c->lookups);
	c->lookups = NULL;
	printf("   %s:   frees its index of %u names\n", c->name, c->nindex);
	for (i = 0; i < c->nindex; i++)
		free(c->index[i]);
	free(c->index);
	c->index = NULL;
	printf("   %s:   chains up to the memory kind, which releases the "
	       "kernel buffer\n", c->name);
	kd_chain_dispose(&cache_class, obj, disposing);
}

static const struct kd_class cache_class = {
	.name = "cache",
	.size = sizeof(struct cache),
	.parent = &kd_memory_class,
	.dispose = cache_dispose,
};

/* What cache_init() needs: the constructor passes it as the hook's arg. */
struct cache_args {
	struct kd_ctx *ctx;
	const char *name;
	const char *file;	/* the caller's call site, for the member */
	unsigned int line;
	int fail_at;		/* for the demo: fail before this step */
};

/*
 * The init hook: the constructor's body. The kernel buffer exists; nothing
 * else can reach the cache yet. On failure it undoes what it did and
 * returns the errno, and the library frees the cache without running
 * cache_dispose(): dispose only ever sees a cache with its index and its
 * member.
 */
static int cache_init(struct kd_obj *obj, void *arg)
{
	static const char *const words[] = { "alpha", "beta", "gamma" };
	const struct cache_args *a = arg;
	struct cache *c = (struct cache *)obj;
	int err = 0;
	unsigned int i;

	c->name = a->name;
	c->lookups = kd_token_new_at(a->ctx, NULL, NULL, 0,
				     a->file, a->line, &err);
	if (!c->lookups)
		return err;
	c->index = a->fail_at == 2 ? NULL : calloc(3, sizeof(*c->index));
	if (!c->index) {
		printf("   %s: init fails halfway: disposes its token, "
		       "returns -ENOMEM\n", a->name);
		kd_dispose(c->lookups);
		kd_obj_unref(c->lookups);
		return -ENOMEM;
	}
	for (i = 0; i < 3; i++) {
		c->index[i] = strdup(words[i]);
		if (c->index[i])
			c->nindex++;
	}
	return 0;
}

/*
 * A factory of our own. Its callers write cache_new(ctx, name, &err): the
 * macro passes their file and line, which label the buffer and the token.
 */
#define cache_new(ctx, name, err) \
	cache_new_at(ctx, name, 0, __FILE__, __LINE__, err)

static struct cache *cache_new_at(struct kd_ctx *ctx, const char *name,
				  int fail_at, const char *file,
				  unsigned int line, int *err)
{
	struct cache_args a = {
		.ctx = ctx,
		.name = name,
		.file = file,
		.line = line,
		.fail_at = fail_at,
	};
	struct kdispose_query q;
	struct cache *c;

	c = (struct cache *)kd_memory_new_full(ctx, &cache_class, NULL, 4096,
					       cache_init, &a, file, line,
					       err);
	if (!c)
		return NULL;
	if (kd_obj_query(&c->obj, &q))
		q.label[0] = 0;
	printf("   %s: created (kernel buffer handle %#llx labelled \"%s\","
	       " index of %u names, token handle %#llx)\n", name,
	       (unsigned long long)kd_handle_value(kd_obj_handle(&c->obj)),
	       q.label, c->nindex,
	       (unsigned long long)kd_handle_value(kd_obj_handle(c->lookups)));
	return c;
}

/* Writes @word into the buffer and counts the lookup. */
static int cache_put(struct cache *c, unsigned int slot, const char *word)
{
	uint64_t n = 0;
	int ret;

	ret = kd_memory_write(&c->obj, slot * 64, word, strlen(word) + 1);
	if (ret)
		return ret;
	ret = kd_token_get(c->lookups, &n);
	if (ret)
		return ret;
	return kd_token_set(c->lookups, n + 1);
}

static void show_counters(const char *when)
{
	char line[160] = "";
	FILE *f;

	f = fopen(COUNTERS, "r");
	if (!f || !fgets(line, sizeof(line), f))
		snprintf(line, sizeof(line), "(%s unreadable)\n", COUNTERS);
	if (f)
		fclose(f);
	printf("   kernel counters %s: %s", when, line);
}

int main(void)
{
	struct cache *explicit, *forgotten;
	struct kd_ctx *ctx;
	char word[16];
	int err = 0, ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("lifecycle: a derived class with libkdispose\n");
	ctx = kd_ctx_open(0, &err);
	if (!ctx) {
		printf("kd_ctx_open: %s (is kdispose.ko loaded?)\n",
		       strerror(-err));
		return 1;
	}
	show_counters("at start");

	printf("\n1. Explicit dispose: kd_dispose() runs the chain with "
	       "disposing=true.\n");
	explicit = cache_new(ctx, "explicit", &err);
	if (!explicit)
		goto fail;
	ret = cache_put(explicit, 0, "hello");
	printf("   explicit: wrote \"hello\" (%d)\n", ret);
	ret = kd_dispose(&explicit->obj);
	printf("   kd_dispose() = %d (1: this call disposed it)\n", ret);
	ret = kd_dispose(&explicit->obj);
	printf("   kd_dispose() again = %d (0: idempotent, nothing runs)\n",
	       ret);
	ret = kd_memory_read(&explicit->obj, 0, word, sizeof(word));
	printf("   kd_memory_read() after dispose = %d (%s: .NET's "
	       "ObjectDisposedException)\n", ret, strerror(-ret));
	/* Disposed is not freed: the memory goes with the last reference. */
	kd_obj_unref(&explicit->obj);

	printf("\n2. using: KD_AUTO disposes when the variable goes out of "
	       "scope.\n");
	{
		KD_AUTO(struct cache) scoped = cache_new(ctx, "scoped", &err);

		if (!scoped)
			goto fail;
		ret = cache_put(scoped, 1, "world");
		printf("   scoped: wrote \"world\" (%d), leaving the scope\n",
		       ret);
	}
	printf("   (scope left)\n");

	printf("\n3. A constructor failing halfway: the init hook undoes its "
	       "own work,\n   the library disposes the kernel buffer, "
	       "cache_dispose() never runs.\n");
	if (cache_new_at(ctx, "halfway", 2, __FILE__, __LINE__, &err) ||
	    err != -ENOMEM)
		goto fail;
	printf("   cache_new() = NULL, err = %d (%s)\n", err, strerror(-err));

	printf("\n4. Forgotten: no dispose; the object stays on the context's "
	       "finalizer list.\n");
	forgotten = cache_new(ctx, "forgotten", &err);
	if (!forgotten)
		goto fail;
	cache_put(forgotten, 2, "leak");
	kd_obj_unref(&forgotten->obj);
	printf("   forgotten: the program dropped its reference without "
	       "disposing\n");
	show_counters("before close");

	printf("\n5. kd_ctx_close(): the finalizer path, disposing=false, "
	       "newest first,\n   then the file is closed and the kernel "
	       "finalizes its side.\n");
	ret = kd_ctx_close(ctx);
	printf("   kd_ctx_close() = %d library objects finalized (the cache "
	       "and its token,\n   both kernel objects: the kernel's "
	       "finalized count grows by 2 too)\n", ret);
	show_counters("after close");
	return 0;

fail:
	printf("failed: %s\n", strerror(-err));
	kd_ctx_close(ctx);
	return 1;
}
