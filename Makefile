# SPDX-License-Identifier: GPL-2.0
#
# kdispose: build the module, the library, the selftests and the examples,
# and run them in a QEMU guest.
#
#   make              build everything (against the Debian kernel headers)
#   make check        install what is missing, build, run the library's
#                     host checks (check-lib), boot the VM, run the
#                     selftests, then boot it again with preempt=full for
#                     the race programs (the race tier); the last line is
#                     "N passed, N failed" of both boots together
#   make check-race   the race tier alone
#   make check-lib    the library on the build host, no VM: its ABI, its
#                     install, a pkg-config build from this tree, every
#                     man page read with man -l in the tree and after
#                     "make install" into a scratch root, and every EXAMPLE
#                     of the man pages compiled (lib/Makefile's check)
#   make check-debug  the same on a KASAN/kmemleak/lockdep debug kernel
#   make check-in-tree  the selftests built and run from inside a kernel tree
#   make check-system  the Debian packages installed with apt on a booted
#                     Debian 12 system (Debian 13: check-system-13)
#   make bench        the benchmarks in the VM, with vgem (build/bench.tsv)
#   make fuzz         a long seeded fuzzing run (FUZZ_OPS=, FUZZ_SEED=)
#   make demo         the same, running examples/lifecycle, demo and share
#   make clean
#
# Variables (defaults come from scripts/deps, see $(KDISPOSE_CACHE)/env.mk):
#   KDIR=DIR          kernel build tree for the module
#   KERNEL=FILE       kernel image the VM boots (must match KDIR)
#   VM_MODULES=DIR    that kernel's /lib/modules/VERSION (for VM_LOAD)
#   VM_LOAD="m1 m2"   modules of VM_MODULES to load before kdispose.ko
#   CHECK_LOAD="..."  modules that check loads first, before VM_LOAD
#                     (default: vhost-net and its dependencies, for
#                     cycle_test); empty for a kernel with them built in
#   T=, TESTS="a b"   selftest programs to run (default: all)
#   INSMOD_ARGS="..." kdispose.ko parameters in the VM
#   VM_ENV="K=V ..."  environment of the tests in the VM
#   VM_TIMEOUT=SECS   wall-clock limit of one VM run
#   VM_BOOT_TIMEOUT=SECS  (environment) how long a kernel may take to start
#                     the VM's /init before it is booted once more (300)
#   VM_SMP=N          vCPUs of the bench's VM (default 2; make bench only)
#   VM_APPEND="..."   more kernel command line for the VM, e.g. preempt=full
#                     (scripts/vm-run --append)
#   RACE_TESTS="a b"  the race programs, which make check runs in the race
#                     tier's boot only (default: race_test xfile_race_test)
#   RACE_APPEND="..." the race tier's kernel command line, after VM_APPEND
#                     (default: preempt=full)
#   KVER=6.12         build in a Debian 13 chroot and boot its 6.12 kernel
#                     (scripts/kernel-6.12); the default is Debian 12's 6.1

KDISPOSE_CACHE ?= /var/cache/kdispose
ENV_MK := $(KDISPOSE_CACHE)/env.mk
.DEFAULT_GOAL := all

# scripts/deps installs what is missing and writes env.mk. make runs it
# before anything else (fast when all is there) and rereads env.mk when it
# changed: always for check, demo and deps, and for building unless KDIR is
# given (a real machine with its own kernel tree). Otherwise, and for
# "make clean", env.mk is used if it exists and nothing is installed.
# Installing and packaging need neither the VM nor a kernel tree.
NO_DEPS_GOALS := install tools tools-clean dkms-source dkms-install \
		 packages check-packages check-lib
NEED_DEPS := $(filter check check-debug check-in-tree check-system \
		   check-system-13 demo bench fuzz deps,\
		   $(MAKECMDGOALS))
ifeq ($(origin KDIR),undefined)
NEED_DEPS += $(filter-out clean $(NO_DEPS_GOALS),$(or $(MAKECMDGOALS),all))
endif

ifneq ($(strip $(NEED_DEPS)),)
include $(ENV_MK)

$(ENV_MK): FORCE
	@scripts/deps
else
-include $(ENV_MK)
endif

LINUX_SRC ?= $(KDISPOSE_LINUX_SRC)

# KVER=6.12: Debian 13's kernel. Everything is built inside the trixie
# chroot of scripts/kernel-6.12 (gcc-14, liburing 2.9) from a clean tree,
# then booted as usual. Switching back to 6.1 needs a "make clean".
ifeq ($(KVER),6.12)
KERNEL_612 := scripts/kernel-6.12
KDIR := $(shell $(KERNEL_612) kdir)
KERNEL := $(shell $(KERNEL_612) image)
VM_MODULES := $(shell $(KERNEL_612) moddir)
BUILD := build-6.12
else
BUILD := all
endif

KDIR ?= $(KDISPOSE_KDIR)
KERNEL ?= $(KDISPOSE_KERNEL)
VM_MODULES ?= $(KDISPOSE_MODULES)
TESTS ?= $(T)
INSMOD_ARGS ?=
VM_ENV ?=
VM_LOAD ?=
# vhost-net, which cycle_test pins, and what it needs (modules.dep of 6.1
# and 6.12), in load order. Debian builds them as modules; the debug
# kernel has them built in and check-debug empties the list.
CHECK_LOAD ?= vhost_iotlb vhost tap tun vhost_net
VM_TIMEOUT ?= 600
VM_APPEND ?=
DEBUG_VM_TIMEOUT ?= 1800
RACE_TESTS ?= race_test xfile_race_test
RACE_APPEND ?= preempt=full

export KDISPOSE_CACHE
ifneq ($(LINUX_SRC),)
export LINUX_SRC
endif

VM_RUN_ARGS = --kernel "$(KERNEL)" --modules "$(VM_MODULES)" \
	      --load "$(strip $(VM_RUN_LOAD) $(VM_LOAD))" \
	      --insmod-args "$(INSMOD_ARGS)" --env "$(VM_ENV)" \
	      --timeout "$(VM_TIMEOUT)"
VM_RUN = scripts/vm-run $(VM_RUN_ARGS) --append "$(VM_APPEND)"

# The race tier boots with RACE_APPEND: with preempt=full (the Debian
# kernels are built with dynamic preemption, and default to voluntary) a
# task can be preempted anywhere in the kernel, inside RCU read sections
# too, which widens race windows a lot. Its own work directory keeps the
# logs of both boots.
VM_RUN_RACE = scripts/vm-run $(VM_RUN_ARGS) \
	      --append "$(strip $(VM_APPEND) $(RACE_APPEND))" \
	      --build "$(CURDIR)/build/vm-race"

# What each boot of make check runs: T (default: every program) without
# the race programs, then those of T that are race programs.
ALL_TESTS = $(shell $(MAKE) -s --no-print-directory -C selftests \
	      emit_tests COLLECTION=kdispose | sed -n 's/^kdispose://p')
CHECK_TESTS = $(filter-out $(RACE_TESTS),$(or $(TESTS),$(ALL_TESTS)))
CHECK_RACE_TESTS = $(strip $(if $(TESTS),$(filter $(RACE_TESTS),$(TESTS)),\
			     $(RACE_TESTS)))

.PHONY: all deps module lib selftests examples check check-race check-lib \
	check-debug check-in-tree bench fuzz demo clean build-6.12 FORCE

all: module lib selftests examples

deps: $(ENV_MK)

module:
	$(if $(KDIR),,$(error KDIR is not set: run scripts/deps or give KDIR=))
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

lib:
	$(if $(wildcard lib/Makefile),$(MAKE) -C lib)

selftests: lib
	$(MAKE) -C selftests

examples: lib
	$(MAKE) -C examples

# KVER=6.12 builds the library in its chroot: check-lib belongs to the
# host's build and runs with the default kernel only. Each boot prints its
# own "N passed, N failed"; when both ran, the last line adds them up
# (scripts/tap-summary of both boots' build/*/tap.log).
check: VM_RUN_LOAD = $(CHECK_LOAD)
check: $(BUILD) $(if $(KERNEL_612),,check-lib)
	@rc=0; \
	$(if $(CHECK_TESTS),$(VM_RUN) --tests "$(CHECK_TESTS)" || rc=1;) \
	$(if $(CHECK_RACE_TESTS),\
		$(VM_RUN_RACE) --tests "$(CHECK_RACE_TESTS)" || rc=1;) \
	$(if $(and $(CHECK_TESTS),$(CHECK_RACE_TESTS)),\
		echo "make check: both boots together:"; \
		scripts/tap-summary build/vm/tap.log build/vm-race/tap.log \
			|| rc=1;) \
	exit $$rc

check-race: $(BUILD)
	@$(VM_RUN_RACE) --tests "$(or $(TESTS),$(RACE_TESTS))"

# Host-side: nothing here needs the module. The scratch install is the
# top-level one, so that kdispose-stat(1) is read as installed too.
MAN_ROOT := build/man-root
check-lib: lib
	$(MAKE) -C lib check
	rm -rf $(MAN_ROOT)
	$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/$(MAN_ROOT) \
		PREFIX=/usr >/dev/null
	lib/check-man.sh --installed $(MAN_ROOT)/usr/share/man
	rm -rf $(MAN_ROOT)

# The same suite on a debug kernel (KASAN, kmemleak, lockdep, UBSAN, fault
# injection) that scripts/debug-kernel builds once from linux-source-6.1 and
# caches; vm-run fails on any report, and scans for leaks after the rmmod.
check-debug:
	scripts/debug-kernel build
	$(MAKE) check KDIR="$$(scripts/debug-kernel kdir)" \
		KERNEL="$$(scripts/debug-kernel image)" CHECK_LOAD= \
		VM_TIMEOUT=$(DEBUG_VM_TIMEOUT) VM_ENV="KDISPOSE_SLOW=1 $(VM_ENV)"

# Benchmarks are not tests: ratios measured side by side in one VM run
# (tools/bench/, Documentation/benchmarks.md). make check runs them once,
# tiny, so that the programs cannot rot (selftests/bench_smoke.sh). VM_SMP
# gives the scaling row (9) more vCPUs on a machine with the cores for them.
VM_SMP ?= 2
bench: module lib
	@tools/bench/run --ko kdispose.ko --kernel "$(KERNEL)" \
		--modules "$(VM_MODULES)" --timeout "$(VM_TIMEOUT)" \
		--smp "$(VM_SMP)"

# A long run of the seeded fuzzer (the default suite runs a short one):
# FUZZ_OPS operations, FUZZ_SEED=N replays the run that printed that seed.
FUZZ_OPS ?= 1000000
FUZZ_HOURS ?= 6
fuzz: $(BUILD)
	@$(VM_RUN) --timeout $$(($(FUZZ_HOURS) * 3600)) --tests fuzz_test \
		--env "KDISPOSE_FUZZ_OPS=$(FUZZ_OPS) $(if $(FUZZ_SEED),KDISPOSE_FUZZ_SEED=$(FUZZ_SEED)) KDISPOSE_TIMEOUT=$$(($(FUZZ_HOURS) * 3600))"

# The selftests as a kernel developer runs them: linked into a scratch view
# of linux-source-6.1 as tools/testing/selftests/drivers/kdispose, built and
# installed by its kselftest Makefile, run by its run_kselftest.sh in the VM.
check-in-tree:
	scripts/ksft-in-tree --tests "$(TESTS)" --timeout $(VM_TIMEOUT)

build-6.12:
	$(KERNEL_612) run --bind $(LINUX_SRC) $(MAKE) KVER= KDIR=$(KDIR) \
		LINUX_SRC=$(LINUX_SRC) clean all

# The library's lifecycle example, then the tour of the kernel side, which
# ends with kdispose-stat and a forgotten object finalized at close, then
# a buffer and an event shared with a child process (examples/share.c).
demo: $(BUILD)
	@$(VM_RUN) --add examples/demo --add examples/lifecycle \
		--add selftests/kdispose-stat --add examples/share \
		'./lifecycle && echo && ./demo ./kdispose-stat && echo && ./share'

clean:
	$(if $(KDIR),$(MAKE) -C $(KDIR) M=$(CURDIR) clean)
	$(if $(wildcard lib/Makefile),$(MAKE) -C lib clean)
	$(if $(wildcard $(LINUX_SRC)),$(MAKE) -C selftests clean)
	$(MAKE) -C examples clean
	$(MAKE) -C tools/bench clean
	$(MAKE) -C tools/kdispose-stat clean
	rm -rf build

# --- Installing and packaging ----------------------------------------------
#
#   make install         the library (lib/: headers with the UAPI header,
#                        pkg-config file, man pages), kdispose-stat
#                        (tools/kdispose-stat/) and the udev rule;
#                        PREFIX=/usr/local DESTDIR= (prefix, bindir, libdir,
#                        includedir, mandir, udevdir too)
#   make tools           only build tools/kdispose-stat/kdispose-stat
#   make dkms-install    the module's source in /usr/src/kdispose-VERSION,
#                        then dkms add and install (DKMS_KERNEL=KVER for a
#                        kernel other than the running one)
#   make packages        Debian packages from a clean copy of the tree, in
#                        build/packages (scripts/test-packages --no-test)
#   make check-packages  the same, then lintian, unpack them into a scratch
#                        root, link examples/lifecycle through pkg-config,
#                        build the DKMS tree, run the example in the VM
#   make check-system    the packages installed with apt on a Debian 12
#                        system booted under QEMU, as a user gets them:
#                        DKMS in the guest, modules-load.d, the udev rule
#                        and a group, pkg-config, man, the selftests, a
#                        second kernel, apt purge (scripts/check-system;
#                        the image is cached, scripts/system-image)
#   make check-system-13 the same on Debian 13 (Linux 6.12)
#   make lint            checkpatch, sparse, W=1, kernel-doc, clang-format
#
# The version comes from debian/changelog, and only from there.

KDISPOSE_VERSION := $(shell \
	sed -n '1s/^kdispose (\([0-9A-Za-z.+~-]*\)).*/\1/p' debian/changelog)
PREFIX ?= /usr/local
prefix ?= $(PREFIX)
bindir ?= $(prefix)/bin
udevdir ?= /lib/udev
DKMS_KERNEL ?=
DKMS_SRC := /usr/src/kdispose-$(KDISPOSE_VERSION)

.PHONY: install tools tools-clean dkms-source dkms-install packages \
	check-packages check-system check-system-13 lint

# The installed tools (tools/kdispose-stat/, with its own Makefile); the
# benchmarks of tools/bench/ are not installed: make bench runs them.
tools:
	$(MAKE) -C tools/kdispose-stat

tools-clean:
	$(MAKE) -C tools/kdispose-stat clean

install: tools
	$(MAKE) -C lib install
	$(MAKE) -C tools/kdispose-stat install
	install -D -m 644 scripts/udev/60-kdispose.rules \
		$(DESTDIR)$(udevdir)/rules.d/60-kdispose.rules

# What DKMS needs and nothing else: Kbuild, the module and the UAPI header.
dkms-source:
	$(if $(KDISPOSE_VERSION),,$(error no version in debian/changelog))
	rm -rf $(DESTDIR)$(DKMS_SRC)
	install -d $(DESTDIR)$(DKMS_SRC)/module \
		$(DESTDIR)$(DKMS_SRC)/include/uapi/linux
	install -m 644 Kbuild $(DESTDIR)$(DKMS_SRC)/
	install -m 644 module/*.c module/*.h $(DESTDIR)$(DKMS_SRC)/module/
	install -m 644 include/uapi/linux/kdispose.h \
		$(DESTDIR)$(DKMS_SRC)/include/uapi/linux/
	sed 's/#MODULE_VERSION#/$(KDISPOSE_VERSION)/' scripts/dkms/dkms.conf \
		> $(DESTDIR)$(DKMS_SRC)/dkms.conf
	install -D -m 644 scripts/dkms/modules-load.conf \
		$(DESTDIR)/usr/lib/modules-load.d/kdispose.conf

# A version added before is removed first: "dkms install" would otherwise
# keep the module it built then instead of building these sources.
dkms-install: dkms-source
	if dkms status -m kdispose -v $(KDISPOSE_VERSION) | grep -q .; then \
		dkms remove -m kdispose -v $(KDISPOSE_VERSION) --all; \
	fi
	dkms add -m kdispose -v $(KDISPOSE_VERSION)
	dkms install -m kdispose -v $(KDISPOSE_VERSION) \
		$(if $(DKMS_KERNEL),-k $(DKMS_KERNEL))

packages:
	scripts/test-packages --no-test --out build/packages

check-packages:
	scripts/test-packages --lintian --vm --out build/packages

# The guest runs the static selftests of selftests/ against the module that
# DKMS built there from the package.
check-system: selftests packages
	scripts/check-system --release 12 --debs build/packages

check-system-13: selftests packages
	scripts/check-system --release 13 --debs build/packages

lint:
	KDIR="$(KDIR)" LINUX_SRC="$(LINUX_SRC)" scripts/lint
