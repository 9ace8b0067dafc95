# SPDX-License-Identifier: GPL-2.0
#
# kdispose: build the module, the library, the selftests and the examples,
# and run them in a QEMU guest.
#
#   make              build everything (against the Debian kernel headers)
#   make check        install what is missing, build, boot the VM, run the
#                     selftests; the last line is "N passed, N failed"
#   make demo         the same, running examples/demo instead
#   make clean
#
# Variables (defaults come from scripts/deps, see $(KDISPOSE_CACHE)/env.mk):
#   KDIR=DIR          kernel build tree for the module
#   KERNEL=FILE       kernel image the VM boots (must match KDIR)
#   VM_MODULES=DIR    that kernel's /lib/modules/VERSION (for VM_LOAD)
#   VM_LOAD="m1 m2"   modules of VM_MODULES to load before kdispose.ko
#   T=, TESTS="a b"   selftest programs to run (default: all)
#   INSMOD_ARGS="..." kdispose.ko parameters in the VM
#   VM_TIMEOUT=SECS   wall-clock limit of one VM run

KDISPOSE_CACHE ?= /var/cache/kdispose
ENV_MK := $(KDISPOSE_CACHE)/env.mk
.DEFAULT_GOAL := all

# scripts/deps installs what is missing and writes env.mk. make runs it
# before anything else (fast when all is there) and rereads env.mk when it
# changed: always for check, demo and deps, and for building unless KDIR is
# given (a real machine with its own kernel tree). Otherwise, and for
# "make clean", env.mk is used if it exists and nothing is installed.
NEED_DEPS := $(filter check demo deps,$(MAKECMDGOALS))
ifeq ($(origin KDIR),undefined)
NEED_DEPS += $(filter-out clean,$(or $(MAKECMDGOALS),all))
endif

ifneq ($(strip $(NEED_DEPS)),)
include $(ENV_MK)

$(ENV_MK): FORCE
	@scripts/deps
else
-include $(ENV_MK)
endif

KDIR ?= $(KDISPOSE_KDIR)
KERNEL ?= $(KDISPOSE_KERNEL)
VM_MODULES ?= $(KDISPOSE_MODULES)
LINUX_SRC ?= $(KDISPOSE_LINUX_SRC)
TESTS ?= $(T)
INSMOD_ARGS ?=
VM_LOAD ?=
VM_TIMEOUT ?= 600

export KDISPOSE_CACHE
ifneq ($(LINUX_SRC),)
export LINUX_SRC
endif

VM_RUN = scripts/vm-run --kernel "$(KERNEL)" --modules "$(VM_MODULES)" \
	 --load "$(VM_LOAD)" --insmod-args "$(INSMOD_ARGS)" \
	 --timeout "$(VM_TIMEOUT)"

.PHONY: all deps module lib selftests examples check demo clean FORCE

all: module lib selftests examples

deps: $(ENV_MK)

module:
	$(if $(KDIR),,$(error KDIR is not set: run scripts/deps or give KDIR=))
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

lib:
	$(if $(wildcard lib/Makefile),$(MAKE) -C lib)

selftests: lib
	$(MAKE) -C selftests

examples:
	$(MAKE) -C examples

check: all
	@$(VM_RUN) --tests "$(TESTS)"

demo: all
	@$(VM_RUN) --add examples/demo ./demo

clean:
	$(if $(KDIR),$(MAKE) -C $(KDIR) M=$(CURDIR) clean)
	$(if $(wildcard lib/Makefile),$(MAKE) -C lib clean)
	$(if $(wildcard $(LINUX_SRC)),$(MAKE) -C selftests clean)
	$(MAKE) -C examples clean
	rm -rf build
