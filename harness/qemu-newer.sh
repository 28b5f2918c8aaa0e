#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Unpack the QEMU of the next Debian release (trixie, QEMU 10.0) into
# build/qemu-trixie, without installing it, and print the path of a wrapper
# that runs it (harness/qemu.sh takes it as QEMU_BIN).
#
# Why: bookworm's QEMU 7.2 TCG, with two vCPUs of a nested guest running
# while the L1 hypervisor changes its nested page tables, now and then gives
# the nested guest a #PF with the reserved bit set on an instruction fetch
# whose page tables are intact (seen through the hva and through the NPT
# alike), and then deadlocks a vCPU thread (QEMU's ptw_setl() slow path, fixed
# upstream in 9.2).  The stress test hits it within a few runs; QEMU 10.0 does
# not (docs/reliability.md).
#
# The packages come from the same Debian mirror as this machine's bookworm
# packages, through apt with a private state directory: nothing on the
# machine changes.  The wrapper needs root (a private mount namespace hides
# the installed QEMU's modules, which the newer QEMU would otherwise load).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dir=$top/build/qemu-trixie
wrapper=$dir/qemu-system-x86_64

if [ -x "$wrapper" ]; then
	echo "$wrapper"
	exit 0
fi
[ "$(id -u)" = 0 ] || { echo "qemu-newer.sh: needs root" >&2; exit 1; }

# The mirror this machine already uses for Debian's main archive (a URI
# ending in /debian, in deb822 or one-line form).
mirror=$({ cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true; } |
	awk '/^(URIs:|deb )/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\/.*\/debian\/?$/) { print $i; exit } }')
[ -n "$mirror" ] || { echo "qemu-newer.sh: no Debian mirror configured" >&2; exit 1; }

rm -rf "$dir"
mkdir -p "$dir"/apt/{state/lists/partial,cache/archives/partial,sources} "$dir"/debs "$dir"/root
cat > "$dir/apt/sources/trixie.sources" <<EOF
Types: deb
URIs: $mirror
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
cat > "$dir/apt/apt.conf" <<EOF
Dir::State "$dir/apt/state";
Dir::State::status "$dir/apt/state/status";
Dir::Cache "$dir/apt/cache";
Dir::Etc::sourcelist "/dev/null";
Dir::Etc::sourceparts "$dir/apt/sources";
APT::Architecture "amd64";
APT::Sandbox::User "root";
EOF
touch "$dir/apt/state/status"
export APT_CONFIG=$dir/apt/apt.conf

echo "  QEMU    fetching Debian trixie's qemu-system-x86 into ${dir#"$top"/}" >&2
apt-get update -q >/dev/null
# The packages and everything they depend on, as the release has them.
pkgs=$(apt-cache depends --recurse --no-recommends --no-suggests \
	--no-conflicts --no-breaks --no-replaces --no-enhances \
	qemu-system-x86 seabios ipxe-qemu | grep -v '^ ' | grep -v '<' | sort -u)
# shellcheck disable=SC2086
(cd "$dir/debs" && apt-get download -q $pkgs >/dev/null)
for deb in "$dir"/debs/*.deb; do
	dpkg-deb -x "$deb" "$dir/root"
done

r=$dir/root
cat > "$wrapper" <<EOF
#!/bin/sh
# Debian trixie's QEMU, with its own loader, libraries, firmware and modules.
exec unshare -m sh -c 'mount --bind $r/usr/lib/x86_64-linux-gnu/qemu /usr/lib/x86_64-linux-gnu/qemu &&
	exec $r/usr/lib64/ld-linux-x86-64.so.2 --library-path $r/usr/lib/x86_64-linux-gnu:$r/lib/x86_64-linux-gnu \\
	$r/usr/bin/qemu-system-x86_64 -L $r/usr/share/qemu -L $r/usr/share/seabios "\$@"' qemu "\$@"
EOF
chmod +x "$wrapper"
"$wrapper" --version | head -n 1 >&2
echo "$wrapper"
