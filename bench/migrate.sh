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
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
. "$here/lib.sh"

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
# rehost reports a disk complete only once it is on stable storage; the
# peers do not sync at all, so also time them with an fsync of the output.
rm -f "$W/disk.qcow2" "$W/p1.pc" "$W/p2.pc"
r_qis=$(measure qemu-img+sync sh -c "qemu-img convert -O qcow2 '$W/disk.img' '$W/disk.qcow2' && sync '$W/disk.qcow2'")
r_pcs=$(measure partclone+sync sh -c "bash '$W/partclone.sh' && sync '$W/p1.pc' '$W/p2.pc'")

echo
printf '%-15s %9s %9s %10s %14s\n' tool wall_s cpu_s rss_MiB bytes_out
for r in "$r_rehost $wire" "$r_pc $pc_bytes" "$r_qi $qi_bytes" "$r_pcs $pc_bytes" "$r_qis $qi_bytes"; do
	set -- $r
	printf '%-15s %9.2f %9.2f %10.1f %14s\n' "$1" "$2" "$3" "$(awk -v k="$4" 'BEGIN { print k / 1024 }')" "$5"
done
set -- $r_rehost; rw=$2
set -- $r_pc; pw=$2
set -- $r_qi; qw=$2
set -- $r_pcs; pws=$2
set -- $r_qis; qws=$2
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "ratio rehost/partclone wall: $(ratio "$rw" "$pw") (goal <= 0.5)"
echo "ratio rehost/qemu-img  wall: $(ratio "$rw" "$qw") (goal <= 1.0)"
echo "ratio rehost/partclone+sync wall: $(ratio "$rw" "$pws")"
echo "ratio rehost/qemu-img+sync  wall: $(ratio "$rw" "$qws")"
