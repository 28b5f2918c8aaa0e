#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install the Debian packages the build and the QEMU runs need, if missing:
# everything beyond a minimal Debian 12 (e.g. rsync for headers_install,
# libc6-dev for the static selftests, bash-static for the shell-script
# selftests in the guest, libcap-dev for memfd_secret, patch for
# make check-base).  Only tools: whatever version of them Debian has that
# day builds the same tree.  The sources that are built (the kernel's
# linux-source-6.12, QEMU's source package, meson) come in exactly the
# versions BASE and patches/qemu/BASE pin, fetched by the build itself
# (harness/apt.sh), never installed here.  The test VM runs under the
# project's QEMU (make qemu), so Debian's qemu-system-x86 is not needed,
# only the firmware packages (seabios, qemu-system-data).
set -euo pipefail

pkgs="busybox-static gcc libc6-dev make flex bison bc libelf-dev
	libssl-dev cpio ccache xz-utils git perl python3 python3-ply python3-git gzip
	rsync bash-static libcap-dev
	gnuplot-nox
	libglib2.0-dev ninja-build python3-venv dpkg-dev seabios qemu-system-data patch"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "  DEPS    installing:$missing"
if [ "$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing >/dev/null
echo "  DEPS    done"
