# Shared by the benchmarks: builds the block replication benchmark disk.
# Source it after `set -euo pipefail`; it sets REHOST, W, p1, p2 (loop
# devices of the two partitions), registers cleanup, and defines measure().
REHOST=$(realpath "${1:-build/rehost}")
W=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/var/tmp}/rehost-bench.XXXXXX")}
DATA_MB=${BENCH_DATA_MB:-1700}
loops=() mnt= tpid= extra_cleanup=:
cleanup() {
	set +e
	[ -n "$tpid" ] && kill "$tpid" 2>/dev/null && wait "$tpid" 2>/dev/null
	[ -n "$mnt" ] && mountpoint -q "$mnt" && umount "$mnt"
	eval "$extra_cleanup"
	for l in "${loops[@]}"; do losetup -d "$l"; done
	[ -z "${BENCH_KEEP:-}" ] && rm -rf "$W"
}
trap cleanup EXIT

part() { # part N -> loop device over partition N of the disk
	local s z
	read -r s z < <(sfdisk -d "$W/disk.img" | awk -v p="$W/disk.img$1" '$1 == p {
		match($0, /start= *[0-9]+/); s = substr($0, RSTART + 6, RLENGTH - 6)
		match($0, /size= *[0-9]+/); z = substr($0, RSTART + 5, RLENGTH - 5)
		printf "%d %d\n", s * 512, z * 512 }')
	dev=$(losetup --show -f -o "$s" --sizelimit "$z" "$W/disk.img")
	loops+=("$dev")
}

echo "== building the benchmark disk in $W (${DATA_MB} MB of files)"
truncate -s 4G "$W/disk.img"
printf 'label: dos\nsize=512MiB, type=83\nsize=+, type=83\n' | sfdisk -q "$W/disk.img" >/dev/null
part 1; p1=$dev; mkfs.ext4 -q -F "$p1"
part 2; p2=$dev; mkfs.ext4 -q -F "$p2"
mnt=$(mktemp -d)
mount "$p1" "$mnt"; cp -a /usr/share/doc "$mnt/"; umount "$mnt"
mount "$p2" "$mnt"
# Real files: /usr/lib until DATA_MB is reached.
( cd /usr/lib && find . -xdev -type f -size -64M -print0 2>/dev/null ) |
	python3 -c '
import os, sys
limit = int(sys.argv[1]) << 20; total = 0; out = []
for p in sys.stdin.buffer.read().split(b"\0"):
    if not p: continue
    try: sz = os.lstat(b"/usr/lib/" + p).st_size
    except OSError: continue
    total += sz; out.append(p)
    if total >= limit: break
sys.stdout.buffer.write(b"\0".join(out))' "$DATA_MB" |
	(cd /usr/lib && cpio -0 -pdm --quiet "$mnt/lib")
used=$(df -B1 --output=used "$mnt" | tail -1)
umount "$mnt"; rmdir "$mnt"; mnt=
sync
echo "   partition 2 holds $((used / 1000000)) MB"

measure() { # name cmd... -> prints "name wall cpu rss_kib"
	local name=$1; shift
	sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
	/usr/bin/time -f "%e %U %S %M" -o "$W/$name.time" "$@" >"$W/$name.out" 2>"$W/$name.err" ||
		{ cat "$W/$name.err" >&2; echo "bench: $name failed" >&2; exit 1; }
	read -r wall user sys rss <"$W/$name.time"
	echo "$name $wall $(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }') $rss"
}

