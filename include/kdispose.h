/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libkdispose: the .NET dispose pattern in C, on top of /dev/kdispose.
 *
 * Conventions (liburing's):
 * - every call returns 0, a count or a positive value, or -errno; errno is
 *   never the result channel (a failed system call may still change it);
 * - calls that return a pointer take an "int *err" (may be NULL) and return
 *   NULL with *err set to -errno on failure;
 * - nothing aborts on a caller's mistake: bad arguments give -EINVAL, an
 *   object that is disposed gives -EIDRM (.NET's ObjectDisposedException);
 *   KDISPOSE_DEBUG (see "Debugging" below) says on stderr which check
 *   failed, and reports what the API cannot return.
 *
 * Memory ownership of objects (struct kd_obj): a constructor returns an
 * object holding one reference that the caller owns. The context holds a
 * second one for as long as the object is not disposed (its finalizer list).
 * kd_obj_ref() and kd_obj_unref() add and drop references; the memory is
 * freed when the last one goes, never earlier, so a disposed object stays
 * safe to pass to every call (which then returns -EIDRM or 0). Disposing
 * does not drop the caller's reference: call kd_obj_unref() after kd_dispose()
 * (KD_AUTO does both). A caller must hold a reference for the whole of
 * every call it makes on an object.
 *
 * Thread safety: kd_dispose(), kd_dispose_many(), kd_dispose_async(),
 * kd_obj_ref(), kd_obj_unref(), the kd_handle_*() calls, every kind
 * operation and the constructors may be called from any thread at any time,
 * also on one object or one context at once. kd_ctx_close() may race with
 * all of those except calls that pass the context pointer itself
 * (constructors, kd_raw_*(), kd_ctx_*()): after kd_ctx_close() starts, the
 * context pointer is gone for the caller. Contexts share no state.
 */
#ifndef KDISPOSE_H
#define KDISPOSE_H

/*
 * The UAPI header is installed as <includedir>/kdispose/linux/kdispose.h:
 * "pkg-config --cflags kdispose" makes it <linux/kdispose.h>; without
 * those flags it is found under its installed name.
 */
#if defined(__has_include)
#if __has_include(<linux/kdispose.h>)
#include <linux/kdispose.h>
#else
#include <kdispose/linux/kdispose.h>
#endif
#else
#include <linux/kdispose.h>
#endif
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

struct io_uring;
struct io_uring_cqe;
struct io_uring_sqe;

/*
 * Versions: KD_VERSION_* are those of this header, kd_version_major() and
 * kd_version_minor() those of the library the program runs with. A minor
 * version adds symbols (a new node of libkdispose.map) and changes none.
 * KD_CHECK_VERSION(major, minor) is 1 when this header is at least
 * major.minor (usable in #if); kd_check_version() tells the same of the
 * library loaded. Unlike liburing's io_uring_check_version(), both are
 * true when the version is new enough.
 */
#define KD_VERSION_MAJOR 1
#define KD_VERSION_MINOR 2
#define KD_CHECK_VERSION(major, minor) \
	((major) < KD_VERSION_MAJOR || \
	 ((major) == KD_VERSION_MAJOR && (minor) <= KD_VERSION_MINOR))

int kd_version_major(void);
int kd_version_minor(void);
/* Return: true when the library loaded is version major.minor or later. */
bool kd_check_version(int major, int minor);

/* An open /dev/kdispose: a table of kernel objects and a finalizer list. */
struct kd_ctx;

/* A SafeHandle: a reference-counted owner of one kernel handle. */
struct kd_handle;

struct kd_class;

/**
 * struct kd_obj - the first member of every object instance
 * @klass: the object's class (read only).
 *
 * A derived class puts this first in its instance struct:
 *	struct cache { struct kd_obj obj; char *names; };
 * The library keeps its own state in front of it, in the same allocation.
 */
struct kd_obj {
	const struct kd_class *klass;
};

/**
 * struct kd_class - a class: what .NET puts in a type with Dispose(bool)
 * @name: a name for diagnostics; the kernel label (first 15 bytes) of
 *	kernel objects created without a call site (see "Call-site labels").
 * @size: size of the instance struct (at least the parent's size, and at
 *	least sizeof(struct kd_obj)); constructors allocate it zeroed.
 * @parent: the base class, or NULL for kd_object_class.
 * @dispose: Dispose(bool disposing), or NULL to inherit the parent's. Runs
 *	exactly once per object, on one thread: from kd_dispose() with
 *	@disposing true (free your memory and dispose the other objects you
 *	hold), or from kd_ctx_close() with @disposing false (free your memory
 *	only: the objects you point to may be finalized already). It must end
 *	by calling kd_chain_dispose(&this_class, obj, disposing), which runs the
 *	parent class's dispose; a class that forgets is detected (see
 *	kd_dispose()). The kernel object of a kind is disposed by the kind's
 *	own dispose, so it is still usable before the chain-up.
 *
 * Classes are constant data; define them "static const".
 */
struct kd_class {
	const char *name;
	size_t size;
	const struct kd_class *parent;
	void (*dispose)(struct kd_obj *obj, bool disposing);
};

/* The root of every class chain (dispose: nothing; the chain ends here). */
extern const struct kd_class kd_object_class;

/*
 * Contexts
 */

/* kd_ctx_open() flag: never use the io_uring command (see kd_dispose_async) */
#define KD_CTX_NO_URING (1U << 0)

/* kd_ctx_features() bits */
#define KD_FEATURE_BATCH (1U << 0) /* KDISPOSE_IOC_DISPOSE_BATCH */
#define KD_FEATURE_URING (1U << 1) /* the io_uring DISPOSE command */
#define KD_FEATURE_MSG_RING (1U << 2) /* IORING_OP_MSG_RING (fallback) */

/*
 * Opens /dev/kdispose and checks its ABI version (-EPROTONOSUPPORT if it
 * differs). The caller owns the context: release it with kd_ctx_close().
 */
struct kd_ctx *kd_ctx_open(unsigned int flags, int *err);

/*
 * The finalizer path: every object of @ctx that is not disposed gets its
 * class's dispose(obj, false), children before parents (reverse creation
 * order), then the device file is closed and the kernel finalizes its side.
 * The file is closed when the last safe handle acquired by another thread
 * is released, at once otherwise. Objects the caller still references stay
 * allocated (every call on them returns -EIDRM or 0) until kd_obj_unref().
 *
 * The count is of library objects, those of kd_obj_new() included, so it
 * is not the kernel's "finalized" counter, which counts kernel objects:
 * those of the kinds' objects finalized here, plus raw handles
 * (kd_raw_create()) never disposed, minus library-only objects. A class
 * that forgets to chain up on this path is not reported by the return
 * value (KDISPOSE_DEBUG=chain reports it), and neither is which objects
 * were finalized (KDISPOSE_DEBUG=leaks lists them with their call sites).
 * Return: the number of library objects finalized, or -EINVAL.
 */
int kd_ctx_close(struct kd_ctx *ctx);

/*
 * The device fd, owned by the context: for /proc/self/fdinfo (the kernel's
 * per-file counters) and for the raw ioctls of <linux/kdispose.h>. Not for
 * poll(2): the device has no poll method, so poll reports it readable and
 * writable at once and tells nothing. To wait, use an event object
 * (kd_event_wait(); kd_event_fd() is an fd of it that polls) or pin an
 * eventfd (kd_file_new()).
 */
int kd_ctx_fd(const struct kd_ctx *ctx);

/*
 * KD_FEATURE_* bits of what the kernel offers; the io_uring bits are probed
 * once, on a private ring, at the first call. Return: the bits, or -errno.
 */
int kd_ctx_features(struct kd_ctx *ctx);

/*
 * Objects and classes
 */

/*
 * Creates an object of @cls that owns no kernel object (its chain must not
 * contain a kind's class). @owner (or NULL) is an object of the same
 * context that will own it: disposing the owner disposes it first.
 * Errors: -EINVAL (bad class, owner of another context; KDISPOSE_DEBUG=
 * checks says which), -EIDRM (owner or context disposed), -ENOMEM.
 * kd_obj_new() is a macro calling kd_obj_new_at() with its call site,
 * which the debug reports name (see "Call-site labels" below).
 */
struct kd_obj *kd_obj_new(struct kd_ctx *ctx, const struct kd_class *cls,
			  struct kd_obj *owner, int *err);
struct kd_obj *kd_obj_new_at(struct kd_ctx *ctx, const struct kd_class *cls,
			     struct kd_obj *owner, const char *file,
			     unsigned int line, int *err);

/*
 * The init hook of the _full constructors: the constructor's body, run once
 * on the new object after its memory is allocated (zeroed) and, for a
 * kind, its kernel object created, but before the object is published:
 * neither kd_ctx_close() nor the owner's dispose can reach it yet. @arg is
 * the constructor's @arg. Return 0, or a negative errno: the constructor
 * then returns NULL with that errno, and the object is freed without any
 * dispose running on it (its kernel object, and the objects the hook
 * created with @obj as their owner, are disposed): the hook undoes the rest
 * of what it did itself, as a constructor that fails does. If the object
 * cannot be published after a successful hook (its owner was disposed
 * meanwhile: -EIDRM), it is disposed whole, with disposing true. The hook
 * must not dispose @obj.
 */
typedef int kd_init_fn(struct kd_obj *obj, void *arg);

/*
 * kd_obj_new_at() with an init hook (NULL: none). So dispose never sees a
 * half-built object: set in @init what dispose relies on.
 */
struct kd_obj *kd_obj_new_full(struct kd_ctx *ctx, const struct kd_class *cls,
			       struct kd_obj *owner, kd_init_fn *init,
			       void *arg, const char *file, unsigned int line,
			       int *err);

/* Adds a reference; returns @obj. */
struct kd_obj *kd_obj_ref(struct kd_obj *obj);

/* Drops a reference; the last one frees the memory. Return: 0 or -EINVAL. */
int kd_obj_unref(struct kd_obj *obj);

/* Return: 1 once dispose or finalization of @obj started, 0 before. */
int kd_obj_is_disposed(struct kd_obj *obj);

/*
 * Checked downcasts (GLib's G_TYPE_CHECK_INSTANCE_CAST). kd_obj_is_a():
 * true when @obj is an object whose class is @cls or derives from it.
 * kd_obj_cast(): @obj if so, else NULL, which KDISPOSE_DEBUG=checks
 * reports with the call site (kd_obj_cast() is a macro passing it to
 * kd_obj_cast_at()). NULL casts to NULL silently.
 *	struct cache *c = KD_OBJ_CAST(obj, &cache_class, struct cache);
 */
bool kd_obj_is_a(struct kd_obj *obj, const struct kd_class *cls);
struct kd_obj *kd_obj_cast(struct kd_obj *obj, const struct kd_class *cls);
struct kd_obj *kd_obj_cast_at(struct kd_obj *obj, const struct kd_class *cls,
			      const char *file, unsigned int line);
#define KD_OBJ_CAST(obj, cls, type) \
	((type *)kd_obj_cast((struct kd_obj *)(obj), (cls)))

/*
 * Runs the dispose of @cls's parent class on @obj (base.Dispose(disposing)).
 * Call it from @cls's own dispose, with the same @disposing.
 */
void kd_chain_dispose(const struct kd_class *cls, struct kd_obj *obj,
		      bool disposing);

/*
 * Dispose(): disposes @obj's children (reverse creation order), runs
 * dispose(obj, true) of its class chain, then suppresses finalization (the
 * object leaves the context's finalizer list). Idempotent and thread-safe:
 * of concurrent calls exactly one runs the chain, the others return 0 at
 * once (before it ends). The kernel object is disposed by the kind's
 * dispose, or at the last kd_handle_release() if its handle is acquired.
 * Return: 1 when this call disposed @obj, 0 when it was disposed already,
 * -EPROTO when a class of the chain did not chain up exactly once to its
 * parent (the library ran the rest of the chain: @obj is disposed all the
 * same; KDISPOSE_DEBUG=chain names the class, also where the result is
 * dropped: KD_AUTO, kd_ctx_close()), a negative errno of the kernel
 * dispose or of a child's dispose (@obj is disposed all the same), -EINVAL
 * for a bad pointer.
 */
int kd_dispose(struct kd_obj *obj);

/* Close(): the same as kd_dispose(). */
int kd_close(struct kd_obj *obj);

/*
 * kd_dispose() on each of @objs (objects of @ctx; duplicates allowed), the
 * kernel objects of all of them in one KDISPOSE_IOC_DISPOSE_BATCH per
 * KDISPOSE_BATCH_MAX objects. @results (may be NULL) gets what kd_dispose()
 * would return for each. Return: how many results are 1, or -EINVAL.
 */
int kd_dispose_many(struct kd_ctx *ctx, struct kd_obj *const *objs,
		    unsigned int n, int *results);

/*
 * Safe handles (SafeHandle): every object of a kernel kind owns one
 */

/*
 * The object's safe handle, or NULL if @obj owns no kernel object. It lives
 * in the object's memory: hold a reference on the object for as long as
 * the handle is acquired.
 */
struct kd_handle *kd_obj_handle(struct kd_obj *obj);

/*
 * DangerousAddRef(): keeps the kernel object alive while the caller uses
 * the raw handle; a dispose meanwhile closes the handle but defers the
 * kernel dispose to the last kd_handle_release(). Return: 0, -EIDRM when
 * the handle is closed.
 */
int kd_handle_acquire(struct kd_handle *h);

/*
 * DangerousRelease(). Return: 0; or, when this call dropped the last
 * reference of a closed handle, what the kernel dispose returned (1 or 0;
 * 0 as well after kd_ctx_close(), whose file close finalizes it); -EINVAL
 * when no kd_handle_acquire() is outstanding.
 */
int kd_handle_release(struct kd_handle *h);

/*
 * SafeHandle.Close(): marks the handle closed (acquire fails from now on)
 * and disposes the kernel object unless the handle is acquired. The object
 * owning the handle stays alive; its operations return -EIDRM. Return: 1
 * when this call closed it, 0 if it was closed, or the kernel's -errno.
 */
int kd_handle_close(struct kd_handle *h);

/* IsInvalid: true if the handle holds no kernel handle value. */
bool kd_handle_is_invalid(const struct kd_handle *h);

/* IsClosed: true once the handle is closed (dispose, finalize, close). */
bool kd_handle_is_closed(const struct kd_handle *h);

/* DangerousGetHandle(): the raw handle; meaningful while acquired. */
uint64_t kd_handle_value(const struct kd_handle *h);

/*
 * Kinds: one class and one constructor per kernel object type. @cls is the
 * kind's class or a class derived from it (NULL: the kind's class). @owner
 * (or NULL) owns the new object; if it is a kernel object too, it becomes
 * the kernel parent and stays acquired by the child until the child's
 * kernel object is disposed, so the kernel cascade never overtakes a
 * deferred child. Errors: those of kd_obj_new() and the kernel's.
 *
 * Call-site labels: each constructor has an _at variant taking the source
 * @file and @line of its caller, and the plain name is a macro (below)
 * that passes __FILE__ and __LINE__ to it. The kernel label (shown by
 * KDISPOSE_IOC_QUERY, the tracepoints and the leak report) is then
 * "<basename of @file>:<line>", or its last 15 characters when longer, so
 * that the line number always survives: "parser.c:88"; for
 * "src/protocol_parser.c" at line 1234, "l_parser.c:1234". With a NULL
 * @file, and in the plain-name functions (reached through a function
 * pointer, a parenthesized name, or with KD_NO_CALL_SITE), the label is
 * the first 15 bytes of the class name: use a derived class to choose one.
 *
 * A factory of your own labels objects with its caller's line the same
 * way: take "const char *file, unsigned int line" and pass them to the _at
 * (or _full) constructor, and make the factory's name a macro passing
 * __FILE__ and __LINE__ (examples/lifecycle.c's cache_new()):
 *	#define cache_new(ctx, err) cache_new_at(ctx, __FILE__, __LINE__, err)
 * @file must live as long as the object (a string literal such as
 * __FILE__): the debug reports read it.
 *
 * The _full variants add an init hook (see kd_obj_new_full()), run once
 * the kernel object exists, before anything else can see the object.
 */
extern const struct kd_class kd_token_class;
extern const struct kd_class kd_memory_class;
extern const struct kd_class kd_event_class;
extern const struct kd_class kd_file_class;
extern const struct kd_class kd_group_class;

struct kd_obj *kd_token_new(struct kd_ctx *ctx, const struct kd_class *cls,
			    struct kd_obj *owner, uint64_t value, int *err);
int kd_token_get(struct kd_obj *obj, uint64_t *value);
int kd_token_set(struct kd_obj *obj, uint64_t value);

struct kd_obj *kd_memory_new(struct kd_ctx *ctx, const struct kd_class *cls,
			     struct kd_obj *owner, uint64_t size, int *err);
int kd_memory_read(struct kd_obj *obj, uint64_t offset, void *buf, size_t len);
int kd_memory_write(struct kd_obj *obj, uint64_t offset, const void *buf,
		    size_t len);
/*
 * Maps the whole buffer (MAP_SHARED, read/write); the mapping belongs to the
 * object and is unmapped by its dispose or finalization, or kd_memory_unmap().
 * A second call returns the same address. Stores the size in *size if
 * @size is not NULL.
 */
void *kd_memory_map(struct kd_obj *obj, uint64_t *size, int *err);
int kd_memory_unmap(struct kd_obj *obj);

/* Wait forever in kd_event_wait() */
#define KD_WAIT_FOREVER UINT64_MAX

struct kd_obj *kd_event_new(struct kd_ctx *ctx, const struct kd_class *cls,
			    struct kd_obj *owner, uint64_t flags, int *err);
int kd_event_signal(struct kd_obj *obj);
int kd_event_reset(struct kd_obj *obj);
/*
 * Waits until the event is signaled, at most @timeout_ns. The wait does not
 * hold the handle acquired: disposing the event wakes it with -EIDRM.
 * kd_ctx_close() does not: the file stays open until the wait returns.
 * Return: 0, -ETIMEDOUT, -EINTR, -EIDRM.
 */
int kd_event_wait(struct kd_obj *obj, uint64_t timeout_ns);

/*
 * Pins the open file @fd: a regular file, directory, FIFO, TCP, UDP or
 * netlink socket, eventfd, timerfd, signalfd, epoll, pidfd or /dev/null
 * and the like; -ELOOP for any other (see kd_file_new(3)).
 */
struct kd_obj *kd_file_new(struct kd_ctx *ctx, const struct kd_class *cls,
			   struct kd_obj *owner, int fd, int *err);
/* Installs a new fd for the pinned file (KDISPOSE_FILE_* flags); returns it. */
int kd_file_install(struct kd_obj *obj, uint64_t flags);

struct kd_obj *kd_group_new(struct kd_ctx *ctx, const struct kd_class *cls,
			    struct kd_obj *owner, int *err);

struct kd_obj *kd_token_new_at(struct kd_ctx *ctx, const struct kd_class *cls,
			       struct kd_obj *owner, uint64_t value,
			       const char *file, unsigned int line, int *err);
struct kd_obj *kd_memory_new_at(struct kd_ctx *ctx, const struct kd_class *cls,
				struct kd_obj *owner, uint64_t size,
				const char *file, unsigned int line, int *err);
struct kd_obj *kd_event_new_at(struct kd_ctx *ctx, const struct kd_class *cls,
			       struct kd_obj *owner, uint64_t flags,
			       const char *file, unsigned int line, int *err);
struct kd_obj *kd_file_new_at(struct kd_ctx *ctx, const struct kd_class *cls,
			      struct kd_obj *owner, int fd, const char *file,
			      unsigned int line, int *err);
struct kd_obj *kd_group_new_at(struct kd_ctx *ctx, const struct kd_class *cls,
			       struct kd_obj *owner, const char *file,
			       unsigned int line, int *err);

struct kd_obj *kd_token_new_full(struct kd_ctx *ctx, const struct kd_class *cls,
				 struct kd_obj *owner, uint64_t value,
				 kd_init_fn *init, void *arg, const char *file,
				 unsigned int line, int *err);
struct kd_obj *kd_memory_new_full(struct kd_ctx *ctx,
				  const struct kd_class *cls,
				  struct kd_obj *owner, uint64_t size,
				  kd_init_fn *init, void *arg, const char *file,
				  unsigned int line, int *err);
struct kd_obj *kd_event_new_full(struct kd_ctx *ctx, const struct kd_class *cls,
				 struct kd_obj *owner, uint64_t flags,
				 kd_init_fn *init, void *arg, const char *file,
				 unsigned int line, int *err);
struct kd_obj *kd_file_new_full(struct kd_ctx *ctx, const struct kd_class *cls,
				struct kd_obj *owner, int fd, kd_init_fn *init,
				void *arg, const char *file, unsigned int line,
				int *err);
struct kd_obj *kd_group_new_full(struct kd_ctx *ctx, const struct kd_class *cls,
				 struct kd_obj *owner, kd_init_fn *init,
				 void *arg, const char *file, unsigned int line,
				 int *err);

/*
 * The constructors label kernel objects with their caller's file and line.
 * Define KD_NO_CALL_SITE before including this header to keep the class
 * name as the label instead.
 */
#ifndef KD_NO_CALL_SITE
#define kd_token_new(ctx, cls, owner, value, err) \
	kd_token_new_at(ctx, cls, owner, value, __FILE__, __LINE__, err)
#define kd_memory_new(ctx, cls, owner, size, err) \
	kd_memory_new_at(ctx, cls, owner, size, __FILE__, __LINE__, err)
#define kd_event_new(ctx, cls, owner, flags, err) \
	kd_event_new_at(ctx, cls, owner, flags, __FILE__, __LINE__, err)
#define kd_file_new(ctx, cls, owner, fd, err) \
	kd_file_new_at(ctx, cls, owner, fd, __FILE__, __LINE__, err)
#define kd_group_new(ctx, cls, owner, err) \
	kd_group_new_at(ctx, cls, owner, __FILE__, __LINE__, err)
#define kd_obj_new(ctx, cls, owner, err) \
	kd_obj_new_at(ctx, cls, owner, __FILE__, __LINE__, err)
#define kd_obj_cast(obj, cls) kd_obj_cast_at(obj, cls, __FILE__, __LINE__)
#endif

/* KDISPOSE_IOC_QUERY on the object's kernel handle. */
int kd_obj_query(struct kd_obj *obj, struct kdispose_query *q);

/*
 * Sharing (Documentation/sharing.md): an export fd names the kernel object
 * of a memory buffer or an event beyond its context; it crosses processes
 * like any fd (fork, SCM_RIGHTS), and kd_import() makes a new object of
 * another context (or the same) that names the same kernel object. Each
 * name ends on its own: a library object by its dispose or finalization,
 * an export fd by close(2); the kernel object ends with its last name.
 */

/* kd_export() and kd_event_fd() flags */
#define KD_EXPORT_NO_CLOEXEC (1U << 0) /* the fd is not O_CLOEXEC */
#define KD_EXPORT_NONBLOCK (1U << 1) /* the fd is O_NONBLOCK (for read(2)) */

/*
 * DuplicateHandle, first half: a new export fd naming @obj's kernel object
 * (a memory buffer or an event), O_CLOEXEC unless KD_EXPORT_NO_CLOEXEC.
 * Every call makes a new fd. The caller owns it and closes it with
 * close(2); until then it keeps the kernel object alive whatever happens
 * to @obj, and counts as one object of the caller's user (the module's
 * max_user_objects). Return: the fd, or -EOPNOTSUPP (another kind, or no
 * kernel object), -EIDRM (disposed), -EINVAL (unknown flags, bad
 * pointer), -ENOTTY (a module without sharing), -EDQUOT, -EMFILE.
 */
int kd_export(struct kd_obj *obj, unsigned int flags);

/*
 * kd_export() of an event, for an event loop: the fd polls EPOLLIN while
 * the event is signaled and EPOLLHUP while no context holds a handle to it
 * (nobody can signal it any more); poll never consumes a signal. read(2)
 * of 8 bytes waits for the signal, returns the value 1 and consumes the
 * signal of an auto-reset event; with KD_EXPORT_NONBLOCK it fails with
 * EAGAIN when the event is not signaled (or another waiter took it).
 * Return: as kd_export(); -EOPNOTSUPP for an object that is not an event.
 */
int kd_event_fd(struct kd_obj *event, unsigned int flags);

/*
 * DuplicateHandle, second half: a new object of @ctx naming the kernel
 * object that the export fd @fd names (the fd stays the caller's). @cls is
 * kd_memory_class, kd_event_class or a class derived from one (-EINVAL
 * for a class of no kind), and -EMEDIUMTYPE if the exported object is of
 * another kind; NULL takes the kind's class of whatever @fd exports. The
 * object is like one its kind's constructor made: the caller owns one
 * reference, it has its own class chain and kernel handle (each import is
 * a new one, disposed on its own: the kernel object lives on through its
 * other names), it is on @ctx's finalizer list, and @owner, the call-site
 * label and the _full init hook work as for kd_event_new(). With @cls NULL
 * and no call site the label is "kd_import". Errors: those of kd_obj_new(),
 * -EBADF (@fd not open), -EINVAL (@fd is not an export fd), -EMEDIUMTYPE.
 */
struct kd_obj *kd_import(struct kd_ctx *ctx, const struct kd_class *cls,
			 struct kd_obj *owner, int fd, int *err);
struct kd_obj *kd_import_at(struct kd_ctx *ctx, const struct kd_class *cls,
			    struct kd_obj *owner, int fd, const char *file,
			    unsigned int line, int *err);
struct kd_obj *kd_import_full(struct kd_ctx *ctx, const struct kd_class *cls,
			      struct kd_obj *owner, int fd, kd_init_fn *init,
			      void *arg, const char *file, unsigned int line,
			      int *err);

#ifndef KD_NO_CALL_SITE
#define kd_import(ctx, cls, owner, fd, err) \
	kd_import_at(ctx, cls, owner, fd, __FILE__, __LINE__, err)
#endif

/*
 * WaitHandle.WaitAny() and WaitAll() (WaitForMultipleObjects): wait until
 * one (any) or all at the same moment (all) of the @n events @events are
 * signaled, at most @timeout_ns (KD_WAIT_FOREVER: no limit; 0 only
 * checks). 1 <= @n <= KDISPOSE_WAIT_MAX, all of one context (imported ones
 * included). Any returns the lowest index signaled and consumes that
 * event's signal if it is auto-reset; all consumes every auto-reset signal
 * at once, or none. As kd_event_wait(), the wait holds the context's file,
 * not the handles: disposing one of the events wakes it with -EIDRM.
 * Return: the index (any) or 0 (all), -ETIMEDOUT, -EINTR (never restarted);
 * for one bad event, with its index in *@index (if not NULL; not written
 * otherwise): -EIDRM (disposed, before or during the wait), -EOPNOTSUPP
 * (not an event), -EINVAL (not an object, of another context than
 * events[0]; with all, the same event twice, also through two imports);
 * -EINVAL without index for a bad @events or @n.
 */
int kd_wait_any(struct kd_obj *const *events, unsigned int n,
		uint64_t timeout_ns, unsigned int *index);
int kd_wait_all(struct kd_obj *const *events, unsigned int n,
		uint64_t timeout_ns, unsigned int *index);

/*
 * Raw kernel handles, no library object: thin wrappers of the ioctls.
 * A handle disposed here behind a library object's back makes that
 * object's operations fail with the kernel's -EIDRM.
 */
int kd_raw_create(struct kd_ctx *ctx, uint32_t type, uint64_t parent,
		  uint64_t arg, const char *label, uint64_t *handle);
/* Return: 1 (disposed by this call), 0 (disposed already), -errno. */
int kd_raw_dispose(struct kd_ctx *ctx, uint64_t handle);
/*
 * KDISPOSE_IOC_DISPOSE_BATCH, KDISPOSE_BATCH_MAX handles per call (one
 * KDISPOSE_IOC_DISPOSE per handle if the kernel has no batch ioctl).
 * @results gets one kd_raw_dispose() result per handle. Return: how many
 * results are 1, or -errno (-EFAULT: results of earlier chunks are valid).
 */
int kd_raw_dispose_many(struct kd_ctx *ctx, const uint64_t *handles,
			unsigned int n, int *results);
int kd_raw_query(struct kd_ctx *ctx, uint64_t handle, struct kdispose_query *q);
/* KDISPOSE_IOC_OP; @args (4 words) in and out. Return: >= 0 or -errno. */
int kd_raw_op(struct kd_ctx *ctx, uint64_t handle, uint32_t op, uint64_t *args);

/*
 * DisposeAsync on io_uring (liburing). Only the kernel object's dispose is
 * asynchronous: the object's children and its class chain run at once, in
 * the call, because the chain must end before the kernel object goes (the
 * classes may still use it) and the command is what disposes it.
 *
 * kd_prep_dispose() (liburing's io_uring_prep_*() style) fills an SQE the
 * caller got, and leaves the rest to the caller: user_data
 * (io_uring_sqe_set_data64()), flags such as IOSQE_IO_LINK, when to
 * submit. It returns KD_DISPOSE_QUEUED when the SQE is the kernel dispose
 * (IORING_OP_URING_CMD, KDISPOSE_URING_CMD_DISPOSE): its CQE's res is the
 * result (1, 0 or -errno, as kd_dispose()). Otherwise the result is known
 * now (the object was disposed already, owns no kernel object, has its
 * handle acquired, a class forgot to chain up, or the kernel has no
 * io_uring DISPOSE command and the ioctl did it): it is returned, and the
 * SQE is an IORING_OP_NOP (res 0) so that the caller's link chain and
 * completion count stay as prepared. The SQE is filled whatever the return,
 * -EINVAL included (NULL or foreign @obj). A command cancelled before it
 * ran (-ECANCELED: an earlier linked request failed) disposed nothing:
 * kd_raw_dispose() of the handle does, or kd_ctx_close() finalizes it.
 */
#define KD_DISPOSE_QUEUED 2
int kd_prep_dispose(struct io_uring_sqe *sqe, struct kd_obj *obj);
/* The same for a raw handle of @ctx. */
int kd_prep_raw_dispose(struct io_uring_sqe *sqe, struct kd_ctx *ctx,
			uint64_t handle);

/*
 * kd_dispose_async() takes the SQE itself, for callers that want exactly
 * one CQE with @user_data and nothing else to do: it calls
 * io_uring_get_sqe(), and when no kernel command is needed makes the SQE an
 * IORING_OP_MSG_RING to @ring itself that posts the CQE with the result
 * (so it needs Linux 5.18). It sets the SQE's flags, so it cannot be part
 * of a link chain: use kd_prep_dispose() for that.
 * Submit before kd_ctx_close(): a queued command names the device fd.
 * Return: 0; -EBUSY (no free SQE; nothing done), -EINVAL (IOPOLL ring, bad
 * argument), -EOPNOTSUPP (no IORING_OP_MSG_RING: Linux < 5.18), -errno of
 * the probe.
 */
int kd_dispose_async(struct io_uring *ring, struct kd_obj *obj,
		     uint64_t user_data);
/* The same for a raw handle of @ctx. */
int kd_raw_dispose_async(struct io_uring *ring, struct kd_ctx *ctx,
			 uint64_t handle, uint64_t user_data);
/*
 * The result of a CQE of kd_dispose_async() or of a queued
 * kd_prep_dispose(): 1 (disposed by this command), 0 (disposed already:
 * before, by a kernel parent's cascade), -EPROTO (see kd_dispose), or the
 * kernel's -errno (-ENOENT, -EBADF if the fd was closed before submission,
 * -ECANCELED, ...). Today that is cqe->res on every path; the call is the
 * contract, so that a later version may encode more in the CQE.
 */
int kd_dispose_async_result(const struct io_uring_cqe *cqe);

/*
 * using: scope-bound dispose (systemd's _cleanup_, glib's g_autoptr).
 *
 *	KD_AUTO(struct kd_obj) tok = kd_token_new(ctx, NULL, NULL, 1, &err);
 *
 * disposes and unreferences the object when tok goes out of scope, unless
 * KD_TAKE(tok) handed it over first (it returns the pointer and sets the
 * variable to NULL). The cleanup drops kd_dispose()'s result: run with
 * KDISPOSE_DEBUG=chain to see a forgotten chain-up reported.
 *
 * KD_AUTO_UNREF(type) only drops the reference at scope exit, without
 * disposing (g_autoptr beside g_auto): for a reference taken with
 * kd_obj_ref() on an object that someone else disposes.
 */
static inline void kd_obj_disposep(void *p)
{
	struct kd_obj *obj;

	memcpy(&obj, p, sizeof(obj));
	if (obj) {
		kd_dispose(obj);
		kd_obj_unref(obj);
	}
}

static inline void kd_obj_unrefp(void *p)
{
	struct kd_obj *obj;

	memcpy(&obj, p, sizeof(obj));
	if (obj)
		kd_obj_unref(obj);
}

static inline void kd_ctx_closep(struct kd_ctx **p)
{
	if (*p)
		kd_ctx_close(*p);
}

#define _cleanup_kd_ __attribute__((cleanup(kd_obj_disposep)))
#define _cleanup_kd_unref_ __attribute__((cleanup(kd_obj_unrefp)))
#define _cleanup_kd_ctx_ __attribute__((cleanup(kd_ctx_closep)))
#define KD_AUTO(type) _cleanup_kd_ type *
#define KD_AUTO_UNREF(type) _cleanup_kd_unref_ type *

#define KD_TAKE(var)                              \
	({                                        \
		__typeof__(var) *_kd_pp = &(var); \
		__typeof__(var) _kd_p = *_kd_pp;  \
		*_kd_pp = NULL;                   \
		_kd_p;                            \
	})

/*
 * Debugging (GLib's G_DEBUG): KDISPOSE_DEBUG, read once per process at the
 * first report, is a list of words separated by commas, colons or spaces;
 * each turns on one kind of report, one line each on stderr:
 *   chain   a class that did not chain up exactly once (-EPROTO), with
 *           the object's call site, on every path: also where the result
 *           is dropped (KD_AUTO, kd_ctx_close(), kd_dispose_many()).
 *   leaks   every object kd_ctx_close() finalized (it was never
 *           disposed), library-only ones included, with its call site.
 *   checks  every call refused for a bad argument (which check failed,
 *           and where, for the calls that know their call site) and every
 *           failed kd_obj_cast().
 *   all     all of them; help lists them.
 * Reports never change what a call returns.
 */

#ifdef __cplusplus
}
#endif

#endif /* KDISPOSE_H */
