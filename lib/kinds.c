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
 */
#include <errno.h>
#include <sys/mman.h>

#include "lib.h"

static void kd_kobj_dispose(struct kd_obj *obj, bool disposing)
{
	struct kd_obj_priv *p = __kd_obj_priv(obj);
	size_t len;
	void *map;

	p->kclose = __kd_handle_close(&p->handle, p->mode, &p->kresult);

	/* After the close, kd_memory_map() cannot store a new mapping. */
	if (p->type == KDISPOSE_TYPE_MEMORY) {
		pthread_mutex_lock(&p->ctx->lock);
		map = p->map;
		len = p->map_len;
		p->map = NULL;
		pthread_mutex_unlock(&p->ctx->lock);
		if (map)
			munmap(map, len);
	}

	kd_chain_dispose(&__kd_kobj_class, obj, disposing);
}

const struct kd_class __kd_kobj_class = {
	.name = "kd_kobj",
	.size = sizeof(struct kd_obj),
	.parent = &kd_object_class,
	.dispose = kd_kobj_dispose,
};

KD_EXPORT const struct kd_class kd_token_class = {
	.name = "kd_token",
	.size = sizeof(struct kd_obj),
	.parent = &__kd_kobj_class,
};

KD_EXPORT const struct kd_class kd_memory_class = {
	.name = "kd_memory",
	.size = sizeof(struct kd_obj),
	.parent = &__kd_kobj_class,
};

KD_EXPORT const struct kd_class kd_event_class = {
	.name = "kd_event",
	.size = sizeof(struct kd_obj),
	.parent = &__kd_kobj_class,
};

KD_EXPORT const struct kd_class kd_file_class = {
	.name = "kd_file",
	.size = sizeof(struct kd_obj),
	.parent = &__kd_kobj_class,
};

KD_EXPORT const struct kd_class kd_group_class = {
	.name = "kd_group",
	.size = sizeof(struct kd_obj),
	.parent = &__kd_kobj_class,
};

/*
 * Writes "<basename of @file>:<line>" into @label (zeroed, of
 * KDISPOSE_LABEL_LEN bytes), keeping its last KDISPOSE_LABEL_LEN - 1
 * characters: the line number (at most 10 digits) always fits whole.
 */
static void kd_label_call_site(char *label, const char *file, unsigned int line)
{
	const char *base = strrchr(file, '/');
	char num[11], *n = num + sizeof(num); /* ':' and up to 10 digits */
	size_t base_len, num_len, keep;

	do {
		*--n = '0' + line % 10;
		line /= 10;
	} while (line);
	*--n = ':';
	num_len = num + sizeof(num) - n;

	base = base ? base + 1 : file;
	base_len = strlen(base);
	keep = KDISPOSE_LABEL_LEN - 1 - num_len;
	if (keep > base_len)
		keep = base_len;
	memcpy(label, base + base_len - keep, keep);
	memcpy(label + keep, n, num_len);
}

/*
 * Creates the kernel object, labelled with the call site @file:@line, or
 * with the class name if @file is NULL, then publishes the library
 * object. The owner's handle, if it has one, is the kernel parent and
 * stays acquired by the new handle.
 */
static struct kd_obj *
kd_kobj_new(struct kd_ctx *ctx, const struct kd_class *cls,
	    const struct kd_class *kind, struct kd_obj *owner, uint32_t type,
	    uint64_t arg, const char *file, unsigned int line, int *err)
{
	struct kdispose_create c = { .type = type, .args = { arg } };
	struct kd_handle *parent = NULL;
	struct kd_obj_priv *p, *op;
	int ret, kresult;

	if (!cls) {
		cls = kind;
	} else if (!__kd_class_derives(cls, kind)) {
		ret = -EINVAL;
		goto err;
	}
	p = __kd_obj_create(ctx, cls, owner, &ret);
	if (!p)
		goto err;
	op = __kd_obj_priv(owner);
	if (op && op->type) {
		ret = kd_handle_acquire(&op->handle);
		if (ret)
			goto err_destroy;
		parent = &op->handle;
		c.parent = parent->value;
	}
	if (file)
		kd_label_call_site(c.label, file, line);
	else if (cls->name)
		memcpy(c.label, cls->name,
		       strnlen(cls->name, KDISPOSE_LABEL_LEN - 1));
	ret = __kd_sys_create(ctx->fd, &c);
	if (ret < 0)
		goto err_parent;

	p->type = type;
	__kd_handle_init(&p->handle, ctx, c.handle, parent);
	ret = __kd_obj_publish(p);
	if (ret) {
		/* Disposes the kernel object and releases the parent. */
		__kd_handle_close(&p->handle, KD_MODE_SYNC, &kresult);
		goto err_destroy;
	}
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
 * Return: @obj's private part with its handle acquired, or NULL and *err
 * set: -EINVAL (bad pointer), -EOPNOTSUPP (not of kernel type @type, or
 * of any kernel type if @type is 0), -EIDRM (disposed).
 */
static struct kd_obj_priv *kd_kobj_acquire(struct kd_obj *obj, uint32_t type,
					   int *err)
{
	struct kd_obj_priv *p = __kd_obj_priv(obj);

	if (!p) {
		*err = -EINVAL;
		return NULL;
	}
	if (!p->type || (type && p->type != type)) {
		*err = -EOPNOTSUPP;
		return NULL;
	}
	*err = kd_handle_acquire(&p->handle);
	return *err ? NULL : p;
}

static int kd_kobj_op(struct kd_obj *obj, uint32_t type, uint32_t op,
		      uint64_t *args)
{
	struct kdispose_op o = { .op = op };
	struct kd_obj_priv *p;
	int ret;

	p = kd_kobj_acquire(obj, type, &ret);
	if (!p)
		return ret;
	o.handle = p->handle.value;
	memcpy(o.args, args, sizeof(o.args));
	ret = __kd_sys_op(p->ctx->fd, &o);
	memcpy(args, o.args, sizeof(o.args));
	kd_handle_release(&p->handle);
	return ret;
}

KD_EXPORT struct kd_obj *kd_token_new_at(struct kd_ctx *ctx,
					 const struct kd_class *cls,
					 struct kd_obj *owner, uint64_t value,
					 const char *file, unsigned int line,
					 int *err)
{
	return kd_kobj_new(ctx, cls, &kd_token_class, owner,
			   KDISPOSE_TYPE_TOKEN, value, file, line, err);
}

KD_EXPORT struct kd_obj *kd_token_new(struct kd_ctx *ctx,
				      const struct kd_class *cls,
				      struct kd_obj *owner, uint64_t value,
				      int *err)
{
	return kd_token_new_at(ctx, cls, owner, value, NULL, 0, err);
}

KD_EXPORT int kd_token_get(struct kd_obj *obj, uint64_t *value)
{
	uint64_t args[4] = { 0 };
	int ret;

	if (!value)
		return -EINVAL;
	ret = kd_kobj_op(obj, KDISPOSE_TYPE_TOKEN, KDISPOSE_OP_TOKEN_GET, args);
	if (!ret)
		*value = args[0];
	return ret;
}

KD_EXPORT int kd_token_set(struct kd_obj *obj, uint64_t value)
{
	uint64_t args[4] = { value };

	return kd_kobj_op(obj, KDISPOSE_TYPE_TOKEN, KDISPOSE_OP_TOKEN_SET,
			  args);
}

KD_EXPORT struct kd_obj *kd_memory_new_at(struct kd_ctx *ctx,
					  const struct kd_class *cls,
					  struct kd_obj *owner, uint64_t size,
					  const char *file, unsigned int line,
					  int *err)
{
	return kd_kobj_new(ctx, cls, &kd_memory_class, owner,
			   KDISPOSE_TYPE_MEMORY, size, file, line, err);
}

KD_EXPORT struct kd_obj *kd_memory_new(struct kd_ctx *ctx,
				       const struct kd_class *cls,
				       struct kd_obj *owner, uint64_t size,
				       int *err)
{
	return kd_memory_new_at(ctx, cls, owner, size, NULL, 0, err);
}

KD_EXPORT int kd_memory_read(struct kd_obj *obj, uint64_t offset, void *buf,
			     size_t len)
{
	uint64_t args[4] = { offset, len, (uintptr_t)buf };

	return kd_kobj_op(obj, KDISPOSE_TYPE_MEMORY, KDISPOSE_OP_MEM_READ,
			  args);
}

KD_EXPORT int kd_memory_write(struct kd_obj *obj, uint64_t offset,
			      const void *buf, size_t len)
{
	uint64_t args[4] = { offset, len, (uintptr_t)buf };

	return kd_kobj_op(obj, KDISPOSE_TYPE_MEMORY, KDISPOSE_OP_MEM_WRITE,
			  args);
}

KD_EXPORT void *kd_memory_map(struct kd_obj *obj, uint64_t *size, int *err)
{
	struct kdispose_query q = { 0 };
	struct kd_obj_priv *p;
	void *addr = NULL, *old;
	int ret;

	p = kd_kobj_acquire(obj, KDISPOSE_TYPE_MEMORY, &ret);
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
	size_t len;
	void *map;

	if (!p)
		return -EINVAL;
	if (p->type != KDISPOSE_TYPE_MEMORY)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&p->ctx->lock);
	map = p->map;
	len = p->map_len;
	p->map = NULL;
	pthread_mutex_unlock(&p->ctx->lock);
	if (map)
		munmap(map, len);
	return 0;
}

KD_EXPORT struct kd_obj *kd_event_new_at(struct kd_ctx *ctx,
					 const struct kd_class *cls,
					 struct kd_obj *owner, uint64_t flags,
					 const char *file, unsigned int line,
					 int *err)
{
	return kd_kobj_new(ctx, cls, &kd_event_class, owner,
			   KDISPOSE_TYPE_EVENT, flags, file, line, err);
}

KD_EXPORT struct kd_obj *kd_event_new(struct kd_ctx *ctx,
				      const struct kd_class *cls,
				      struct kd_obj *owner, uint64_t flags,
				      int *err)
{
	return kd_event_new_at(ctx, cls, owner, flags, NULL, 0, err);
}

KD_EXPORT int kd_event_signal(struct kd_obj *obj)
{
	uint64_t args[4] = { 0 };

	return kd_kobj_op(obj, KDISPOSE_TYPE_EVENT, KDISPOSE_OP_EVENT_SIGNAL,
			  args);
}

KD_EXPORT int kd_event_reset(struct kd_obj *obj)
{
	uint64_t args[4] = { 0 };

	return kd_kobj_op(obj, KDISPOSE_TYPE_EVENT, KDISPOSE_OP_EVENT_RESET,
			  args);
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

	p = kd_kobj_acquire(obj, KDISPOSE_TYPE_EVENT, &ret);
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

KD_EXPORT struct kd_obj *kd_file_new_at(struct kd_ctx *ctx,
					const struct kd_class *cls,
					struct kd_obj *owner, int fd,
					const char *file, unsigned int line,
					int *err)
{
	if (fd < 0) {
		if (err)
			*err = -EBADF;
		return NULL;
	}
	return kd_kobj_new(ctx, cls, &kd_file_class, owner, KDISPOSE_TYPE_FILE,
			   fd, file, line, err);
}

KD_EXPORT struct kd_obj *kd_file_new(struct kd_ctx *ctx,
				     const struct kd_class *cls,
				     struct kd_obj *owner, int fd, int *err)
{
	return kd_file_new_at(ctx, cls, owner, fd, NULL, 0, err);
}

KD_EXPORT int kd_file_install(struct kd_obj *obj, uint64_t flags)
{
	uint64_t args[4] = { flags };

	return kd_kobj_op(obj, KDISPOSE_TYPE_FILE, KDISPOSE_OP_FILE_INSTALL,
			  args);
}

KD_EXPORT struct kd_obj *kd_group_new_at(struct kd_ctx *ctx,
					 const struct kd_class *cls,
					 struct kd_obj *owner, const char *file,
					 unsigned int line, int *err)
{
	return kd_kobj_new(ctx, cls, &kd_group_class, owner,
			   KDISPOSE_TYPE_GROUP, 0, file, line, err);
}

KD_EXPORT struct kd_obj *kd_group_new(struct kd_ctx *ctx,
				      const struct kd_class *cls,
				      struct kd_obj *owner, int *err)
{
	return kd_group_new_at(ctx, cls, owner, NULL, 0, err);
}

KD_EXPORT int kd_obj_query(struct kd_obj *obj, struct kdispose_query *q)
{
	struct kd_obj_priv *p;
	int ret;

	if (!q)
		return -EINVAL;
	p = kd_kobj_acquire(obj, 0, &ret);
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

	return p && p->type ? &p->handle : NULL;
}
