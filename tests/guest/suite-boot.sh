# SPDX-License-Identifier: GPL-2.0-only
# Suite "boot" (opt-in): nothing but the boot itself, for
# tests/rig/boot-rate.sh, which counts how often the test VM crashes
# before or while reaching its tests (the multi-threaded TCG text-patching
# crash; Documentation/hardening.md).
. /opt/vfmig/tests/guest/lib.sh
plan 1
ok "the test VM booted: $(nproc) CPUs, kernel $(uname -r), uptime $(cut -d' ' -f1 /proc/uptime)s"
