#!/bin/bash
# tests/vm/build-debs.sh OUT [VERSION]: the Debian packages of this tree (work tree as it is,
# uncommitted changes included), built by dpkg-buildpackage -b in a temporary copy, whose
# parent directory receives the .debs instead of the tree's, into OUT.
# VERSION: a changelog entry of that version is added to the copy first, so that the same
# sources give a newer package (make check-vm-upgrade's version N+1).
# Prints the version built as its last line.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: build-debs.sh OUT [VERSION]}
version=${2:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vhsm-debs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src" "$out"
tar -C "$top" --exclude=./build --exclude=./debian/build --exclude=./.git -cf - . |
	tar -C "$tmp/src" -xf -
cd "$tmp/src"
if [ -n "$version" ]; then
	{
		printf 'vhsm (%s) unstable; urgency=medium\n\n' "$version"
		printf '  * Rebuilt with a newer version for the package upgrade test.\n\n'
		printf ' -- vhsm developers <dev@vhsm.invalid>  %s\n\n' "$(date -R)"
		cat debian/changelog
	} >debian/changelog.new
	mv debian/changelog.new debian/changelog
fi
v=$(dpkg-parsechangelog -S Version)
dpkg-buildpackage -b -us -uc -j2 >"$tmp/build.log" 2>&1 ||
	{ tail -n 30 "$tmp/build.log" >&2; echo "build-debs.sh: dpkg-buildpackage failed" >&2; exit 1; }
mv "$tmp"/*_"$v"_*.deb "$out/"
echo "$v"
