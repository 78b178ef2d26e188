#!/usr/bin/env bash
# Image export/convert benchmark (issue 6), one run on the block replication
# benchmark disk (bench/lib.sh: 4 GiB MBR disk, ext4 partitions with ~1.7 GB
# of real files): rehost and qemu-img write the same images from the same
# disk, one after the other, caches dropped before each:
#
#   qcow2                 rehost image export -O qcow2
#                         qemu-img convert -O qcow2
#   qcow2, zstd, -c       rehost image export -O qcow2 -c -o compression_type=zstd
#                         qemu-img convert -O qcow2 -c -o compression_type=zstd -m 8 -W
#   vmdk streamOptimized  rehost image export -O vmdk -o subformat=streamOptimized
#                         qemu-img convert -O vmdk -o subformat=streamOptimized
#   vpc (dynamic VHD)     rehost image export -O vpc
#                         qemu-img convert -O vpc
#
# plus `rehost image convert` (no used-block maps) for qcow2 and zstd, and
# prints wall time, CPU time, peak RSS, output size and the rehost/qemu-img
# wall-time ratios. The I/O-bound uncompressed runs are timed three times
# each and the fastest kept; the CPU-bound compressed ones once. Each output is checked against the disk with
# `qemu-img compare` (convert) or by qemu-img check (export, which leaves
# unused blocks out on purpose). Goals: <= 1.0x for every format, <= 0.5x
# for compressed qcow2.
#
# Needs root (loop devices, mounts) and qemu-img.
# Usage: bench/image.sh [build/rehost]   (BENCH_DATA_MB=1700 by default)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
. "$here/lib.sh"
command -v qemu-img >/dev/null || { echo "bench: qemu-img is required" >&2; exit 1; }

disk=$W/disk.img
results=()

# run [-n N] NAME OUT CMD...: measure N times (default 1; the I/O-bound
# uncompressed runs take 3: a single cold-cache run on a shared machine is
# noisy), keep the fastest, record "NAME wall cpu rss bytes".
run() {
	local n=1 name out r best= i
	if [ "$1" = -n ]; then n=$2; shift 2; fi
	name=$1 out=$2
	shift 2
	for ((i = 0; i < n; i++)); do
		rm -f "$out"
		r=$(measure "$name" "$@")
		if [ -z "$best" ] || awk -v a="${r#* }" -v b="${best#* }" 'BEGIN { exit !(a + 0 < b + 0) }'; then
			best=$r
		fi
	done
	results+=("$best $(stat -c %s "$out")")
}

compare() { # compare FMT IMG: convert output must equal the disk
	qemu-img compare -q -f raw -F "$1" "$disk" "$2" ||
		{ echo "bench: $2 differs from the disk" >&2; exit 1; }
}

check() { # check FMT IMG: structural check with qemu-img where it has one
	case "$1" in qcow2|vmdk) qemu-img check -q -f "$1" "$2" >/dev/null ||
		{ echo "bench: qemu-img check failed on $2" >&2; exit 1; } ;;
	esac
	"$REHOST" image check --no-contents "$2" >/dev/null ||
		{ echo "bench: rehost image check failed on $2" >&2; exit 1; }
}

echo "== qcow2"
run -n 3 rehost-qcow2 "$W/r.qcow2" "$REHOST" image export --disk "$disk" -O qcow2 "$W/r.qcow2"
check qcow2 "$W/r.qcow2"
run -n 3 rehost-conv-qcow2 "$W/rc.qcow2" "$REHOST" image convert -O qcow2 "$disk" "$W/rc.qcow2"
compare qcow2 "$W/rc.qcow2"
run -n 3 qemu-qcow2 "$W/q.qcow2" qemu-img convert -f raw -O qcow2 "$disk" "$W/q.qcow2"

echo "== qcow2, zstd compressed"
run rehost-zstd "$W/r.zstd.qcow2" "$REHOST" image export --disk "$disk" -O qcow2 -c \
	-o compression_type=zstd "$W/r.zstd.qcow2"
check qcow2 "$W/r.zstd.qcow2"
run rehost-conv-zstd "$W/rc.zstd.qcow2" "$REHOST" image convert -O qcow2 -c \
	-o compression_type=zstd "$disk" "$W/rc.zstd.qcow2"
compare qcow2 "$W/rc.zstd.qcow2"
run qemu-zstd "$W/q.zstd.qcow2" qemu-img convert -f raw -O qcow2 -c -o compression_type=zstd \
	-m 8 -W "$disk" "$W/q.zstd.qcow2"

echo "== vmdk streamOptimized"
run rehost-vmdk "$W/r.vmdk" "$REHOST" image export --disk "$disk" -O vmdk \
	-o subformat=streamOptimized "$W/r.vmdk"
check vmdk "$W/r.vmdk"
run qemu-vmdk "$W/q.vmdk" qemu-img convert -f raw -O vmdk -o subformat=streamOptimized \
	"$disk" "$W/q.vmdk"

echo "== vpc"
run -n 3 rehost-vpc "$W/r.vhd" "$REHOST" image export --disk "$disk" -O vpc "$W/r.vhd"
check vpc "$W/r.vhd"
run -n 3 qemu-vpc "$W/q.vhd" qemu-img convert -f raw -O vpc "$disk" "$W/q.vhd"

echo
printf '%-18s %9s %9s %10s %14s\n' run wall_s cpu_s rss_MiB bytes_out
declare -A wall
for r in "${results[@]}"; do
	set -- $r
	wall[$1]=$2
	printf '%-18s %9.2f %9.2f %10.1f %14s\n' "$1" "$2" "$3" "$(awk -v k="$4" 'BEGIN { print k / 1024 }')" "$5"
done
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "ratio rehost/qemu-img wall, qcow2:                 $(ratio "${wall[rehost-qcow2]}" "${wall[qemu-qcow2]}") (goal <= 1.0; convert: $(ratio "${wall[rehost-conv-qcow2]}" "${wall[qemu-qcow2]}"))"
echo "ratio rehost/qemu-img wall, qcow2 zstd compressed: $(ratio "${wall[rehost-zstd]}" "${wall[qemu-zstd]}") (goal <= 0.5; convert: $(ratio "${wall[rehost-conv-zstd]}" "${wall[qemu-zstd]}"))"
echo "ratio rehost/qemu-img wall, vmdk streamOptimized:  $(ratio "${wall[rehost-vmdk]}" "${wall[qemu-vmdk]}") (goal <= 1.0)"
echo "ratio rehost/qemu-img wall, vpc:                   $(ratio "${wall[rehost-vpc]}" "${wall[qemu-vpc]}") (goal <= 1.0)"
