#!/usr/bin/env bash
# The demo: build a sample server disk (GPT with an EFI system partition,
# an ext4 root holding a small Debian-like tree, an xfs data volume and
# swap) as a sparse image, then run `rehost inspect` on it.
#
# Usage: scripts/demo.sh [path/to/rehost]   (make demo passes build/rehost)
# Needs root (loop devices and a mount to populate the filesystems).
set -euo pipefail
cd "$(dirname "$0")/.."

REHOST=${1:-build/rehost}
DEMO=${DEMO_DIR:-build/demo}
img=$DEMO/source-disk.img

[ -x "$REHOST" ] || { echo "demo: $REHOST not built (run make)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "demo: needs root for loop devices and mounts" >&2; exit 1; }

loops=()
mnt=
cleanup() {
	set +e
	[ -n "$mnt" ] && mountpoint -q "$mnt" && umount "$mnt"
	for l in "${loops[@]}"; do losetup -d "$l"; done
}
trap cleanup EXIT

# attach N: loop device over partition N (losetup -P may make no nodes here).
attach() {
	local start size
	read -r start size < <(sfdisk -d "$img" | awk -v p="${img}$1" '$1 == p {
		match($0, /start= *[0-9]+/); s = substr($0, RSTART + 6, RLENGTH - 6)
		match($0, /size= *[0-9]+/); z = substr($0, RSTART + 5, RLENGTH - 5)
		print s * 512, z * 512 }')
	dev=$(losetup --show -f -o "$start" --sizelimit "$size" "$img")
	loops+=("$dev")
}

echo "== building a sample source disk: $img"
mkdir -p "$DEMO"
rm -f "$img"
truncate -s 1200M "$img"
printf 'label: gpt\nsize=64MiB, type=uefi, name=esp\nsize=600MiB, type=linux, name=root\nsize=400MiB, type=linux, name=data\nsize=+, type=swap, name=swap\n' |
	sfdisk -q --no-reread --no-tell-kernel "$img" >/dev/null

attach 1; mkfs.vfat -n ESP "$dev" >/dev/null
attach 2; mkfs.ext4 -q -F -L root "$dev"; rootdev=$dev
attach 3; mkfs.xfs -q -f -L data "$dev"
attach 4; mkswap -L swap "$dev" >/dev/null

# A little content, so used space is not zero.
mnt=$(mktemp -d "${TMPDIR:-/tmp}/rehost-demo.XXXXXX")
mount "$rootdev" "$mnt"
mkdir -p "$mnt"/{etc,boot,usr/bin,var/log,home/demo}
cat >"$mnt/etc/os-release" <<'OS'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
ID=debian
OS
cp -r /usr/share/doc/bash "$mnt/home/demo/" 2>/dev/null || true
head -c 20M /dev/urandom >"$mnt/var/log/app.log"
umount "$mnt"; rmdir "$mnt"; mnt=

echo "== rehost inspect --disk $img"
"$REHOST" inspect --disk "$img"
