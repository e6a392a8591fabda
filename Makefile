# SPDX-License-Identifier: GPL-2.0-only
#
# vfmig: build the module out of tree with Kbuild.
#
#   make                      build against the running kernel
#   make KDIR=/path/to/build  build against another kernel's build tree
#   make W=1 C=2              extra warnings and sparse on every file
#   make CONFIG_VFMIG_FAULT_INJECTION=y   with the debugfs fault files (test hosts)
#   make checkpatch           scripts/checkpatch.pl --strict on our sources
#   make install              install into /lib/modules/<kver>/updates and depmod (SIGN=1 signs)

KDIR ?= /lib/modules/$(shell uname -r)/build
VFMIG_CACHE ?= /var/cache/vfmig
# checkpatch.pl from the kernel source the rig unpacks (tests/rig/build-tree.sh).
CHECKPATCH ?= $(VFMIG_CACHE)/linux-source/scripts/checkpatch.pl

export CONFIG_VFMIG_VFIO_PCI ?= m
# Test hooks (drivers/vfio/pci/vfmig/Kconfig): off unless asked for, e.g.
# "make CONFIG_VFMIG_FAULT_INJECTION=y" (the test rig does).
export CONFIG_VFMIG_FAULT_INJECTION ?= n

# Distribution kernels sign modules at install with a key only their build
# machines hold; an out-of-tree build has none, so sign only when asked
# (SIGN=1, with the key where the kernel's build tree expects it).
SIGN ?= 0
ifneq ($(SIGN),1)
NOSIGN := CONFIG_MODULE_SIG_ALL=
endif

KERNEL_SOURCES = $(shell find drivers include -name '*.[ch]' 2>/dev/null | sort)
USER_SOURCES = $(shell find tools tests/guest -name '*.[ch]' 2>/dev/null | sort)
# Userspace C follows kernel style too, but uses the C library's types and
# attributes (the kernel's u64 and __printf do not exist there), and reaches
# BARs through mmap, where volatile is the only accessor there is.
USER_IGNORE = PREFER_KERNEL_TYPES,PREFER_DEFINED_ATTRIBUTE_MACRO,VOLATILE

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

# modules_install runs depmod only when the build tree holds a System.map,
# which Debian's headers packages (and most kernels built by hand) lack:
# run it here, for the release KDIR builds for, so modprobe finds the
# module at once.
KVER = $(shell $(MAKE) -s --no-print-directory -C $(KDIR) kernelrelease 2>/dev/null)

install: modules
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_DIR=updates $(NOSIGN) modules_install
	depmod -a $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) $(KVER)

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean

checkpatch:
	@test -x $(CHECKPATCH) || { echo "no $(CHECKPATCH): run tests/rig/build-tree.sh or set CHECKPATCH"; exit 1; }
	$(CHECKPATCH) --strict --no-tree --terse --show-types -f $(KERNEL_SOURCES)
	$(CHECKPATCH) --strict --no-tree --terse --show-types \
		--ignore $(USER_IGNORE) -f $(USER_SOURCES)

.PHONY: all modules install clean checkpatch
