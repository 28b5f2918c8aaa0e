# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Debian packages of exactly the versions this repository pins (BASE,
# patches/qemu/BASE), through apt with a private state directory: the
# machine's apt state and installed packages are never touched, and no
# version is taken that the pin does not name.  Sourced by tree.sh,
# qemu-build.sh and check-base.sh, which define die() and say().
#
#   apt_init DIR SUITE...          private apt state in DIR for these suites
#                                  of the machine's Debian mirror (deb and
#                                  deb-src; a suite named *-security comes
#                                  from the security archive)
#   apt_newest deb|source PKG      the newest version the suites have
#   apt_fetch deb|source PKG VERSION DEST PIN
#                                  download PKG=VERSION (the .deb, or the
#                                  source package) into DEST; if the archive
#                                  no longer has it, stop with one line that
#                                  names VERSION, the newest version, and the
#                                  command that checks the series against it
#                                  (PIN: the file that pins it, for that line)

apt_dir=

# The URI of the machine's Debian archive whose path ends in /$1 (debian or
# debian-security), from /etc/apt (deb822 and one-line sources, mirror+file:
# lists); deb.debian.org if none.  HARNESS_DEBIAN_MIRROR overrides both
# (the main archive's URI; the security archive is beside it).
apt_mirror() {
	local u f
	if [ -n "${HARNESS_DEBIAN_MIRROR:-}" ]; then
		u=${HARNESS_DEBIAN_MIRROR%/}
		[ "$1" = debian ] && echo "$u" || echo "${u%/debian}/$1"
		return
	fi
	for u in $( { cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list \
			/etc/apt/sources.list 2>/dev/null || true; } |
		awk '/^(URIs:|deb )/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:/) print $i }'); do
		# mirror+file:/path: the first URI of that list.
		if [[ $u == mirror+file:* ]]; then
			f=${u#mirror+file:}
			f=${f#//}
			u=$(grep -m1 -o '^[a-z]*://[^[:space:]]*' "$f" 2>/dev/null || true)
		fi
		u=${u%/}
		[[ $u == *://*/"$1" ]] && { echo "$u"; return; }
	done
	echo "http://deb.debian.org/$1"
}

apt_init() {
	local dir=$1 main sec s uri
	shift
	apt_dir=$dir
	export APT_CONFIG=$dir/apt.conf
	[ -f "$APT_CONFIG" ] && [ "$(cat "$dir/suites" 2>/dev/null)" = "$*" ] && return
	main=$(apt_mirror debian)
	sec=$(apt_mirror debian-security)
	rm -rf "$dir"
	mkdir -p "$dir"/{state/lists/partial,cache/archives/partial,sources}
	for s in "$@"; do
		uri=$main
		[[ $s == *-security ]] && uri=$sec
		cat > "$dir/sources/$s.sources" <<-EOF
		Types: deb deb-src
		URIs: $uri
		Suites: $s
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		EOF
	done
	cat > "$APT_CONFIG" <<-EOF
	Dir::State "$dir/state";
	Dir::State::status "$dir/state/status";
	Dir::Cache "$dir/cache";
	Dir::Etc::sourcelist "/dev/null";
	Dir::Etc::sourceparts "$dir/sources";
	APT::Architecture "amd64";
	APT::Sandbox::User "root";
	EOF
	touch "$dir/state/status"
	echo "$*" > "$dir/suites"
}

# apt_update [force]: the indexes, once (again with force: the archive may
# have moved since).
apt_update() {
	[ -z "${1:-}" ] && [ -f "$apt_dir/updated" ] && return
	say "apt update ($(cat "$apt_dir/suites"); private state in ${apt_dir#"${top:-}"/})" >&2
	apt-get update -q --error-on=any >/dev/null ||
		die "apt-get update of $(cat "$apt_dir/suites") failed (no network, or the mirror is down)"
	touch "$apt_dir/updated"
}

# apt_versions deb|source PKG: every version the suites have, newest first.
apt_versions() {
	local kind=Packages v sorted=() i
	[ "$1" = source ] && kind=Sources
	while read -r v; do
		# Insert v in order (a handful of versions: dpkg's own ordering).
		for ((i = 0; i < ${#sorted[@]}; i++)); do
			dpkg --compare-versions "$v" gt "${sorted[i]}" && break
		done
		sorted=("${sorted[@]:0:i}" "$v" "${sorted[@]:i}")
	done < <(apt-cache madison "$2" 2>/dev/null |
		awk -F' *\\| *' -v k="$kind" '$3 ~ (" " k "$") { print $2 }' | sort -u)
	[ ${#sorted[@]} -eq 0 ] || printf '%s\n' "${sorted[@]}"
}

apt_newest() {
	apt_update
	apt_versions "$1" "$2" | sed -n 1p
}

# apt_has deb|source PKG VERSION: the suites have PKG=VERSION.
apt_has() {
	apt_versions "$1" "$2" | grep -xF -- "$3" >/dev/null
}

apt_fetch() {
	local kind=$1 pkg=$2 ver=$3 dest=$4 pin=$5 newest try
	apt_update
	mkdir -p "$dest"
	# Twice: the private indexes may be older than the archive.
	for try in 1 2; do
		if apt_has "$kind" "$pkg" "$ver"; then
			if [ "$kind" = source ]; then
				(cd "$dest" && apt-get -q source --download-only "$pkg=$ver" >/dev/null 2>&1) && return
			else
				(cd "$dest" && apt-get -q download "$pkg=$ver" >/dev/null 2>&1) && return
			fi
		fi
		[ $try = 2 ] || apt_update force
	done
	newest=$(apt_versions "$kind" "$pkg" | sed -n 1p)
	if apt_has "$kind" "$pkg" "$ver"; then
		die "could not download $pkg $ver from Debian's archive (listed there)"
	elif [ -z "$newest" ]; then
		die "$pin pins $pkg $ver, but Debian's $(cat "$apt_dir/suites") has no $pkg at all"
	fi
	die "$pin pins $pkg $ver, which Debian's archive no longer has" \
		"(newest: $newest): run 'make check-base' to check the series" \
		"against it, then rebase (docs/series.md)"
}

# apt_deb DIR PKG VERSION: the path apt-get download gives that package.
apt_deb() {
	local f
	for f in "$1/${2}_${3//:/%3a}"_*.deb; do
		[ -f "$f" ] && { echo "$f"; return; }
	done
	return 1
}
