#!/usr/bin/env bash
# rehost image convert against the real qemu-img, both ways: every image we
# write passes `qemu-img check` and `qemu-img compare` with its source, and
# `qemu-img info` reports the format, virtual size and (qcow2) compression
# type we meant; every image qemu-img writes (qcow2 plain, zlib and zstd
# compressed, version 2; vpc dynamic, fixed and force_size; vmdk
# monolithicSparse and streamOptimized) reads back identical through ours.
# ctest: slow
. "$(dirname "$0")/functions.sh"
requires qemu-img cmp sed

src=$T/src.raw
make_image "$src" 12M
# Incompressible, compressible and zero regions, a lone sector near the end
# and an odd tail (the size is not a multiple of 64 KiB clusters).
head -c 1M /dev/urandom | dd of="$src" bs=1M seek=1 conv=notrunc status=none
{ yes 'rehost image interop test line' || true; } | head -c 3M | dd of="$src" bs=1M seek=4 conv=notrunc status=none
head -c 512 /dev/urandom | dd of="$src" bs=512 seek=20000 conv=notrunc status=none
truncate -s $((12 * 1024 * 1024 + 3 * 512)) "$src"
printf 'tail' | dd of="$src" bs=1 seek=$((12 * 1024 * 1024 + 1000)) conv=notrunc status=none
size=$(stat -c %s "$src")

# qinfo IMG FMT: "format virtual-size compression-type create-type" as
# qemu-img sees them (top-level keys are indented by 4 spaces).
qinfo() {
	qemu-img info -f "$2" --output=json "$1" >"$T/qinfo"
	local f vs ct cr
	f=$(sed -n 's/^    "format": "\(.*\)",*$/\1/p' "$T/qinfo")
	vs=$(sed -n 's/^    "virtual-size": \([0-9]*\),*$/\1/p' "$T/qinfo")
	ct=$(sed -n 's/^ *"compression-type": "\(.*\)",*$/\1/p' "$T/qinfo")
	cr=$(sed -n 's/^ *"create-type": "\(.*\)",*$/\1/p' "$T/qinfo")
	echo "$f $vs ${ct:--} ${cr:--}"
}

# --- ours -> qemu-img ---
# ours NAME FMT SIZE-RULE WANT-COMPRESSION CONVERT-ARGS...
ours() {
	local name=$1 fmt=$2 rule=$3 want=$4 out=$T/$1 f vs ct cr
	shift 4
	expect_exit 0 "$REHOST" image convert "$@" "$src" "$out"
	read -r f vs ct cr < <(qinfo "$out" "$fmt")
	[ "$f" = "$fmt" ] || fail "$name: qemu-img sees format $f"
	if [ "$rule" = exact ]; then
		[ "$vs" -eq "$size" ] || fail "$name: virtual size $vs, expected $size"
	else
		[ "$vs" -ge "$size" ] && [ "$vs" -lt $((size + 2 * 1024 * 1024)) ] || fail "$name: virtual size $vs"
	fi
	[ "$want" = - ] || [ "$ct" = "$want" ] || [ "$cr" = "$want" ] || fail "$name: qemu-img sees $ct/$cr, expected $want"
	qemu-img compare -q -f raw -F "$fmt" "$src" "$out" || fail "$name: qemu-img compare differs"
	case "$fmt" in qcow2|vmdk)
		qemu-img check -q -f "$fmt" "$out" || fail "$name: qemu-img check failed" ;;
	esac
}
ours q-plain.qcow2 qcow2 exact zlib -O qcow2
ours q-zlib.qcow2 qcow2 exact zlib -O qcow2 -c
ours q-zstd.qcow2 qcow2 exact zstd -O qcow2 -c -o compression_type=zstd,threads=2
ours q-4k.qcow2 qcow2 exact - -O qcow2 -o cluster_size=4096
ours v-dyn.vhd vpc round - -O vpc
ours v-fixed.vhd vpc round - -O vpc -o subformat=fixed
ours v-force.vhd vpc exact - -O vhd -o force_size
ours m-sparse.vmdk vmdk exact monolithicSparse -O vmdk
ours m-stream.vmdk vmdk exact streamOptimized -O vmdk -o subformat=streamOptimized
ours r.raw raw exact - -O raw
cmp "$src" "$T/r.raw" || fail "raw output differs"
# Compressed images are smaller than plain ones; raw output is sparse.
[ "$(stat -c %s "$T/q-zstd.qcow2")" -lt "$(stat -c %s "$T/q-plain.qcow2")" ] || fail "zstd qcow2 not smaller"
[ "$(stat -c %b "$T/r.raw")" -lt $((size / 512 / 2)) ] || fail "raw output is not sparse"
# Our own info and check agree.
expect_exit 0 "$REHOST" image info --json "$T/q-zstd.qcow2"
assert_grep '"compression": "zstd"' "$T/out"
assert_grep "\"virtual-size\": $size" "$T/out"
expect_exit 0 "$REHOST" image check --no-contents "$T/m-stream.vmdk"
assert_grep 'No errors were found' "$T/out"

# --- qemu-img -> ours ---
theirs() { # NAME FMT QEMU-CONVERT-ARGS...
	local name=$1 fmt=$2 img=$T/theirs-$1
	shift 2
	qemu-img convert -f raw "$@" "$src" "$img"
	expect_exit 0 "$REHOST" image convert -f "$fmt" -O raw "$img" "$T/back.raw"
	[ "$(stat -c %s "$T/back.raw")" -ge "$size" ] || fail "$name: image too short"
	cmp -n "$size" "$src" "$T/back.raw" || fail "$name: qemu-img's image reads back different"
	rm -f "$T/back.raw"
}
theirs qcow2 qcow2 -O qcow2
theirs qcow2-c qcow2 -O qcow2 -c
theirs qcow2-zstd qcow2 -O qcow2 -c -o compression_type=zstd
theirs qcow2-v2 qcow2 -O qcow2 -o compat=0.10
theirs qcow2-512 qcow2 -O qcow2 -o cluster_size=512
theirs vpc vpc -O vpc
theirs vpc-fixed vpc -O vpc -o subformat=fixed
theirs vpc-force vpc -O vpc -o force_size=on
theirs vmdk vmdk -O vmdk
theirs vmdk-stream vmdk -O vmdk -o subformat=streamOptimized
theirs vmdk-zg vmdk -O vmdk -o zeroed_grain=on
expect_exit 0 "$REHOST" image info "$T/theirs-qcow2-zstd"
assert_grep '^compression: zstd' "$T/out"
expect_exit 0 "$REHOST" image check --no-contents "$T/theirs-qcow2-c"
assert_grep 'No errors were found' "$T/out"
# qemu-img writes a fixed VHD without a header copy: name the format.
expect_exit 0 "$REHOST" image info -f vpc "$T/theirs-vpc-fixed"
assert_grep '^format: vpc \(fixed\)' "$T/out"

# Same file in and out is refused.
expect_exit 2 "$REHOST" image convert -O qcow2 "$src" "$src"
log "ok"
