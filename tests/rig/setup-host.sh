#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Install the host packages the rig needs (Debian 12 or later, as root).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# clang and llvm: the stream fuzzer (tests/fuzz/run.sh) and its coverage
# figure; its libFuzzer runtime is versioned, below.
need=(debootstrap qemu-system-x86 qemu-utils cpio busybox-static xz-utils file
      perl python3 make gcc flex bison bc clang llvm)
missing=()
for p in "${need[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing host packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian packages libFuzzer's runtime per LLVM version (bookworm's clang
# 14: libclang-rt-14-dev), and clang does not pull it in.
rt="libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev"
if ! dpkg-query -W -f='${Status}' "$rt" 2>/dev/null | grep -q 'ok installed'; then
	log "installing host packages: $rt"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "$rt" >/dev/null
fi
log "host packages present"
