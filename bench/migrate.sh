#!/usr/bin/env bash
# Block replication benchmark (issue 4): one run, same data, three tools.
#
# A 4 GiB MBR disk image: partition 1 = 512 MiB ext4 (a little data),
# partition 2 = ext4 with ~1.7 GB of real files from this machine. Then:
#   rehost migrate   disk -> rehost target over TLS on loopback (compression auto)
#   partclone.ext4 -c  of both partitions to image files
#   qemu-img convert -O qcow2 of the whole disk
# and print wall time, CPU time, peak RSS, bytes written/sent and the ratios.
# Needs root (loop devices, mounts). Usage: bench/migrate.sh [build/rehost]
set -euo pipefail
cd "$(dirname "$0")/.."
REHOST=$(realpath "${1:-build/rehost}")
W=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/var/tmp}/rehost-bench.XXXXXX")}
DATA_MB=${BENCH_DATA_MB:-1700}
loops=() mnt= tpid=
cleanup() {
	set +e
	[ -n "$tpid" ] && kill "$tpid" 2>/dev/null && wait "$tpid" 2>/dev/null
	[ -n "$mnt" ] && mountpoint -q "$mnt" && umount "$mnt"
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

echo "== rehost migrate (TLS over loopback, compression auto)"
"$REHOST" keygen "$W/keys" >/dev/null
mkdir -p "$W/target"
"$REHOST" target --listen 127.0.0.1:0 --port-file "$W/port" --keys "$W/keys" \
	--disk-dir "$W/target" 2>"$W/target.log" &
tpid=$!
for _ in $(seq 50); do [ -s "$W/port" ] && break; sleep 0.1; done
r_rehost=$(measure rehost "$REHOST" migrate --disk "$W/disk.img" --to "127.0.0.1:$(cat "$W/port")" \
	--keys "$W/keys" --state-dir "$W/agent" --progress log)
wire=$(sed -n 's/.*(\([0-9]*\) on the wire.*/\1/p' "$W/rehost.err")
cmp "$W/disk.img" "$W/target/disk0.raw" || { echo "bench: rehost copy differs" >&2; exit 1; }

echo "== partclone.ext4 -c (both partitions)"
cat >"$W/partclone.sh" <<PC
set -e
partclone.ext4 -c -q -s $p1 -o $W/p1.pc -L /dev/null
partclone.ext4 -c -q -s $p2 -o $W/p2.pc -L /dev/null
PC
r_pc=$(measure partclone bash "$W/partclone.sh")
pc_bytes=$(( $(stat -c %s "$W/p1.pc") + $(stat -c %s "$W/p2.pc") ))

echo "== qemu-img convert -O qcow2"
r_qi=$(measure qemu-img qemu-img convert -O qcow2 "$W/disk.img" "$W/disk.qcow2")
qi_bytes=$(stat -c %s "$W/disk.qcow2")

echo
printf '%-10s %9s %9s %10s %14s\n' tool wall_s cpu_s rss_MiB bytes_out
for r in "$r_rehost $wire" "$r_pc $pc_bytes" "$r_qi $qi_bytes"; do
	set -- $r
	printf '%-10s %9.2f %9.2f %10.1f %14s\n' "$1" "$2" "$3" "$(awk -v k="$4" 'BEGIN { print k / 1024 }')" "$5"
done
set -- $r_rehost; rw=$2
set -- $r_pc; pw=$2
set -- $r_qi; qw=$2
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "ratio rehost/partclone wall: $(ratio "$rw" "$pw") (goal <= 0.5)"
echo "ratio rehost/qemu-img  wall: $(ratio "$rw" "$qw") (goal <= 1.0)"
