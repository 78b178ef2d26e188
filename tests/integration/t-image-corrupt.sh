#!/usr/bin/env bash
# Damaged images are rejected with a clear message and exit status 1, never
# a crash: truncated files, bad magic, absurd sizes, tables out of bounds,
# overlapping and leaked clusters, a broken compressed cluster, a stream
# vmdk without its footer, VHD checksum and BAT damage.
# ctest: slow
. "$(dirname "$0")/functions.sh"
requires qemu-img od

src=$T/src.raw
make_image "$src" 4M
head -c 300K /dev/urandom | dd of="$src" bs=1K seek=64 conv=notrunc status=none
{ yes 'corrupt me' || true; } | head -c 200K | dd of="$src" bs=1K seek=1024 conv=notrunc status=none
qemu-img convert -f raw -O qcow2 -o cluster_size=4096 "$src" "$T/good.qcow2"
qemu-img convert -f raw -O qcow2 -c -o cluster_size=4096 "$src" "$T/good-c.qcow2"
qemu-img convert -f raw -O vpc "$src" "$T/good.vhd"
"$REHOST" image convert -O vmdk -o subformat=streamOptimized "$src" "$T/good-s.vmdk" 2>/dev/null
"$REHOST" image convert -O vmdk "$src" "$T/good.vmdk" 2>/dev/null

# Binary fields without a Python per call (each start costs too much on a
# loaded machine): FMT is '>Q' '>I' '>H' (big-endian) or '<Q' '<I'.
_width() { case "${1:1}" in Q) echo 8 ;; I) echo 4 ;; H) echo 2 ;; esac; }
_endian() { [ "${1:0:1}" = '>' ] && echo big || echo little; }

# field FILE OFFSET FMT: print the field as a (possibly negative) number.
field() {
	echo $((0x$(od -An -t x"$(_width "$3")" --endian="$(_endian "$3")" -j "$2" -N "$(_width "$3")" "$1" | tr -d ' \n')))
}

# patch FILE OFFSET FMT VALUE OUT: copy FILE to OUT with the field set
# (a negative OFFSET counts from the end; values are taken modulo 2^64).
patch() {
	local src=$1 off=$2 fmt=$3 val=$(($4)) out=$5 w i b esc=''
	w=$(_width "$fmt")
	[ "$off" -ge 0 ] || off=$(($(stat -c %s "$src") + off))
	for ((i = 0; i < w; i++)); do
		if [ "$(_endian "$fmt")" = big ]; then b=$(((val >> (8 * (w - 1 - i))) & 255)); else b=$(((val >> (8 * i)) & 255)); fi
		esc+=$(printf '\\x%02x' "$b")
	done
	[ "$src" = "$out" ] || cp "$src" "$out"
	printf "$esc" | dd of="$out" bs=1 seek="$off" conv=notrunc status=none
}

# expect_rejected FMT IMG PATTERN: check fails cleanly (status 1) with
# PATTERN in its report.
expect_rejected() {
	local fmt=$1 img=$2 pat=$3 rc=0
	"$REHOST" image check -f "$fmt" "$img" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" -eq 1 ] || { cat "$T/out" "$T/err" >&2; fail "check of $img exited $rc, expected 1"; }
	grep -qE -- "$pat" "$T/out" "$T/err" || { cat "$T/out" "$T/err" >&2; fail "check of $img: no /$pat/"; }
}

# expect_clean_failure CMD...: a failure with a message, not a crash.
expect_clean_failure() {
	local rc=0
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" -eq 1 ] || { cat "$T/err" >&2; fail "'$*' exited $rc, expected 1"; }
	assert_grep '^rehost: error: ' "$T/err"
}

q=$T/good.qcow2
l1=$(field "$q" 40 '>Q')
l2=$(( $(field "$q" "$l1" '>Q') & 0x00fffffffffffe00 ))
rt=$(field "$q" 48 '>Q')
e0=$(field "$q" $((l2 + 8 * 16)) '>Q')
e1=$(field "$q" $((l2 + 8 * 17)) '>Q')
[ "$e0" != 0 ] && [ "$e1" != 0 ] || fail "test image layout unexpected"

patch "$q" 0 '>I' 0x12345678 "$T/b1"; expect_rejected qcow2 "$T/b1" 'bad magic'
patch "$q" 24 '>Q' $((1 << 62)) "$T/b2"; expect_rejected qcow2 "$T/b2" 'virtual size .* exceeds'
patch "$q" 36 '>I' 0x7fffffff "$T/b3"; expect_rejected qcow2 "$T/b3" 'L1 table of .* entries exceeds'
patch "$q" 40 '>Q' $((1 << 40)) "$T/b4"; expect_rejected qcow2 "$T/b4" 'L1 table .* beyond the end of the file'
patch "$q" "$l1" '>Q' $(((1 << 63) | (1 << 40))) "$T/b5"; expect_rejected qcow2 "$T/b5" 'L2 table lies beyond the end'
patch "$q" $((l2 + 8 * 16)) '>Q' $(((1 << 63) | (1 << 44))) "$T/b6"; expect_rejected qcow2 "$T/b6" 'data cluster lies beyond the end'
patch "$q" $((l2 + 8 * 17)) '>Q' "$e0" "$T/b7"; expect_rejected qcow2 "$T/b7" 'overlapping clusters'
patch "$q" $((l2 + 8 * 17)) '>Q' $(((1 << 63) | l2)) "$T/b8"; expect_rejected qcow2 "$T/b8" 'used as L2 table and as data cluster'
patch "$q" 48 '>Q' 4097 "$T/b9"; expect_rejected qcow2 "$T/b9" 'refcount table offset'
patch "$q" 20 '>I' 40 "$T/b10"; expect_rejected qcow2 "$T/b10" 'cluster_bits'
head -c 50 "$q" >"$T/b11"; expect_rejected qcow2 "$T/b11" 'too short'
head -c $(( $(stat -c %s "$q") / 2 )) "$q" >"$T/b12"; expect_rejected qcow2 "$T/b12" 'beyond the end of the file'
# A refcount of 0 for a used cluster, and a leak (harmless: exit 0).
rb=$(field "$q" "$rt" '>Q')
patch "$q" "$rb" '>H' 0 "$T/b13"; expect_rejected qcow2 "$T/b13" 'refcount 0 but referenced'
# One more cluster at the end with refcount 1 and no user.
n=$(( $(stat -c %s "$q") / 4096 ))
cp "$q" "$T/leak.qcow2"
truncate -s $(((n + 1) * 4096)) "$T/leak.qcow2"
patch "$T/leak.qcow2" $((rb + 2 * n)) '>H' 1 "$T/leak.qcow2"
expect_exit 0 "$REHOST" image check "$T/leak.qcow2"
assert_grep 'Leaked .*leaked' "$T/out"
assert_grep '1 leaked cluster' "$T/out"
# A compressed cluster whose data is garbage.
qc=$T/good-c.qcow2
cl1=$(field "$qc" 40 '>Q')
cl2=$(( $(field "$qc" "$cl1" '>Q') & 0x00fffffffffffe00 ))
coff=
for e in $(od -v -An -t x8 --endian=big -j "$cl2" -N 4096 -w8 "$qc"); do
	e=$((0x$e))
	if [ $(((e >> 62) & 1)) = 1 ]; then coff=$((e & ((1 << 58) - 1))); break; fi
done
[ -n "$coff" ] || fail "no compressed cluster in the first L2 table"
patch "$qc" "$coff" '>Q' 0xffffffffffffffff "$T/b14"; expect_rejected qcow2 "$T/b14" 'compressed cluster'

# vpc
v=$T/good.vhd
patch "$v" -448 '>I' 0 "$T/v1"; expect_rejected vpc "$T/v1" 'footer copy|checksum'
patch "$v" $((512 + 32)) '>I' 3 "$T/v2"; expect_rejected vpc "$T/v2" 'dynamic header checksum'
# The BAT has no checksum: an entry far past the end.
i=0
for e in $(od -v -An -t x4 --endian=big -j 1536 -N 256 -w4 "$v"); do
	[ "$e" = ffffffff ] || break
	i=$((i + 1))
done
patch "$v" $((1536 + 4 * i)) '>I' 0x7ffffff0 "$T/v3"
expect_rejected vpc "$T/v3" 'BAT entry [0-9]+: block at offset .* beyond'
head -c $(( $(stat -c %s "$v") - 700 )) "$v" >"$T/v4"; expect_rejected vpc "$T/v4" 'footer|beyond'
printf 'x' | dd of="$T/v5" bs=1 count=1 status=none; expect_rejected vpc "$T/v5" 'shorter than a footer'

# vmdk
m=$T/good.vmdk
patch "$m" 12 '<Q' $((1 << 61)) "$T/m1"; expect_rejected vmdk "$T/m1" 'capacity .* exceeds'
patch "$m" 56 '<Q' $((1 << 40)) "$T/m2"; expect_rejected vmdk "$T/m2" 'grain directory .* beyond'
gd=$(field "$m" 56 '<Q'); gt=$(field "$m" $((gd * 512)) '<I')
patch "$m" $((gt * 512)) '<I' 0x0ffffff0 "$T/m3"; expect_rejected vmdk "$T/m3" 'grain lies beyond the end'
g1=$(field "$m" $((gt * 512 + 4)) '<I')
patch "$m" $((gt * 512 + 4 * 2)) '<I' "$g1" "$T/m4"; expect_rejected vmdk "$T/m4" 'overlapping grains'
head -c $(( $(stat -c %s "$T/good-s.vmdk") - 1024 )) "$T/good-s.vmdk" >"$T/m5"; expect_rejected vmdk "$T/m5" 'footer .* missing'
patch "$m" 0 '<I' 0x1234 "$T/m6"; expect_rejected vmdk "$T/m6" 'bad magic'

# info and convert fail with a message too.
expect_clean_failure "$REHOST" image info -f qcow2 "$T/b5"
expect_clean_failure "$REHOST" image convert -f qcow2 -O raw "$T/b6" "$T/x.raw"
[ ! -e "$T/x.raw" ] || fail "a failed convert left its output behind"
expect_clean_failure "$REHOST" image convert -f qcow2 -O qcow2 "$T/b14" "$T/x.qcow2"
expect_clean_failure "$REHOST" image info -f vmdk "$T/m5"
expect_clean_failure "$REHOST" image convert -f vpc -O raw "$T/v3" "$T/x.raw"

# Good images pass.
for g in good.qcow2 good-c.qcow2 good.vhd good.vmdk good-s.vmdk; do
	expect_exit 0 "$REHOST" image check "$T/$g"
	assert_grep 'No errors were found' "$T/out"
done
log "ok"
