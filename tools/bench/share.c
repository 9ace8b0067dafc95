// SPDX-License-Identifier: GPL-2.0
/*
 * Row 10: sharing a memory object with another table, against DRM PRIME
 * on vgem. One iteration of each case names an object that already
 * exists (created once, outside the timed blocks) from a second file and
 * lets go of that name again:
 *
 *	kdispose  KDISPOSE_IOC_EXPORT (table A) + KDISPOSE_IOC_IMPORT (into
 *		  table B) + KDISPOSE_IOC_DISPOSE (B's handle) + close() of
 *		  the export fd
 *	vgem      DRM_IOCTL_PRIME_HANDLE_TO_FD (drm fd 1) +
 *		  DRM_IOCTL_PRIME_FD_TO_HANDLE (into drm fd 2) +
 *		  DRM_IOCTL_GEM_CLOSE (fd 2's handle) + close() of the dma-buf
 *
 * and, as a breakdown, the import and its undo alone (the export fd kept
 * open) and the export and its close alone. Not the same work: DRM makes
 * one dma-buf per object at its first export and hands out new fds of
 * that one file afterwards, where each kdispose export makes a new file
 * (Documentation/sharing.md: one name, one close). The cases run side by
 * side, one block each per round, as rows 1-3 do.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <drm/drm.h>
#include <drm/drm_mode.h>
#include <linux/kdispose.h>

#include "bench.h"

#define DRM_CARD	"/dev/dri/card0"
#define DRM_RENDER	"/dev/dri/renderD128"

struct share {
	int kfd;		/* table A, which created the buffer */
	int kfd2;		/* table B, which imports it */
	uint64_t buf;		/* A's memory buffer (4 KiB) */
	int kexport;		/* an export fd of it, kept open */
	int drm_fd;		/* vgem, which created the dumb buffer */
	int drm_fd2;		/* a second vgem file, which imports it */
	uint32_t bo;		/* drm_fd's handle of the dumb buffer */
	int dmabuf;		/* a dma-buf fd of it, kept open */
};

static int kd_export(struct share *s)
{
	struct kdispose_export e = { .handle = s->buf };

	return xioctl(s->kfd, KDISPOSE_IOC_EXPORT, &e, "KDISPOSE_IOC_EXPORT");
}

static void kd_import_dispose(struct share *s, int efd)
{
	struct kdispose_import im = {
		.fd = efd, .type = KDISPOSE_TYPE_MEMORY,
	};

	xioctl(s->kfd2, KDISPOSE_IOC_IMPORT, &im, "KDISPOSE_IOC_IMPORT");
	dispose_one(s->kfd2, im.handle);
}

static int vgem_export(struct share *s)
{
	struct drm_prime_handle ph = { .handle = s->bo, .flags = DRM_CLOEXEC };

	xioctl(s->drm_fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &ph,
	       "DRM_IOCTL_PRIME_HANDLE_TO_FD");
	return ph.fd;
}

static void vgem_import_close(struct share *s, int dmabuf)
{
	struct drm_prime_handle ph = { .fd = dmabuf };
	struct drm_gem_close gc = {};

	xioctl(s->drm_fd2, DRM_IOCTL_PRIME_FD_TO_HANDLE, &ph,
	       "DRM_IOCTL_PRIME_FD_TO_HANDLE");
	gc.handle = ph.handle;
	xioctl(s->drm_fd2, DRM_IOCTL_GEM_CLOSE, &gc, "DRM_IOCTL_GEM_CLOSE");
}

static void share_kdispose(struct share *s, unsigned int n)
{
	unsigned int i;
	int efd;

	for (i = 0; i < n; i++) {
		efd = kd_export(s);
		kd_import_dispose(s, efd);
		close(efd);
	}
}

static void share_kdispose_import(struct share *s, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		kd_import_dispose(s, s->kexport);
}

static void share_kdispose_export(struct share *s, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		close(kd_export(s));
}

static void share_vgem(struct share *s, unsigned int n)
{
	unsigned int i;
	int dmabuf;

	for (i = 0; i < n; i++) {
		dmabuf = vgem_export(s);
		vgem_import_close(s, dmabuf);
		close(dmabuf);
	}
}

static void share_vgem_import(struct share *s, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		vgem_import_close(s, s->dmabuf);
}

static void share_vgem_export(struct share *s, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		close(vgem_export(s));
}

/* The second vgem file: the render node if there is one, else the card. */
static int open_vgem2(void)
{
	int fd = open(DRM_RENDER, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		fd = open(DRM_CARD, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("%s, %s: %s", DRM_RENDER, DRM_CARD, strerror(errno));
	return fd;
}

static void share_setup(struct share *s, char *why, size_t len)
{
	struct kdispose_create c = {
		.type = KDISPOSE_TYPE_MEMORY, .args = { 4096 },
	};

	s->kfd = open_kdispose();
	s->kfd2 = open_kdispose();
	xioctl(s->kfd, KDISPOSE_IOC_CREATE, &c, "KDISPOSE_IOC_CREATE");
	s->buf = c.handle;
	s->kexport = kd_export(s);

	s->drm_fd = open_vgem(why, len);
	if (s->drm_fd >= 0) {
		struct drm_mode_create_dumb cd = {
			.width = 1, .height = 1, .bpp = 32,
		};

		xioctl(s->drm_fd, DRM_IOCTL_MODE_CREATE_DUMB, &cd,
		       "DRM_IOCTL_MODE_CREATE_DUMB");
		s->bo = cd.handle;
		s->drm_fd2 = open_vgem2();
		s->dmabuf = vgem_export(s);
	}
}

static void share_teardown(struct share *s)
{
	if (s->drm_fd >= 0) {
		struct drm_gem_close gc = { .handle = s->bo };

		close(s->dmabuf);
		close(s->drm_fd2);
		xioctl(s->drm_fd, DRM_IOCTL_GEM_CLOSE, &gc,
		       "DRM_IOCTL_GEM_CLOSE");
		close(s->drm_fd);
	}
	close(s->kexport);
	dispose_one(s->kfd, s->buf);
	close(s->kfd2);
	close(s->kfd);
}

void row_share(void)
{
	enum {
		S_KDISPOSE, S_KD_IMPORT, S_KD_EXPORT,
		S_VGEM, S_VGEM_IMPORT, S_VGEM_EXPORT, S_NCASES
	};
	static void (*const cases[S_NCASES])(struct share *, unsigned int) = {
		[S_KDISPOSE] = share_kdispose,
		[S_KD_IMPORT] = share_kdispose_import,
		[S_KD_EXPORT] = share_kdispose_export,
		[S_VGEM] = share_vgem,
		[S_VGEM_IMPORT] = share_vgem_import,
		[S_VGEM_EXPORT] = share_vgem_export,
	};
	double t[S_NCASES][MAX_ROUNDS], m[S_NCASES];
	unsigned int n = cfg->rounds, round, c, ncases;
	struct share s = { .drm_fd = -1 };
	char why[96] = "";
	struct result *r;
	uint64_t t0;

	share_setup(&s, why, sizeof(why));
	ncases = s.drm_fd >= 0 ? S_NCASES : S_VGEM;

	progress("row 10: export + import + dispose against vgem PRIME");
	for (round = 0; round < n; round++) {
		for (c = 0; c < ncases; c++) {
			t0 = now_ns();
			cases[c](&s, cfg->block);
			t[c][round] = elapsed(t0) / cfg->block;
		}
	}
	for (c = 0; c < S_NCASES; c++)
		m[c] = c < ncases ? median(t[c], n) : NAN;

	r = add(10, "export+import+dispose+close", m[S_KDISPOSE], "ns");
	note(r, "4 KiB memory buffer, table A to table B");
	add(10, "import+dispose, export fd kept", m[S_KD_IMPORT], "ns");
	add(10, "export+close", m[S_KD_EXPORT], "ns");
	if (ncases < S_NCASES) {
		skip(10, "vgem PRIME export+import+close", "%s", why);
		share_teardown(&s);
		return;
	}
	r = add(10, "vgem HANDLE_TO_FD+FD_TO_HANDLE+CLOSE", m[S_VGEM], "ns");
	note(r, "+ close() of the dma-buf fd; fd 2: %s",
	     access(DRM_RENDER, F_OK) ? "the card again" : "render node");
	add(10, "vgem FD_TO_HANDLE+GEM_CLOSE, fd kept", m[S_VGEM_IMPORT],
	    "ns");
	r = add(10, "vgem HANDLE_TO_FD+close", m[S_VGEM_EXPORT], "ns");
	note(r, "a new fd of the object's one dma-buf");
	r = add(10, "share / vgem PRIME", ratio(t[S_KDISPOSE], t[S_VGEM], n),
		"ratio");
	note(r, "the whole round trip");
	add(10, "import+dispose / FD_TO_HANDLE+GEM_CLOSE",
	    ratio(t[S_KD_IMPORT], t[S_VGEM_IMPORT], n), "ratio");
	r = add(10, "export+close / HANDLE_TO_FD+close",
		ratio(t[S_KD_EXPORT], t[S_VGEM_EXPORT], n), "ratio");
	note(r, "kdispose makes a new file per export, DRM reuses one");
	share_teardown(&s);
}
