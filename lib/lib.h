/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Private declarations of libkdispose, shared by its files.
 *
 * Everything here is hidden (-fvisibility=hidden); the public API is tagged
 * KD_EXPORT and listed in libkdispose.map.
 */
#ifndef KD_LIB_H
#define KD_LIB_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* The library defines the plain-name constructors: no call-site macros. */
#define KD_NO_CALL_SITE
#include "kdispose.h"

#define KD_EXPORT __attribute__((visibility("default")))

/* An intrusive circular doubly linked list; an empty head points to itself. */
struct kd_list {
	struct kd_list *prev;
	struct kd_list *next;
};

static inline void kd_list_init(struct kd_list *head)
{
	head->prev = head;
	head->next = head;
}

static inline bool kd_list_empty(const struct kd_list *head)
{
	return head->next == head;
}

static inline void kd_list_add_tail(struct kd_list *head, struct kd_list *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static inline void kd_list_del(struct kd_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	kd_list_init(n);
}

#define kd_container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))

/*
 * struct kd_lock - a mutex for the short critical sections of every
 * object's life: one atomic instruction to lock and one to unlock, inline,
 * when nobody waits; a waiter sleeps in futex(2) ("Futexes Are Tricky",
 * U. Drepper, mutex 3). pthread_mutex_lock() and _unlock() are three calls
 * and their returns around the same two instructions.
 * @state: 0 unlocked, 1 locked, 2 locked and maybe waited for.
 */
struct kd_lock {
	atomic_int state;
};

void __kd_lock_wait(struct kd_lock *l);
void __kd_lock_wake(struct kd_lock *l);

static inline void kd_lock(struct kd_lock *l)
{
	int unlocked = 0;

	if (!atomic_compare_exchange_strong_explicit(&l->state, &unlocked, 1,
						     memory_order_acquire,
						     memory_order_relaxed))
		__kd_lock_wait(l);
}

static inline void kd_unlock(struct kd_lock *l)
{
	if (atomic_fetch_sub_explicit(&l->state, 1, memory_order_release) != 1)
		__kd_lock_wake(l);
}

/*
 * struct kd_ctx - an open /dev/kdispose
 * @lock: protects @features_probed and the mapping of every object of the
 *	context; held across the io_uring probe.
 * @objects_lock: protects @objects, @closing and the owner/child links
 *	(children, sibling) of every object of the context. Never held while
 *	a class's dispose runs, nor across a system call.
 * @objects: the finalizer list: every object not yet disposed (state
 *	KD_LIVE, or claimed by a disposer that has not unlinked it yet), in
 *	creation order. Each entry holds a reference on its object.
 * @closing: kd_ctx_close() started; constructors fail with -EIDRM.
 * @fd: the device file.
 * @flags: KD_CTX_* given to kd_ctx_open().
 * @features: KD_FEATURE_* bits; the io_uring bits are valid once
 *	@features_probed is set (read without @lock once set).
 * @refs: memory references: the caller's (dropped by kd_ctx_close()) and
 *	one per object allocated.
 * @fd_users: users of @fd: the caller's (dropped by kd_ctx_close()) and one
 *	per safe handle whose kernel object is not released yet, plus one per
 *	event wait in progress. The last one closes @fd.
 * @spare: freed objects of the smallest size (see kd_obj_alloc()), for
 *	the next constructors; NULL slots are empty.
 */
#define KD_CTX_SPARE 4

struct kd_obj_priv;

struct kd_ctx {
	pthread_mutex_t lock;
	struct kd_lock objects_lock;
	struct kd_list objects;
	bool closing;
	int fd;
	unsigned int flags;
	atomic_int features;
	atomic_bool features_probed;
	atomic_long refs;
	atomic_long fd_users;
	struct kd_obj_priv *_Atomic spare[KD_CTX_SPARE];
};

/*
 * The fast path (a constructor, kd_dispose(), kd_obj_unref()) is made of
 * the small helpers below, inline: under an emulator a call and its return
 * cost more than the dozen instructions most of them are.
 */
void __kd_ctx_free(struct kd_ctx *ctx);

static inline void __kd_ctx_get(struct kd_ctx *ctx)
{
	atomic_fetch_add(&ctx->refs, 1);
}

static inline void __kd_ctx_put(struct kd_ctx *ctx)
{
	if (atomic_fetch_sub(&ctx->refs, 1) == 1)
		__kd_ctx_free(ctx);
}

static inline void __kd_ctx_fd_get(struct kd_ctx *ctx)
{
	atomic_fetch_add(&ctx->fd_users, 1);
}

static inline void __kd_ctx_fd_put(struct kd_ctx *ctx)
{
	if (atomic_fetch_sub(&ctx->fd_users, 1) == 1)
		close(ctx->fd);
}

int __kd_ctx_features(struct kd_ctx *ctx);
int __kd_ctx_finalize(struct kd_ctx *ctx);
int __kd_uring_probe(struct kd_ctx *ctx);

/*
 * The two ioctls of every object's life, inline (the others are in
 * syscall.c); errno is read right after the call.
 */
static inline int __kd_sys_create(int fd, struct kdispose_create *c)
{
	int ret = ioctl(fd, KDISPOSE_IOC_CREATE, c);

	return ret < 0 ? -errno : ret;
}

static inline int __kd_sys_dispose(int fd, uint64_t handle)
{
	struct kdispose_dispose d = { .handle = handle };
	int ret = ioctl(fd, KDISPOSE_IOC_DISPOSE, &d);

	return ret < 0 ? -errno : ret;
}

/*
 * How a safe handle that reaches zero references releases its kernel
 * object: SYNC through KDISPOSE_IOC_DISPOSE, DEFER by the caller (batch or
 * io_uring, which then calls __kd_handle_finish()), FINALIZE not at all
 * (the file close of kd_ctx_close() finalizes it in the kernel).
 */
enum kd_mode {
	KD_MODE_SYNC,
	KD_MODE_DEFER,
	KD_MODE_FINALIZE,
};

/*
 * __kd_handle_close() with KD_MODE_DEFER dropped the last reference: the
 * caller disposes the kernel object. Positive, and neither of the kernel
 * dispose's results (1, 0), so it cannot be mistaken for one.
 */
#define KD_CLOSE_PENDING 2

/*
 * struct kd_handle - a safe handle
 * @state: KD_H_COUNT references (1 for the owner until closed, plus one per
 *	kd_handle_acquire()), KD_H_CLOSED, KD_H_FINALIZE. The transition of
 *	the count to 0 happens once and releases the kernel object.
 * @value: the kernel handle.
 * @ctx: the context whose file issued @value.
 * @parent: the kernel parent's safe handle, acquired until this one's
 *	kernel object is released, or NULL.
 */
struct kd_handle {
	_Atomic uint64_t state;
	uint64_t value;
	struct kd_ctx *ctx;
	struct kd_handle *parent;
};

#define KD_H_COUNT 0xffffffffULL
#define KD_H_CLOSED (1ULL << 32)
#define KD_H_FINALIZE (1ULL << 33)

/*
 * The internal transitions of a safe handle (see handle.c for the states),
 * inline for the dispose path.
 */

/*
 * Context: the safe handle is not shared yet. Takes a reference on the
 * file (dropped by __kd_handle_finish()) and owns @parent's acquisition.
 */
static inline void __kd_handle_init(struct kd_handle *h, struct kd_ctx *ctx,
				    uint64_t value, struct kd_handle *parent)
{
	atomic_init(&h->state, 1);
	h->value = value;
	h->ctx = ctx;
	h->parent = parent;
	__kd_ctx_fd_get(ctx);
}

/* The kernel object is released: let go of the parent and of the file. */
static inline void __kd_handle_finish(struct kd_handle *h)
{
	if (h->parent)
		kd_handle_release(h->parent);
	__kd_ctx_fd_put(h->ctx);
}

/* The count reached zero in state @s: release the kernel object. */
static inline int __kd_handle_zero(struct kd_handle *h, uint64_t s)
{
	int ret = 0;

	if (!(s & KD_H_FINALIZE))
		ret = __kd_sys_dispose(h->ctx->fd, h->value);
	__kd_handle_finish(h);
	return ret;
}

/*
 * Closes @h for its owner; if that drops the last reference, releases the
 * kernel object as @mode says.
 * Return: 1 when this call closed @h (the kernel object is released, or
 * left to the last kd_handle_release(), or to the file close), 0 when it
 * was closed already, the kernel dispose's -errno (KD_MODE_SYNC), or
 * KD_CLOSE_PENDING when the caller is to dispose h->value itself and then
 * call __kd_handle_finish() (KD_MODE_DEFER).
 */
static inline int __kd_handle_close(struct kd_handle *h, enum kd_mode mode)
{
	uint64_t s = atomic_load(&h->state);
	uint64_t n;
	int ret;

	do {
		if (s & KD_H_CLOSED)
			return 0;
		n = s | KD_H_CLOSED;
		if (mode == KD_MODE_FINALIZE)
			n |= KD_H_FINALIZE;
		n--;
	} while (!atomic_compare_exchange_weak(&h->state, &s, n));

	if (n & KD_H_COUNT)
		return 1;
	if (mode == KD_MODE_DEFER)
		return KD_CLOSE_PENDING;
	ret = __kd_handle_zero(h, n);
	return ret < 0 ? ret : 1;
}

/* Object states (struct kd_obj_priv @state) */
enum kd_state {
	KD_LIVE, /* in the finalizer list */
	KD_DISPOSING, /* claimed by kd_dispose() or kd_ctx_close() */
	KD_DISPOSED, /* dispose(obj, true) ran */
	KD_FINALIZED, /* dispose(obj, false) ran */
};

/* Deepest class chain: levels 0 (kd_object_class) .. 31 */
#define KD_CLASS_MAX_DEPTH 31

#define KD_OBJ_MAGIC 0x6b646f62U /* "kdob" */

/*
 * struct kd_chain - one run of an object's class chain, written only by the
 * thread that claimed the object, while the chain runs (which thread that
 * is, is &struct kd_obj_priv.chain_thread)
 * @ran: bit n set once the dispose of level n was entered.
 * @bad: a class did not chain up exactly once, or changed @disposing.
 * @disposing: the argument of this chain.
 * @mode: how the kind's dispose is to release the kernel object.
 * @kernel: what the kind's dispose returned (see __kd_handle_close()), for
 *	kd_chain_run() to hand back; 0 for an object without kernel object.
 *	The class callbacks return nothing, so this is the one way out.
 * @culprit: the first class found misbehaving, for the debug report.
 * @fault: what it did, for the same report.
 * @entered: the class whose dispose was entered last, at @level: in a
 *	chain that runs as it should, the next one to chain up.
 * @level: its level.
 */
struct kd_chain {
	uint32_t ran;
	bool bad;
	bool disposing;
	enum kd_mode mode;
	int kernel;
	const struct kd_class *culprit;
	const char *fault;
	const struct kd_class *entered;
	unsigned int level;
};

/*
 * struct kd_site - where a library call was made, for the debug reports
 * and the kernel label
 * @fn: the public function called.
 * @file: the caller's source file (static storage), or NULL if unknown.
 * @line: the caller's line.
 */
struct kd_site {
	const char *fn;
	const char *file;
	unsigned int line;
};

/* A kernel kind (kinds.c): its class and its enum kdispose_type. */
struct kd_kind;

/*
 * struct kd_obj_priv - the library's part of an object, allocated in front
 * of the public instance (@instance, of klass->size bytes)
 * @magic: KD_OBJ_MAGIC while allocated.
 * @state: enum kd_state; LIVE -> DISPOSING is the one claim that decides
 *	who runs the chain.
 * @refs: memory references (see kdispose.h).
 * @ctx: the context (referenced).
 * @owner: the owning object (referenced), or NULL.
 * @ctx_link: in ctx->objects while not claimed (ctx->objects_lock).
 * @sibling: in owner's @children while not claimed (ctx->objects_lock).
 * @children: owned objects not claimed yet, in creation order
 *	(ctx->objects_lock).
 * @nchildren: entries of @children, changed under ctx->objects_lock but read
 *	without it by kd_obj_cascade() (see kd_obj_publish()).
 * @depth: level of klass in its chain (kd_object_class is level 0).
 * @chain_thread: the thread that runs the chain, 0 before. Written once, by
 *	that thread after it claimed the object; read by any thread in
 *	kd_chain_dispose(), hence atomic.
 * @chain: the state of the chain while it runs.
 * @file: the call site of the constructor (NULL if unknown), kept for the
 *	debug reports.
 * @line: its line.
 *
 * Kernel kinds (@kind != NULL):
 * @kind: the kind, or NULL for an object without kernel object.
 * @handle: the safe handle.
 * @map: the mapping of a memory buffer, or NULL (ctx->lock).
 * @map_len: its length.
 */
struct kd_obj_priv {
	uint32_t magic;
	_Atomic unsigned int state;
	atomic_long refs;
	struct kd_ctx *ctx;
	struct kd_obj *owner;
	struct kd_list ctx_link;
	struct kd_list sibling;
	struct kd_list children;
	atomic_uint nchildren;
	unsigned int depth;
	_Atomic(pthread_t) chain_thread;
	struct kd_chain chain;
	const char *file;
	unsigned int line;

	const struct kd_kind *kind;
	struct kd_handle handle;
	void *map;
	size_t map_len;

	_Alignas(16) unsigned char instance[];
};

static inline struct kd_obj *kd_priv_obj(struct kd_obj_priv *p)
{
	return (struct kd_obj *)p->instance;
}

/* Return: @obj's private part, or NULL if @obj is not a live object. */
static inline struct kd_obj_priv *__kd_obj_priv(struct kd_obj *obj)
{
	struct kd_obj_priv *p;

	if (!obj)
		return NULL;
	p = kd_container_of(obj, struct kd_obj_priv, instance);
	return p->magic == KD_OBJ_MAGIC ? p : NULL;
}

void __kd_obj_free(struct kd_obj_priv *p);

static inline void __kd_obj_put(struct kd_obj_priv *p)
{
	if (atomic_fetch_sub(&p->refs, 1) == 1)
		__kd_obj_free(p);
}

struct kd_obj_priv *__kd_obj_create(struct kd_ctx *ctx,
				    const struct kd_class *cls,
				    struct kd_obj *owner,
				    const struct kd_site *site, int *err);
int __kd_obj_init_publish(struct kd_obj_priv *p, kd_init_fn *init, void *arg);
void __kd_obj_destroy(struct kd_obj_priv *p);
int __kd_kobj_close(struct kd_obj_priv *p, enum kd_mode mode);
void __kd_kobj_release(struct kd_obj_priv *p);
int __kd_obj_dispose(struct kd_obj_priv *p, bool *pending);
bool __kd_class_derives(const struct kd_class *cls,
			const struct kd_class *base);

extern const struct kd_class __kd_kobj_class;

/* debug.c: the reports of KDISPOSE_DEBUG, one line each on stderr */
#define KD_DEBUG_CHAIN (1U << 0)
#define KD_DEBUG_LEAKS (1U << 1)
#define KD_DEBUG_CHECKS (1U << 2)

bool __kd_debug_on(unsigned int flag);
void __kd_debug(unsigned int flag, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void __kd_check_failed(const struct kd_site *site, int err, const char *fmt,
		       ...) __attribute__((format(printf, 3, 4)));
const char *__kd_class_name(const struct kd_class *cls);
int __kd_obj_site(const struct kd_obj_priv *p, char *buf, size_t size);

/* syscall.c: the ioctls, returning -errno */
int __kd_sys_version(int fd);
int __kd_sys_dispose_batch(int fd, struct kdispose_dispose_batch *b);
int __kd_sys_query(int fd, struct kdispose_query *q);
int __kd_sys_op(int fd, struct kdispose_op *op);
int __kd_sys_export(int fd, struct kdispose_export *e);
int __kd_sys_import(int fd, struct kdispose_import *i);
int __kd_sys_wait(int fd, struct kdispose_wait *w);

#endif /* KD_LIB_H */
