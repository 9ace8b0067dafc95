// SPDX-License-Identifier: GPL-2.0
/*
 * lib_pkgconfig_prog: libkdispose as an application gets it. Built by
 * lib_pkgconfig_build.sh against an installed copy of the library through
 * pkg-config, linked with the shared library, and run by
 * lib_pkgconfig_test.sh through the dynamic loader.
 */
#include <errno.h>
#include <string.h>

#include <kdispose.h>

#include "kselftest_harness.h"

TEST(installed_shared_library)
{
	struct kd_obj *tok;
	struct kd_ctx *ctx;
	uint64_t v = 0;
	int err = 0;

	ctx = kd_ctx_open(0, &err);
	ASSERT_NE(NULL, ctx) TH_LOG("kd_ctx_open: %s", strerror(-err));
	tok = kd_token_new(ctx, NULL, NULL, 42, &err);
	ASSERT_NE(NULL, tok);
	EXPECT_EQ(0, kd_token_get(tok, &v));
	EXPECT_EQ(42, v);
	EXPECT_EQ(1, kd_dispose(tok));
	EXPECT_EQ(-EIDRM, kd_token_get(tok, &v));
	EXPECT_EQ(0, kd_obj_unref(tok));
	ASSERT_NE(NULL, kd_token_new(ctx, NULL, NULL, 1, &err));
	EXPECT_EQ(1, kd_ctx_close(ctx));
}

TEST_HARNESS_MAIN
