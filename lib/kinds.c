// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The kernel kinds: token, memory, event, file and group objects.
 *
 * Their classes derive from __kd_kobj_class, whose dispose closes the safe
 * handle (which disposes the kernel object, or leaves it to the last
 * kd_handle_release(), or to the file close when finalizing) and unmaps a
 * memory buffer. Every operation holds the handle acquired around its
 * ioctl, so a dispose from another thread meanwhile waits for it; only
 * kd_event_wait() lets go before sleeping, so that a dispose wakes it.
 *
 * Each kind's class and constructors come from its line in KD_KINDS; its
 * operations are written out below them. kdispose.h declares them all, so
 * the compiler checks each expansion against the public prototypes.
 *
 * Sharing (Documentation/sharing.md) comes last: kd_export() and
 * kd_event_fd() are operations like the others; kd_import() is a
 * constructor of whichever kind the export fd names, through the same
 * kd_kobj_new() as the kinds' own; kd_wait_any() and kd_wait_all() wait
 * as kd_event_wait() does.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib.h"

/*
 * struct kd_kind - a kernel kind, one per line of KD_KINDS
 * @klass: its class, kd_<name>_class: every class of the kind derives it.
 * @type: its enum kdispose_type (the UAPI's name).
 * @fd_arg: the constructor's argument is a file descriptor: a negative one
 *	gives -EBADF before anything else is checked.
 */
struct kd_kind {
	const struct kd_class *klass;
	uint32_t type;
	bool fd_arg;
};

/*
 * X(name, type, params, arg, fd_arg): the kind kd_<name>_kind of
 * KDISPOSE_TYPE_<type>, its class kd_<name>_class, and its constructors
 * kd_<name>_new(), kd_<name>_new_at() and kd_<name>_new_full(), whose
 * parameters after @owner are @params (each followed by a comma) and whose
 * kernel argument is @arg. Adding a kind here still needs its declarations
 * in kdispose.h, its symbols in libkdispose.map and its man page.
 */
#define KD_KINDS(X)                                       \
	X(token, TOKEN, (uint64_t value, ), value, false) \
	X(memory, MEMORY, (uint64_t size, ), size, false) \
	X(event, EVENT, (uint64_t flags, ), flags, false) \
	X(file, FILE, (int fd, ), fd, true)               \
	X(group, GROUP, (), 0, false)

#define KD_UNPAREN(...) __VA_ARGS__

#define KD_KIND_DEFINE(name_, type_, params_, arg_, fd_arg_)   \
	KD_EXPORT const struct kd_class kd_##name_##_class = { \
		.name = "kd_" #name_,                          \
		.size = sizeof(struct kd_obj),                 \
		.parent = &__kd_kobj_class,                    \
	};                                                     \
	static const struct kd_kind kd_##name_##_kind = {      \
		.klass = &kd_##name_##_class,                  \
		.type = KDISPOSE_TYPE_##type_,                 \
		.fd_arg = fd_arg_,                             \
	};

KD_KINDS(KD_KIND_DEFINE)

#define KD_KIND_REF(name_, type_, params_, arg_, fd_arg_) &kd_##name_##_kind,

static const struct kd_kind *const kd_kinds[] = { KD_KINDS(KD_KIND_REF) };

/* Return: the kind whose class @cls is or derives from, or NULL. */
static const struct kd_kind *kd_kind_of_class(const struct kd_class *cls)
{
	size_t i;

	for (i = 0; i < sizeof(kd_kinds) / sizeof(kd_kinds[0]); i++)
		if (__kd_class_derives(cls, kd_kinds[i]->klass))
			return kd_kinds[i];
	return NULL;
}

/* Return: the kind of enum kdispose_type @type, or NULL. */
static const struct kd_kind *kd_kind_of_type(uint32_t type)
{
	size_t i;

	for (i = 0; i < sizeof(kd_kinds) / sizeof(kd_kinds[0]); i++)
		if (kd_kinds[i]->type == type)
			return kd_kinds[i];
	return NULL;
}

/* Takes down a memory buffer's mapping, if it has one. */
static void kd_memory_drop_map(struct kd_obj_priv *p)
{
	size_t len;
	void *map;

	pthread_mutex_lock(&p->ctx->lock);
	map = p->map;
	len = p->map_len;
	p->map = NULL;
	pthread_mutex_unlock(&p->ctx->lock);
	if (map)
		munmap(map, len);
}

/*
 * The kind's part of a dispose: closes the safe handle, which releases the
 * kernel object as @mode says, and takes down a memory buffer's mapping.
 * Return: as __kd_handle_close().
 */
int __kd_kobj_close(struct kd_obj_priv *p, enum kd_mode mode)
{
	int ret = __kd_handle_close(&p->handle, mode);

	/* After the close, kd_memory_map() cannot store a new mapping. */
	if (p->kind == &kd_memory_kind)
		kd_memory_drop_map(p);
	return ret;
}

/* Releases the kernel object of @p, which no dispose will see (object.c). */
void __kd_kobj_release(struct kd_obj_priv *p)
{
	__kd_kobj_close(p, KD_MODE_SYNC);
}

/* A class's dispose returns nothing: the chain carries the outcome back. */
static void kd_kobj_dispose(struct kd_obj *obj, bool disposing)
{
	struct kd_obj_priv *p = __kd_obj_priv(obj);

	p->chain.kernel = __kd_kobj_close(p, p->chain.mode);
	kd_chain_dispose(&__kd_kobj_class, obj, disposing);
}

const struct kd_class __kd_kobj_class = {
	.name = "kd_kobj",
	.size = sizeof(struct kd_obj),
	.parent = &kd_object_class,
	.dispose = kd_kobj_dispose,
};

/*
 * Writes "<basename of @file>:<line>" into @label (zeroed, of
 * KDISPOSE_LABEL_LEN bytes), keeping its last KDISPOSE_LABEL_LEN - 1
 * characters: the line number (at most 10 digits) always fits whole.
 */
static void kd_label_call_site(char *label, const char *file, unsigned int line)
{
	const char *base = file, *end;
	size_t num_len = 2, keep, i; /* ':' and the last digit */
	unsigned int l;

	/*
	 * Byte loops rather than strrchr(), strlen() and memcpy(): a file
	 * name is a few bytes, and this runs for every object created.
	 */
	for (end = file; *end; end++)
		if (*end == '/')
			base = end + 1;
	for (l = line; l >= 10; l /= 10)
		num_len++;
	keep = KDISPOSE_LABEL_LEN - 1 - num_len;
	if (keep > (size_t)(end - base))
		keep = end - base;
	for (i = 0; i < keep; i++)
		label[i] = (end - keep)[i];
	label[keep] = ':';
	for (i = keep + num_len - 1; i > keep; i--, line /= 10)
		label[i] = '0' + line % 10;
}

/*
 * struct kd_kobj_desc - what a kind's constructor was asked for
 * @kind: the kind; NULL for an import, whose kind @cls or the export fd
 *	decides.
 * @ctx: the context.
 * @cls: the class: the kind's or one derived from it (NULL: the kind's).
 * @owner: the owning object, or NULL.
 * @arg: the kernel argument (args[0] of KDISPOSE_IOC_CREATE), or the
 *	export fd of an import.
 * @import: KDISPOSE_IOC_IMPORT of the export fd @arg, not a create.
 * @init: the init hook, or NULL.
 * @init_arg: its argument.
 * @site: the constructor and its call site (file NULL: label with the
 *	class name).
 */
struct kd_kobj_desc {
	const struct kd_kind *kind;
	struct kd_ctx *ctx;
	const struct kd_class *cls;
	struct kd_obj *owner;
	uint64_t arg;
	bool import;
	kd_init_fn *init;
	void *init_arg;
	struct kd_site site;
};

/*
 * KDISPOSE_DEBUG=checks: why the kernel refused to create an object with
 * -EINVAL, as far as the library can tell from the arguments.
 */
static void kd_kobj_einval(const struct kd_kobj_desc *d)
{
	if (d->kind == &kd_memory_kind && !d->arg)
		__kd_check_failed(&d->site, -EINVAL,
				  "size 0: a buffer has at least one byte");
	else if (d->kind == &kd_memory_kind)
		__kd_check_failed(
			&d->site, -EINVAL,
			"the kernel refused size %llu (above the module's max_bytes parameter?)",
			(unsigned long long)d->arg);
	else
		__kd_check_failed(&d->site, -EINVAL,
				  "the kernel refused argument %#llx",
				  (unsigned long long)d->arg);
}

/*
 * KDISPOSE_IOC_IMPORT of the export fd d->arg with the parent and label of
 * @c, whose handle gets the new handle. *@kind is the kind the caller
 * asked for, or NULL to accept any: the kernel's query then tells which
 * (-EMEDIUMTYPE, the new handle disposed, for a type without a class
 * here). Return: 0 or -errno.
 */
static int kd_kobj_import(const struct kd_kobj_desc *d,
			  struct kdispose_create *c,
			  const struct kd_kind **kind)
{
	struct kdispose_import imp = {
		.fd = (int)d->arg,
		.type = *kind ? (*kind)->type : 0,
		.parent = c->parent,
	};
	struct kdispose_query q = { 0 };
	int ret;

	memcpy(imp.label, c->label, sizeof(imp.label));
	ret = __kd_sys_import(d->ctx->fd, &imp);
	if (ret == -EINVAL)
		__kd_check_failed(
			&d->site, ret,
			"fd %d is not an export fd of /dev/kdispose (see kd_export())",
			imp.fd);
	else if (ret == -EMEDIUMTYPE)
		__kd_check_failed(
			&d->site, ret,
			"fd %d exports an object of another kind than class \"%s\"",
			imp.fd, __kd_class_name(d->cls));
	if (ret < 0)
		return ret;
	c->handle = imp.handle;
	if (*kind)
		return 0;
	q.handle = imp.handle;
	ret = __kd_sys_query(d->ctx->fd, &q);
	if (!ret) {
		*kind = kd_kind_of_type(q.type);
		if (!*kind)
			ret = -EMEDIUMTYPE;
	}
	if (ret < 0)
		__kd_sys_dispose(d->ctx->fd, imp.handle);
	return ret;
}

/*
 * Creates the kernel object, labelled with the call site, or with the
 * class name if there is none, runs the init hook and publishes the
 * library object. The owner's handle, if it has one, is the kernel parent
 * and stays acquired by the new handle.
 *
 * An import of any kind (@d->kind and @d->cls NULL) allocates the object
 * before it knows the kind, as the first kind's, and gives it its kind's
 * class once the kernel said which it is, before the object can be seen:
 * every kind's class has the same size and depth (KD_KIND_DEFINE).
 */
static struct kd_obj *kd_kobj_new(const struct kd_kobj_desc *d, int *err)
{
	const struct kd_kind *kind = d->kind;
	const struct kd_class *cls = d->cls;
	struct kdispose_create c = { .args = { d->arg } };
	struct kd_handle *parent = NULL;
	struct kd_obj_priv *p, *op;
	int ret;

	/* A negative int converted to uint64_t is above INT_MAX. */
	if ((d->import || kind->fd_arg) && d->arg > INT_MAX) {
		__kd_check_failed(&d->site, -EBADF,
				  "fd %d is not a file descriptor",
				  (int)d->arg);
		ret = -EBADF;
		goto err;
	}
	if (d->import && cls) {
		kind = kd_kind_of_class(cls);
		if (!kind) {
			__kd_check_failed(
				&d->site, -EINVAL,
				"class \"%s\" derives from no kernel kind: import into kd_memory_class, kd_event_class or a class derived from one",
				__kd_class_name(cls));
			ret = -EINVAL;
			goto err;
		}
	}
	if (!cls)
		cls = kind ? kind->klass : kd_kinds[0]->klass;
	if (kind && cls != kind->klass &&
	    !__kd_class_derives(cls, kind->klass)) {
		__kd_check_failed(
			&d->site, -EINVAL,
			"class \"%s\" does not derive from \"%s\"%s",
			__kd_class_name(cls), __kd_class_name(kind->klass),
			cls->parent ?
				"" :
				" (its parent is NULL: it derives from kd_object_class only)");
		ret = -EINVAL;
		goto err;
	}
	p = __kd_obj_create(d->ctx, cls, d->owner, &d->site, &ret);
	if (!p)
		goto err;
	op = __kd_obj_priv(d->owner);
	if (op && op->kind) {
		ret = kd_handle_acquire(&op->handle);
		if (ret)
			goto err_destroy;
		parent = &op->handle;
		c.parent = parent->value;
	}
	if (d->site.file)
		kd_label_call_site(c.label, d->site.file, d->site.line);
	else if (!kind)
		memcpy(c.label, "kd_import", sizeof("kd_import"));
	else if (cls->name)
		memcpy(c.label, cls->name,
		       strnlen(cls->name, KDISPOSE_LABEL_LEN - 1));
	if (d->import) {
		ret = kd_kobj_import(d, &c, &kind);
	} else {
		c.type = kind->type;
		ret = __kd_sys_create(d->ctx->fd, &c);
		if (ret == -EINVAL)
			kd_kobj_einval(d);
	}
	if (ret < 0)
		goto err_parent;

	if (!d->cls)
		kd_priv_obj(p)->klass = kind->klass;
	p->kind = kind;
	__kd_handle_init(&p->handle, d->ctx, c.handle, parent);
	/* From here the kernel object and the parent go with @p. */
	ret = __kd_obj_init_publish(p, d->init, d->init_arg);
	if (ret)
		goto err;
	return kd_priv_obj(p);

err_parent:
	if (parent)
		kd_handle_release(parent);
err_destroy:
	__kd_obj_destroy(p);
err:
	if (err)
		*err = ret;
	return NULL;
}

/*
 * The descriptor of a call to kind @name_'s constructor @fn_, inside its
 * body (whose parameters ctx, cls and owner it takes).
 */
#define KD_KOBJ_DESC(name_, fn_, arg_, init_, init_arg_, file_, line_) \
	{                                                              \
		.kind = &kd_##name_##_kind, .ctx = ctx, .cls = cls,    \
		.owner = owner, .arg = (arg_), .init = (init_),        \
		.init_arg = (init_arg_), .site = {                     \
			.fn = (fn_),                                   \
			.file = (file_),                               \
			.line = (line_)                                \
		}                                                      \
	}

/*
 * The three constructors of a kind: the _at variant labels the kernel
 * object with the call site, the plain name with the class name (see
 * "Call-site labels" in kdispose.h), the _full variant is _at with an
 * init hook.
 */
#define KD_KIND_NEW(name_, type_, params_, arg_, fd_arg_)                      \
	KD_EXPORT struct kd_obj *kd_##name_##_new_full(                        \
		struct kd_ctx *ctx, const struct kd_class *cls,                \
		struct kd_obj *owner, KD_UNPAREN params_ kd_init_fn *init,     \
		void *arg, const char *file, unsigned int line, int *err)      \
	{                                                                      \
		const struct kd_kobj_desc d =                                  \
			KD_KOBJ_DESC(name_, "kd_" #name_ "_new_full", arg_,    \
				     init, arg, file, line);                   \
                                                                               \
		return kd_kobj_new(&d, err);                                   \
	}                                                                      \
                                                                               \
	KD_EXPORT struct kd_obj *kd_##name_##_new_at(                          \
		struct kd_ctx *ctx, const struct kd_class *cls,                \
		struct kd_obj *owner, KD_UNPAREN params_ const char *file,     \
		unsigned int line, int *err)                                   \
	{                                                                      \
		const struct kd_kobj_desc d =                                  \
			KD_KOBJ_DESC(name_, "kd_" #name_ "_new", arg_, NULL,   \
				     NULL, file, line);                        \
                                                                               \
		return kd_kobj_new(&d, err);                                   \
	}                                                                      \
                                                                               \
	KD_EXPORT struct kd_obj *kd_##name_##_new(struct kd_ctx *ctx,          \
						  const struct kd_class *cls,  \
						  struct kd_obj *owner,        \
						  KD_UNPAREN params_ int *err) \
	{                                                                      \
		const struct kd_kobj_desc d =                                  \
			KD_KOBJ_DESC(name_, "kd_" #name_ "_new", arg_, NULL,   \
				     NULL, NULL, 0);                           \
                                                                               \
		return kd_kobj_new(&d, err);                                   \
	}

KD_KINDS(KD_KIND_NEW)

/* The descriptor of a call to the import constructor @fn_. */
#define KD_IMPORT_DESC(fn_, init_, init_arg_, file_, line_)               \
	{                                                                 \
		.ctx = ctx, .cls = cls, .owner = owner, .arg = fd,        \
		.import = true, .init = (init_), .init_arg = (init_arg_), \
		.site = {                                                 \
			.fn = (fn_),                                      \
			.file = (file_),                                  \
			.line = (line_)                                   \
		}                                                         \
	}

KD_EXPORT struct kd_obj *
kd_import_full(struct kd_ctx *ctx, const struct kd_class *cls,
	       struct kd_obj *owner, int fd, kd_init_fn *init, void *arg,
	       const char *file, unsigned int line, int *err)
{
	const struct kd_kobj_desc d =
		KD_IMPORT_DESC("kd_import_full", init, arg, file, line);

	return kd_kobj_new(&d, err);
}

KD_EXPORT struct kd_obj *kd_import_at(struct kd_ctx *ctx,
				      const struct kd_class *cls,
				      struct kd_obj *owner, int fd,
				      const char *file, unsigned int line,
				      int *err)
{
	const struct kd_kobj_desc d =
		KD_IMPORT_DESC("kd_import", NULL, NULL, file, line);

	return kd_kobj_new(&d, err);
}

KD_EXPORT struct kd_obj *kd_import(struct kd_ctx *ctx,
				   const struct kd_class *cls,
				   struct kd_obj *owner, int fd, int *err)
{
	const struct kd_kobj_desc d =
		KD_IMPORT_DESC("kd_import", NULL, NULL, NULL, 0);

	return kd_kobj_new(&d, err);
}

/*
 * Return: @obj's private part with its handle acquired, or NULL and *err
 * set: -EINVAL (bad pointer), -EOPNOTSUPP (not of kind @kind, or of any
 * kernel kind if @kind is NULL), -EIDRM (disposed).
 */
static struct kd_obj_priv *kd_kobj_acquire(struct kd_obj *obj,
					   const struct kd_kind *kind, int *err)
{
	struct kd_obj_priv *p = __kd_obj_priv(obj);

	if (!p) {
		*err = -EINVAL;
		return NULL;
	}
	if (!p->kind || (kind && p->kind != kind)) {
		*err = -EOPNOTSUPP;
		return NULL;
	}
	*err = kd_handle_acquire(&p->handle);
	return *err ? NULL : p;
}

static int kd_kobj_op(struct kd_obj *obj, const struct kd_kind *kind,
		      uint32_t op, uint64_t *args)
{
	struct kdispose_op o = { .op = op };
	struct kd_obj_priv *p;
	int ret;

	p = kd_kobj_acquire(obj, kind, &ret);
	if (!p)
		return ret;
	o.handle = p->handle.value;
	memcpy(o.args, args, sizeof(o.args));
	ret = __kd_sys_op(p->ctx->fd, &o);
	memcpy(args, o.args, sizeof(o.args));
	kd_handle_release(&p->handle);
	return ret;
}

KD_EXPORT int kd_token_get(struct kd_obj *obj, uint64_t *value)
{
	uint64_t args[4] = { 0 };
	int ret;

	if (!value)
		return -EINVAL;
	ret = kd_kobj_op(obj, &kd_token_kind, KDISPOSE_OP_TOKEN_GET, args);
	if (!ret)
		*value = args[0];
	return ret;
}

KD_EXPORT int kd_token_set(struct kd_obj *obj, uint64_t value)
{
	uint64_t args[4] = { value };

	return kd_kobj_op(obj, &kd_token_kind, KDISPOSE_OP_TOKEN_SET, args);
}

KD_EXPORT int kd_memory_read(struct kd_obj *obj, uint64_t offset, void *buf,
			     size_t len)
{
	uint64_t args[4] = { offset, len, (uintptr_t)buf };

	return kd_kobj_op(obj, &kd_memory_kind, KDISPOSE_OP_MEM_READ, args);
}

KD_EXPORT int kd_memory_write(struct kd_obj *obj, uint64_t offset,
			      const void *buf, size_t len)
{
	uint64_t args[4] = { offset, len, (uintptr_t)buf };

	return kd_kobj_op(obj, &kd_memory_kind, KDISPOSE_OP_MEM_WRITE, args);
}

KD_EXPORT void *kd_memory_map(struct kd_obj *obj, uint64_t *size, int *err)
{
	struct kdispose_query q = { 0 };
	struct kd_obj_priv *p;
	void *addr = NULL, *old;
	int ret;

	p = kd_kobj_acquire(obj, &kd_memory_kind, &ret);
	if (!p)
		goto out;
	q.handle = p->handle.value;
	ret = __kd_sys_query(p->ctx->fd, &q);
	if (ret < 0)
		goto out_release;
	if (q.info[0] > SIZE_MAX) {
		ret = -EOVERFLOW;
		goto out_release;
	}

	pthread_mutex_lock(&p->ctx->lock);
	addr = p->map;
	pthread_mutex_unlock(&p->ctx->lock);
	if (addr)
		goto out_release;

	addr = mmap(NULL, q.info[0], PROT_READ | PROT_WRITE, MAP_SHARED,
		    p->ctx->fd, q.info[1]);
	if (addr == MAP_FAILED) {
		ret = -errno;
		addr = NULL;
		goto out_release;
	}
	pthread_mutex_lock(&p->ctx->lock);
	old = p->map;
	if (!old && kd_handle_is_closed(&p->handle)) {
		/* Disposed meanwhile: its dispose has taken the mapping. */
		ret = -EIDRM;
	} else if (!old) {
		p->map = addr;
		p->map_len = q.info[0];
	}
	pthread_mutex_unlock(&p->ctx->lock);
	if (old || ret) {
		munmap(addr, q.info[0]);
		addr = old;
	}
out_release:
	kd_handle_release(&p->handle);
out:
	if (addr && size)
		*size = q.info[0];
	if (!addr && err)
		*err = ret;
	return addr;
}

KD_EXPORT int kd_memory_unmap(struct kd_obj *obj)
{
	struct kd_obj_priv *p = __kd_obj_priv(obj);

	if (!p)
		return -EINVAL;
	if (p->kind != &kd_memory_kind)
		return -EOPNOTSUPP;
	kd_memory_drop_map(p);
	return 0;
}

KD_EXPORT int kd_event_signal(struct kd_obj *obj)
{
	uint64_t args[4] = { 0 };

	return kd_kobj_op(obj, &kd_event_kind, KDISPOSE_OP_EVENT_SIGNAL, args);
}

KD_EXPORT int kd_event_reset(struct kd_obj *obj)
{
	uint64_t args[4] = { 0 };

	return kd_kobj_op(obj, &kd_event_kind, KDISPOSE_OP_EVENT_RESET, args);
}

KD_EXPORT int kd_event_wait(struct kd_obj *obj, uint64_t timeout_ns)
{
	struct kdispose_op o = {
		.op = KDISPOSE_OP_EVENT_WAIT,
		.args = { timeout_ns },
	};
	struct kd_obj_priv *p;
	struct kd_ctx *ctx;
	int ret;

	p = kd_kobj_acquire(obj, &kd_event_kind, &ret);
	if (!p)
		return ret;
	/*
	 * Hold the file, not the handle: a dispose from another thread must
	 * reach the kernel, which then wakes this wait with EIDRM.
	 */
	ctx = p->ctx;
	o.handle = p->handle.value;
	__kd_ctx_fd_get(ctx);
	kd_handle_release(&p->handle);
	ret = __kd_sys_op(ctx->fd, &o);
	__kd_ctx_fd_put(ctx);
	return ret;
}

KD_EXPORT int kd_file_install(struct kd_obj *obj, uint64_t flags)
{
	uint64_t args[4] = { flags };

	return kd_kobj_op(obj, &kd_file_kind, KDISPOSE_OP_FILE_INSTALL, args);
}

KD_EXPORT int kd_obj_query(struct kd_obj *obj, struct kdispose_query *q)
{
	struct kd_obj_priv *p;
	int ret;

	if (!q)
		return -EINVAL;
	p = kd_kobj_acquire(obj, NULL, &ret);
	if (!p)
		return ret;
	memset(q, 0, sizeof(*q));
	q->handle = p->handle.value;
	ret = __kd_sys_query(p->ctx->fd, q);
	kd_handle_release(&p->handle);
	return ret;
}

KD_EXPORT struct kd_handle *kd_obj_handle(struct kd_obj *obj)
{
	struct kd_obj_priv *p = __kd_obj_priv(obj);

	return p && p->kind ? &p->handle : NULL;
}

/*
 * kd_export() of @obj, which must be of @kind (NULL: any kind, which the
 * kernel then checks).
 */
static int kd_kobj_export(struct kd_obj *obj, const struct kd_kind *kind,
			  unsigned int flags, const char *fn)
{
	struct kdispose_export e = { 0 };
	struct kd_obj_priv *p;
	int fd, ret;

	if (flags & ~(KD_EXPORT_NO_CLOEXEC | KD_EXPORT_NONBLOCK)) {
		const struct kd_site site = { .fn = fn };

		__kd_check_failed(&site, -EINVAL, "unknown flags %#x",
				  flags & ~(KD_EXPORT_NO_CLOEXEC |
					    KD_EXPORT_NONBLOCK));
		return -EINVAL;
	}
	p = kd_kobj_acquire(obj, kind, &ret);
	if (!p)
		return ret;
	e.handle = p->handle.value;
	if (flags & KD_EXPORT_NO_CLOEXEC)
		e.flags |= KDISPOSE_EXPORT_NO_CLOEXEC;
	fd = __kd_sys_export(p->ctx->fd, &e);
	kd_handle_release(&p->handle);
	if (fd < 0 || !(flags & KD_EXPORT_NONBLOCK))
		return fd;
	/* A new file of its own: its status flags are this fd's alone. */
	ret = fcntl(fd, F_GETFL);
	if (ret < 0 || fcntl(fd, F_SETFL, ret | O_NONBLOCK) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

KD_EXPORT int kd_export(struct kd_obj *obj, unsigned int flags)
{
	return kd_kobj_export(obj, NULL, flags, "kd_export");
}

KD_EXPORT int kd_event_fd(struct kd_obj *event, unsigned int flags)
{
	return kd_kobj_export(event, &kd_event_kind, flags, "kd_event_fd");
}

/*
 * KDISPOSE_IOC_WAIT on @events with @flags. Every event is acquired while
 * its handle is read, then, as in kd_event_wait(), the wait holds the
 * file instead, so that a dispose from another thread reaches the kernel
 * and wakes it with EIDRM.
 */
static int kd_wait_many(struct kd_obj *const *events, unsigned int n,
			uint64_t timeout_ns, uint32_t flags,
			unsigned int *index, const char *fn)
{
	const struct kd_site site = { .fn = fn };
	uint64_t handles[KDISPOSE_WAIT_MAX];
	struct kdispose_wait w = {
		.handles = (uintptr_t)handles,
		.count = n,
		.flags = flags,
		.timeout_ns = timeout_ns,
		.index = UINT32_MAX,
	};
	struct kd_ctx *ctx = NULL;
	struct kd_obj_priv *p;
	unsigned int i;
	int ret;

	if (!events) {
		__kd_check_failed(&site, -EINVAL, "events is NULL");
		return -EINVAL;
	}
	if (!n || n > KDISPOSE_WAIT_MAX) {
		__kd_check_failed(&site, -EINVAL, "%u events: wait for 1 to %d",
				  n, KDISPOSE_WAIT_MAX);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		p = kd_kobj_acquire(events[i], &kd_event_kind, &ret);
		if (p && ctx && p->ctx != ctx) {
			kd_handle_release(&p->handle);
			p = NULL;
			ret = -EINVAL;
			__kd_check_failed(
				&site, ret,
				"events[%u] belongs to another context than events[0]",
				i);
		}
		if (!p)
			goto err_release;
		ctx = p->ctx;
		handles[i] = p->handle.value;
	}
	__kd_ctx_fd_get(ctx);
	for (i = 0; i < n; i++)
		kd_handle_release(&__kd_obj_priv(events[i])->handle);
	ret = __kd_sys_wait(ctx->fd, &w);
	__kd_ctx_fd_put(ctx);
	/* The kernel writes @index only for the error of one handle. */
	if (ret < 0 && w.index < n && index)
		*index = w.index;
	return ret;

err_release:
	if (index)
		*index = i;
	while (i--)
		kd_handle_release(&__kd_obj_priv(events[i])->handle);
	return ret;
}

KD_EXPORT int kd_wait_any(struct kd_obj *const *events, unsigned int n,
			  uint64_t timeout_ns, unsigned int *index)
{
	return kd_wait_many(events, n, timeout_ns, 0, index, "kd_wait_any");
}

KD_EXPORT int kd_wait_all(struct kd_obj *const *events, unsigned int n,
			  uint64_t timeout_ns, unsigned int *index)
{
	return kd_wait_many(events, n, timeout_ns, KDISPOSE_WAIT_ALL, index,
			    "kd_wait_all");
}
