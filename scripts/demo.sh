#!/usr/bin/env bash
# The demo: build a sample server disk (GPT with an EFI system partition,
# an ext4 root holding a small Debian-like tree, an xfs data volume and
# swap) as a sparse image, run `rehost inspect` on it, then migrate it for
# real: keys, a target listening on loopback, `rehost migrate` with a
# progress bar, and a byte-for-byte comparison of source and target.
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
target_pid=
cleanup() {
	set +e
	[ -n "$mnt" ] && mountpoint -q "$mnt" && umount "$mnt"
	for l in "${loops[@]}"; do losetup -d "$l"; done
	[ -n "$target_pid" ] && kill "$target_pid" 2>/dev/null && wait "$target_pid" 2>/dev/null
}
trap cleanup EXIT

# attach N: loop device over partition N (losetup -P may make no nodes here).
attach() {
	local start size
	read -r start size < <(sfdisk -d "$img" | awk -v p="${img}$1" '$1 == p {
		match($0, /start= *[0-9]+/); s = substr($0, RSTART + 6, RLENGTH - 6)
		match($0, /size= *[0-9]+/); z = substr($0, RSTART + 5, RLENGTH - 5)
		printf "%d %d\n", s * 512, z * 512 }')
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

for l in "${loops[@]}"; do losetup -d "$l"; done
loops=()

echo "== rehost inspect --disk $img"
# inspect reports the sample disk's partitions and filesystems, and runs the
# pre-checks on the operating system of the machine it runs on: an agent
# runs it on the source it is about to migrate.
rc=0
"$REHOST" inspect --disk "$img" | tee "$DEMO/inspect.txt" || rc=${PIPESTATUS[0]}
case $rc in
0) echo "-> This machine passes the pre-checks: an agent could migrate it as it is." ;;
3)
	# Blocked: say by what, and why the demo may still copy the sample disk.
	errors=$(sed -n 's/^Result: migration BLOCKED by \([0-9]*\) error.*/\1/p' "$DEMO/inspect.txt")
	echo "-> The pre-checks block migrating THIS machine (${errors:-some} error(s) above, about"
	echo "   its own OS: an agent here would refuse to start until they are fixed)."
	echo "   The demo does not migrate this machine: it copies the sample disk image"
	echo "   block by block, which depends only on the disk's partitions and"
	echo "   filesystems listed above, not on the host's kernel, initramfs or tools."
	;;
*) exit "$rc" ;;
esac

echo
echo "== rehost keygen $DEMO/keys"
rm -rf "$DEMO/keys" "$DEMO/target" "$DEMO/agent-state" "$DEMO/port"
"$REHOST" keygen "$DEMO/keys"

echo "== rehost target (loopback, port 0) writing into $DEMO/target"
mkdir -p "$DEMO/target"
"$REHOST" target --listen 127.0.0.1:0 --port-file "$DEMO/port" --keys "$DEMO/keys" \
	--disk-dir "$DEMO/target" --once 2>"$DEMO/target.log" &
target_pid=$!
for _ in $(seq 50); do [ -s "$DEMO/port" ] && break; sleep 0.1; done
[ -s "$DEMO/port" ] || { cat "$DEMO/target.log" >&2; echo "demo: target did not start" >&2; exit 1; }

echo "== rehost migrate --disk $img --to 127.0.0.1:$(cat "$DEMO/port")"
"$REHOST" migrate --disk "$img" --to "127.0.0.1:$(cat "$DEMO/port")" --keys "$DEMO/keys" \
	--state-dir "$DEMO/agent-state" ${DEMO_PROGRESS:+--progress "$DEMO_PROGRESS"}
wait "$target_pid"
target_pid=

echo "== comparing source and target"
cmp "$img" "$DEMO/target/disk0.raw"
echo "identical: $img and $DEMO/target/disk0.raw ($(du -h "$DEMO/target/disk0.raw" | cut -f1) allocated of $(du -h --apparent-size "$img" | cut -f1))"
