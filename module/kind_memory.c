// SPDX-License-Identifier: GPL-2.0
/*
 * KDISPOSE_TYPE_MEMORY: a zeroed memory buffer (.NET's SafeBuffer, or a
 * memory-mapped view when it is mapped).
 *
 * The buffer is an array of order-0 pages from alloc_page(), charged to the
 * memory cgroup (GFP_KERNEL_ACCOUNT) and to the owner's max_bytes quota
 * (kdispose_charge_bytes(), rounded up to whole pages). Userspace reaches
 * it in two ways:
 *
 * - KDISPOSE_OP_MEM_READ / KDISPOSE_OP_MEM_WRITE copy a range page by page
 *   through kmap_local_page(). There is no lock: concurrent writers race
 *   like threads writing shared memory. If the user memory faults the call
 *   fails with EFAULT; the bytes before the faulting address have been
 *   copied and nothing after it: a write from a bad pointer changes nothing
 *   (copy_from_user() would zero the rest of the chunk, so writes use
 *   __copy_from_user() after one access_ok() of the whole range).
 *
 * - mmap(MAP_SHARED) of the device fd at the offset KDISPOSE_IOC_QUERY
 *   reports (the object's seq in pages, like DRM's fake offsets). Private
 *   mappings are refused with EINVAL: a copy-on-write view of a buffer that
 *   other mappings and the write op change is more confusing than useful.
 *   The mapping must start at that offset and cannot be longer than the
 *   buffer (EINVAL). Pages are inserted lazily by the fault handler.
 *
 *   The fault handler indexes the buffer by the object's own base offset:
 *   page vmf->pgoff - seq, not vmf->pgoff - vma->vm_pgoff. vmf->pgoff is
 *   the faulting page's offset in the file, and mm keeps that offset for
 *   every page: a split (partial munmap, mprotect or mremap of a range)
 *   gives the vma after the split point the vm_pgoff of its own first page,
 *   mremap moves a vma with the file offset of its first page, and fork
 *   copies it. So vma->vm_pgoff is the buffer's base only for a vma that
 *   starts at the buffer's first page; indexing from it would show the
 *   buffer's first pages again in every other part of a split or moved
 *   mapping. VM_DONTEXPAND (part of VM_SPECIAL) keeps the vmas from
 *   growing or merging with a neighbour, so an index past the buffer
 *   cannot happen; it would raise SIGBUS.
 *
 * Lifetime: every vma that maps the buffer holds an object reference
 * (taken in ->mmap and in vm_ops->open, dropped in vm_ops->close), so a
 * dispose removes the handle at once but the pages stay until the last
 * munmap. A vma also pins the device file, so the owner outlives it.
 *
 * Sharing: the buffer can be exported and imported into other tables
 * (share.c). Each handle is then an object of its own table, with its own
 * mmap offset, and all of them point to one struct kdispose_memory. The
 * pages and the quota charge, which stays with the creator's file and
 * user, go when the last handle object is released and the last export
 * fd is closed (->share_free).
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "internal.h"

/**
 * struct kdispose_memory - the state of a memory buffer, shared by its names
 * @sh: the names and references (share.c).
 * @size: size in bytes asked for at creation.
 * @npages: entries of @pages: @size rounded up to pages. The quota charge
 *	is @npages pages.
 * @nmaps: vmas that map the buffer (KDISPOSE_STATE_MAPPED when not 0).
 * @pages: the pages. Fixed from creation to ->release.
 */
struct kdispose_memory {
	struct kdispose_shared sh;
	u64 size;
	unsigned long npages;
	atomic_t nmaps;
	struct page *pages[];
};

/* Frees the first @n pages of @mem, then @mem itself. */
static void kdispose_memory_free(struct kdispose_memory *mem, unsigned long n)
{
	while (n)
		__free_page(mem->pages[--n]);
	kvfree(mem);
}

static int kdispose_memory_init(struct kdispose_object *obj,
				const struct kdispose_create *args)
{
	struct kdispose_memory *mem;
	u64 size = args->args[0];
	unsigned long npages, i;
	int ret;

	if (args->args[1])
		return -EINVAL;
	if (!size || size > READ_ONCE(kdispose_max_bytes) ||
	    PAGE_ALIGN(size) < size)
		return -EINVAL;
	npages = PAGE_ALIGN(size) >> PAGE_SHIFT;

	ret = kdispose_charge_bytes(obj->owner, (u64)npages << PAGE_SHIFT);
	if (ret)
		return ret;

	mem = kvzalloc(struct_size(mem, pages, npages),
		       GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!mem)
		goto err_uncharge;
	mem->size = size;
	mem->npages = npages;
	atomic_set(&mem->nmaps, 0);
	for (i = 0; i < npages; i++) {
		mem->pages[i] = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
		if (!mem->pages[i])
			goto err_free;
	}
	/* The names own the pages and the quota charge until ->share_free. */
	kdispose_share_init(obj, &mem->sh);
	return 0;

err_free:
	kdispose_memory_free(mem, i);
err_uncharge:
	kdispose_uncharge_bytes(obj->owner, (u64)npages << PAGE_SHIFT);
	return -ENOMEM;
}

static struct kdispose_memory *kdispose_memory(struct kdispose_object *obj)
{
	return container_of((struct kdispose_shared *)obj->priv,
			    struct kdispose_memory, sh);
}

/* The last reference of the last name: back to the creator's quota. */
static void kdispose_memory_share_free(struct kdispose_shared *sh)
{
	struct kdispose_memory *mem = container_of(sh, struct kdispose_memory,
						   sh);
	u64 bytes = (u64)mem->npages << PAGE_SHIFT;

	kdispose_uncharge_bytes(sh->owner, bytes);
	kdispose_memory_free(mem, mem->npages);
}

/*
 * Copies @len bytes between offset @off of the buffer and @ubuf, one page at
 * a time. The caller has checked both ranges (access_ok() for @ubuf).
 */
static long kdispose_memory_copy(struct kdispose_memory *mem, u64 off,
				 u64 len, void __user *ubuf, bool to_user)
{
	while (len) {
		unsigned long pgoff = offset_in_page(off);
		size_t chunk = min_t(u64, len, PAGE_SIZE - pgoff);
		struct page *page = mem->pages[off >> PAGE_SHIFT];
		void *kaddr = kmap_local_page(page);
		unsigned long left;

		if (to_user)
			left = copy_to_user(ubuf, kaddr + pgoff, chunk);
		else
			left = __copy_from_user(kaddr + pgoff, ubuf, chunk);
		kunmap_local(kaddr);
		if (left)
			return -EFAULT;
		off += chunk;
		len -= chunk;
		ubuf += chunk;
		cond_resched();
	}
	return 0;
}

static long kdispose_memory_op(struct kdispose_object *obj,
			       struct kdispose_op *op)
{
	struct kdispose_memory *mem = kdispose_memory(obj);
	u64 off = op->args[0], len = op->args[1], end;
	void __user *ubuf;

	if (op->op != KDISPOSE_OP_MEM_READ && op->op != KDISPOSE_OP_MEM_WRITE)
		return -EOPNOTSUPP;
	if (op->args[3])
		return -EINVAL;
	if (check_add_overflow(off, len, &end) || end > mem->size)
		return -EINVAL;
	ubuf = u64_to_user_ptr(op->args[2]);
	if (!access_ok(ubuf, len))
		return -EFAULT;

	return kdispose_memory_copy(mem, off, len, ubuf,
				    op->op == KDISPOSE_OP_MEM_READ);
}

static void kdispose_memory_query(struct kdispose_object *obj,
				  struct kdispose_query *q)
{
	struct kdispose_memory *mem = kdispose_memory(obj);

	q->info[0] = mem->size;
	q->info[1] = kdispose_object_seq(obj) << PAGE_SHIFT;
	if (atomic_read(&mem->nmaps))
		q->state |= KDISPOSE_STATE_MAPPED;
}

/*
 * A vma was copied from one that maps the buffer (fork, a split by a partial
 * munmap or mprotect, mremap): the copy holds a reference of its own.
 */
static void kdispose_memory_vm_open(struct vm_area_struct *vma)
{
	struct kdispose_object *obj = vma->vm_private_data;
	struct kdispose_memory *mem = kdispose_memory(obj);

	kdispose_object_get(obj);
	atomic_inc(&mem->nmaps);
}

/*
 * A vma is going away (munmap, exit, a failed mmap after ->mmap succeeded).
 * Its page table entries are gone already. The put may be the last one and
 * free the pages, even long after the handle was disposed.
 */
static void kdispose_memory_vm_close(struct vm_area_struct *vma)
{
	struct kdispose_object *obj = vma->vm_private_data;
	struct kdispose_memory *mem = kdispose_memory(obj);

	atomic_dec(&mem->nmaps);
	kdispose_object_put(obj);
}

static vm_fault_t kdispose_memory_vm_fault(struct vm_fault *vmf)
{
	struct kdispose_object *obj = vmf->vma->vm_private_data;
	struct kdispose_memory *mem = kdispose_memory(obj);
	/* The file offset minus the buffer's base: see the top of the file. */
	u64 idx = vmf->pgoff - kdispose_object_seq(obj);

	if (idx >= mem->npages)
		return VM_FAULT_SIGBUS;
	/* The page table entry takes this page reference; zap drops it. */
	vmf->page = mem->pages[idx];
	get_page(vmf->page);
	return 0;
}

static const struct vm_operations_struct kdispose_memory_vm_ops = {
	.open = kdispose_memory_vm_open,
	.close = kdispose_memory_vm_close,
	.fault = kdispose_memory_vm_fault,
};

static int kdispose_memory_mmap(struct kdispose_object *obj,
				struct vm_area_struct *vma)
{
	struct kdispose_memory *mem = kdispose_memory(obj);

	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (vma_pages(vma) > mem->npages)
		return -EINVAL;

	kdispose_vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_ops = &kdispose_memory_vm_ops;
	/* The mapping's own reference: vm_ops->close drops it. */
	kdispose_object_get(obj);
	vma->vm_private_data = obj;
	atomic_inc(&mem->nmaps);
	return 0;
}

const struct kdispose_kind_ops kdispose_memory_ops = {
	.init = kdispose_memory_init,
	.dispose = kdispose_share_dispose,
	.release = kdispose_share_release,
	.share_free = kdispose_memory_share_free,
	.op = kdispose_memory_op,
	.query = kdispose_memory_query,
	.mmap = kdispose_memory_mmap,
};
