# Shared helpers for rehost's script tests. Source it first thing:
#
#   . "$(dirname "$0")/functions.sh"
#
# It gives every test a private scratch directory ($T), a LIFO cleanup list
# run on any exit (so loop devices, mounts and daemons a test made are
# removed - exactly those, never anything else), and helpers to build disk
# images with real partition tables and filesystems.
#
# Exit status 77 means "skipped"; a skip always prints why.

set -euo pipefail

REHOST=${REHOST:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/rehost}
REHOST_SRCDIR=${REHOST_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TEST_NAME=$(basename "$0" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/rehost-$TEST_NAME.XXXXXX")

# The cleanup list is a file, not a variable, so that helpers called in a
# command substitution ($(loop_attach ...) runs in a subshell) still
# register what they made with the test's own exit handler.
_cleanup_list=$T/.cleanup

# cleanup_fn CMD [ARGS...]: run CMD at exit, most recently registered first.
cleanup_fn() {
	local q
	printf -v q '%q ' "$@"
	printf '%s\n' "$q" >>"$_cleanup_list"
}

_run_cleanups() {
	local rc=$? cmd
	set +e
	if [ -f "$_cleanup_list" ]; then
		while IFS= read -r cmd; do
			eval "$cmd" >/dev/null 2>&1
		done < <(tac "$_cleanup_list")
	fi
	rm -rf "$T"
	exit "$rc"
}
trap _run_cleanups EXIT
trap 'exit 130' INT TERM

log() { printf '%s: %s\n' "$TEST_NAME" "$*" >&2; }

fail() {
	printf '%s: FAIL: %s\n' "$TEST_NAME" "$*" >&2
	exit 1
}

skip() {
	printf '%s: SKIP: %s\n' "$TEST_NAME" "$*" >&2
	exit 77
}

# requires CMD...: skip (loudly) unless every command exists.
requires() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "required command '$c' not found (run scripts/install-deps.sh)"
	done
}

requires_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root for loop devices and mounts"
}

# expect_exit CODE CMD...: run CMD, capture stdout/stderr in $T/out, $T/err,
# and fail unless it exits with CODE.
expect_exit() {
	local want=$1 rc=0
	shift
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "--- stdout" >&2; cat "$T/out" >&2
		echo "--- stderr" >&2; cat "$T/err" >&2
		fail "'$*' exited $rc, expected $want"
	fi
}

# assert_grep PATTERN FILE: fail unless FILE matches the extended regex.
assert_grep() {
	grep -qE -- "$1" "$2" || {
		echo "--- $2" >&2; cat "$2" >&2
		fail "'$2' does not match /$1/"
	}
}

assert_no_grep() {
	if grep -qE -- "$1" "$2"; then
		echo "--- $2" >&2; cat "$2" >&2
		fail "'$2' unexpectedly matches /$1/"
	fi
}

# make_image PATH SIZE: a sparse file of SIZE (truncate syntax: 64M, 1G).
make_image() {
	truncate -s "$2" "$1"
}

# partition_image PATH LABEL SPEC: write a partition table with sfdisk.
# LABEL is dos or gpt; SPEC is sfdisk input, one partition per line, e.g.
#   partition_image disk.img gpt $'size=20MiB\nsize=+'
partition_image() {
	local img=$1 label=$2 spec=$3
	printf 'label: %s\n%s\n' "$label" "$spec" | sfdisk -q --no-reread --no-tell-kernel "$img" >/dev/null
}

# part_geometry PATH N: print "OFFSET SIZE" in bytes of partition N.
part_geometry() {
	local img=$1 n=$2
	sfdisk -d "$img" | awk -v n="$n" -v img="$img" '
		/^sector-size:/ { ss = $2 }
		index($0, img) == 1 && $1 == img n {
			match($0, /start= *[0-9]+/); start = substr($0, RSTART + 6, RLENGTH - 6)
			match($0, /size= *[0-9]+/); size = substr($0, RSTART + 5, RLENGTH - 5)
			if (ss == "") ss = 512
			# %.0f, not %d: mawk clamps %d to 2^31 - 1 (a 2 GiB partition).
			printf "%.0f %.0f\n", start * ss, size * ss; found = 1
		}
		END { if (!found) exit 1 }'
}

# loop_attach PATH [OFFSET SIZE]: attach a loop device (optionally over a
# byte range, since `losetup -P` may not create partition nodes here), print
# its name, and detach exactly it at exit.
loop_attach() {
	local img=$1 dev
	if [ $# -ge 3 ]; then
		dev=$(losetup --show -f -o "$2" --sizelimit "$3" "$img")
	else
		dev=$(losetup --show -f "$img")
	fi
	cleanup_fn _loop_release "$dev" "$img" "${2:-0}"
	echo "$dev"
}

# _loop_release DEV IMG OFFSET: detach DEV only while it still maps IMG at
# OFFSET. A device detached early (loop_detach) can be handed to a
# concurrent test by the kernel; detaching it again by number at exit would
# pull that test's disk from under it.
_loop_release() {
	local back off
	read -r back off < <(losetup -n -O BACK-FILE,OFFSET "$1" 2>/dev/null) || return 0
	[ "$back" = "$(realpath "$2")" ] && [ "$off" = "$3" ] && losetup -d "$1"
}

# loop_detach DEV: detach a device from loop_attach before the test ends.
loop_detach() {
	losetup -d "$1"
}

# loop_attach_part PATH N: loop device over partition N of an image.
loop_attach_part() {
	local geo
	geo=$(part_geometry "$1" "$2")
	loop_attach "$1" ${geo% *} ${geo#* }
}

# mkfs_part PATH N FSTYPE [MKFS-OPTIONS...]: make a filesystem on partition
# N of an image. vfat is written with mtools-compatible mkfs.vfat directly
# on a loop device (the kernel here cannot mount vfat, but can hold it).
mkfs_part() {
	local img=$1 n=$2 fs=$3 dev
	shift 3
	dev=$(loop_attach_part "$img" "$n")
	case "$fs" in
	ext2|ext3|ext4) mkfs."$fs" -q -F "$@" "$dev" ;;
	xfs) mkfs.xfs -q -f "$@" "$dev" ;;
	btrfs) mkfs.btrfs -q -f "$@" "$dev" ;;
	vfat) mkfs.vfat "$@" "$dev" >/dev/null ;;
	swap) mkswap "$@" "$dev" >/dev/null ;;
	*) fail "mkfs_part: unknown filesystem $fs" ;;
	esac
	loop_detach "$dev"
}

# mount_dev DEV DIR [OPTIONS]: mount and unmount exactly it at exit.
mount_dev() {
	mkdir -p "$2"
	mount ${3:+-o "$3"} "$1" "$2"
	cleanup_fn umount "$2"
}

# start_daemon NAME PORTFILE CMD...: start CMD in the background (its
# output in $T/NAME.log, its pid in $T/NAME.pid), wait up to 10 s for it to write PORTFILE, print
# the port, and kill exactly that process at exit.
start_daemon() {
	local name=$1 portfile=$2 pid i
	shift 2
	"$@" >"$T/$name.log" 2>&1 &
	pid=$!
	echo "$pid" >"$T/$name.pid"
	cleanup_fn kill_wait "$pid"
	for ((i = 0; i < 100; i++)); do
		if [ -s "$portfile" ]; then
			cat "$portfile"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || { cat "$T/$name.log" >&2; fail "$name exited during start-up"; }
		sleep 0.1
	done
	cat "$T/$name.log" >&2
	fail "$name did not write $portfile within 10 s"
}

# kill_wait PID: TERM, then KILL after 5 s, and reap.
kill_wait() {
	local pid=$1 i
	kill "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

[ -x "$REHOST" ] || fail "rehost binary not found at $REHOST (build first: make)"

# ---- LVM, md RAID, root trees and initramfs images (added for inspect) ----

# lvm_setup DEV...: point the LVM tools at a private configuration that
# sees only DEV... (loop devices), needs no udev and never activates
# anything: there is no device-mapper here, and the host's LVM state must
# stay untouched. Use lvm_run for every LVM command afterwards.
lvm_setup() {
	local filter="" d
	for d in "$@"; do filter+="\"a|^$d\$|\", "; done
	export LVM_SYSTEM_DIR=$T/lvm-system LVM_SUPPRESS_FD_WARNINGS=1
	mkdir -p "$LVM_SYSTEM_DIR/backup" "$LVM_SYSTEM_DIR/archive"
	cat >"$LVM_SYSTEM_DIR/lvm.conf" <<-CONF
	devices { filter = [ $filter"r|.*|" ] obtain_device_list_from_udev = 0 hints = "none" use_devicesfile = 0 }
	activation { udev_sync = 0 udev_rules = 0 }
	backup { backup = 0 archive = 0 }
	CONF
}

# lvm_run CMD ARGS...: an LVM command with device-mapper declared absent
# (metadata-only: LVs are created but never activated).
lvm_run() {
	local cmd=$1
	shift
	"$cmd" --driverloaded n "$@" 2>"$T/lvm.err" >"$T/lvm.out" || {
		cat "$T/lvm.out" "$T/lvm.err" >&2
		fail "$cmd $*"
	}
	cat "$T/lvm.out"
}

# lvm_make_thin_pool VG DATA META [THIN THIN_EXTENTS]: turn linear LVs DATA
# and META into a thin pool named DATA (plus, optionally, a thin LV THIN)
# by editing the VG metadata and restoring it with vgcfgrestore --force:
# lvcreate/lvconvert refuse to make thin pools without the dm-thin target,
# but the on-disk metadata they would write is exactly this.
lvm_make_thin_pool() {
	local vg=$1 data=$2 meta=$3 thin=${4:-} thin_ext=${5:-0}
	lvm_run vgcfgbackup -f "$T/$vg.vgcfg" "$vg" >/dev/null
	python3 - "$T/$vg.vgcfg" "$data" "$meta" "$thin" "$thin_ext" <<-'PY'
	import re, sys
	path, data, meta, thin, thin_ext = sys.argv[1:6]
	t = open(path).read()
	def block(text, name):
	    m = re.search(r'\n(\t+)' + re.escape(name) + r' \{\n', text)
	    start, depth, i = m.start() + 1, 0, text.index('{', m.start())
	    while True:
	        depth += {'{': 1, '}': -1}.get(text[i], 0)
	        if depth == 0:
	            return start, i + 1
	        i += 1
	for old, new in ((data, data + '_tdata'), (meta, data + '_tmeta')):
	    s, e = block(t, old)
	    b = t[s:e].replace(old + ' {', new + ' {', 1).replace(', "VISIBLE"', '')
	    t = t[:s] + b + t[e:]
	s, e = block(t, data + '_tdata')
	extents = int(re.search(r'extent_count = (\d+)', t[s:e]).group(1))
	lvs = ('%s {\n\t\t\tid = "Thinpo-ol00-0000-0000-0000-0000-%06d"\n'
	       '\t\t\tstatus = ["READ", "WRITE", "VISIBLE"]\n\t\t\tflags = []\n'
	       '\t\t\tsegment_count = 1\n\n\t\t\tsegment1 {\n\t\t\t\tstart_extent = 0\n'
	       '\t\t\t\textent_count = %d\n\t\t\t\ttype = "thin-pool"\n'
	       '\t\t\t\tmetadata = "%s_tmeta"\n\t\t\t\tpool = "%s_tdata"\n'
	       '\t\t\t\ttransaction_id = 1\n\t\t\t\tchunk_size = 128\n'
	       '\t\t\t\tdiscards = "passdown"\n\t\t\t\tzero_new_blocks = 1\n\t\t\t}\n\t\t}\n\n\t\t'
	       % (data, extents, extents, data, data))
	if thin:
	    lvs += ('%s {\n\t\t\tid = "Thinlv-0000-0000-0000-0000-0000-%06d"\n'
	            '\t\t\tstatus = ["READ", "WRITE", "VISIBLE"]\n\t\t\tflags = []\n'
	            '\t\t\tsegment_count = 1\n\n\t\t\tsegment1 {\n\t\t\t\tstart_extent = 0\n'
	            '\t\t\t\textent_count = %s\n\t\t\t\ttype = "thin"\n'
	            '\t\t\t\tthin_pool = "%s"\n\t\t\t\ttransaction_id = 0\n'
	            '\t\t\t\tdevice_id = 1\n\t\t\t}\n\t\t}\n\n\t\t' % (thin, extents, thin_ext, data))
	t = t[:s] + lvs + t[s:]
	t = re.sub(r'seqno = (\d+)', lambda m: 'seqno = %d' % (int(m.group(1)) + 1), t, count=1)
	open(path, 'w').write(t)
	PY
	lvm_run vgcfgrestore --force -f "$T/$vg.vgcfg" "$vg" >/dev/null
}

# lvm_lv_offset VG LV: byte offset of LV's first extent on its PV, relative
# to the start of the PV (for a linear LV), for mkfs through a loop device.
lvm_lv_offset() {
	local pe_start ext first
	pe_start=$(lvm_run pvs --noheadings --units b --nosuffix -o pe_start -S "vg_name=$1" | head -1 | tr -d ' ')
	ext=$(lvm_run vgs --noheadings --units b --nosuffix -o vg_extent_size "$1" | tr -d ' ')
	first=$(lvm_run lvs --noheadings -o seg_pe_ranges "$1/$2" | tr -d ' ' | sed 's/.*:\([0-9]*\)-.*/\1/')
	echo $((pe_start + first * ext))
}

# md_write_member IMG OFFSET SIZE UUID NAME ROLE NDISKS LEVEL: write an md
# 1.2 superblock (4 KiB into the member, data from 1 MiB) at byte OFFSET of
# IMG for a member of SIZE bytes. The kernel here has no md driver, so
# mdadm --create cannot run; this writes the same structure (with the
# md checksum) that mdadm would, which is what blkid and rehost read.
md_write_member() {
	python3 - "$@" <<-'PY'
	import struct, sys, uuid
	img, off, size, set_uuid, name, role, ndisks, level = sys.argv[1:9]
	off, size, role, ndisks, level = int(off), int(size), int(role), int(ndisks), int(level)
	data_offset = 2048
	data_size = size // 512 - data_offset
	max_dev = 128
	sb = bytearray(256 + 2 * max_dev)
	struct.pack_into('<IIII', sb, 0, 0xa92b4efc, 1, 0, 0)
	sb[16:32] = uuid.UUID(set_uuid).bytes
	sb[32:64] = name.encode()[:32].ljust(32, b'\0')
	struct.pack_into('<QiiQII', sb, 64, 1700000000, level, 0, data_size, 0, ndisks)
	struct.pack_into('<QQQQ', sb, 128, data_offset, data_size, 8, 0)
	struct.pack_into('<I', sb, 160, role)
	sb[168:184] = uuid.uuid4().bytes
	struct.pack_into('<QQQ', sb, 192, 1700000000, 1, 0xffffffffffffffff)
	struct.pack_into('<I', sb, 220, max_dev)
	for i in range(max_dev):
	    struct.pack_into('<H', sb, 256 + 2 * i, i if i < ndisks else 0xffff)
	csum = sum(struct.unpack_from('<%dI' % (len(sb) // 4), sb))
	struct.pack_into('<I', sb, 216, (csum & 0xffffffff) + (csum >> 32) & 0xffffffff)
	with open(img, 'r+b') as f:
	    f.seek(off + 4096)
	    f.write(sb)
	PY
}

# make_initramfs OUT COMPRESS KERNEL [EARLY] [MODULE...]: build an
# initramfs the way dracut and initramfs-tools lay it out: a newc cpio of
# a small tree holding MODULE.ko.xz files under usr/lib/modules/KERNEL,
# compressed with COMPRESS (none, gzip, xz, lzma, zstd). EARLY = early
# prepends an uncompressed microcode cpio. Modules default to the six
# virtio drivers.
make_initramfs() {
	local out=$1 comp=$2 kver=$3 early=${4:-} d m
	shift 3; [ $# -gt 0 ] && shift
	local mods=("$@")
	[ ${#mods[@]} -gt 0 ] || mods=(virtio_blk virtio_scsi virtio_net virtio_pci virtio_ring virtio)
	d=$(mktemp -d "$T/initramfs.XXXXXX")
	mkdir -p "$d/main/usr/lib/modules/$kver/kernel/drivers/virtio" "$d/main/usr/bin" "$d/main/etc"
	echo '#!/bin/sh' >"$d/main/init"
	head -c 70000 /dev/urandom >"$d/main/usr/bin/busybox"
	for m in "${mods[@]}"; do
		[ "$m" = none ] && continue
		head -c 3000 /dev/urandom >"$d/main/usr/lib/modules/$kver/kernel/drivers/virtio/$m.ko.xz"
	done
	: >"$out"
	if [ "$early" = early ]; then
		mkdir -p "$d/early/kernel/x86/microcode"
		head -c 5000 /dev/urandom >"$d/early/kernel/x86/microcode/GenuineIntel.bin"
		(cd "$d/early" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >>"$out"
	fi
	(cd "$d/main" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$d/main.cpio"
	case "$comp" in
	none) cat "$d/main.cpio" ;;
	gzip) gzip -9 -c "$d/main.cpio" ;;
	xz) xz --check=crc32 -c "$d/main.cpio" ;;
	lzma) xz --format=lzma -c "$d/main.cpio" ;;
	zstd) zstd -q -c "$d/main.cpio" ;;
	*) fail "make_initramfs: unknown compression $comp" ;;
	esac >>"$out"
	rm -rf "$d"
}

# make_root_tree DIR [KERNEL [ARCH]]: a minimal but complete root tree of
# a healthy BIOS-booted x86_64 server, as `rehost inspect --root` reads it:
# /proc and /sys inputs (kernel, CPUs, memory, mounts, routes, NIC), fstab,
# rsync and ssh on the PATH, GRUB i386-pc modules and grub.cfg, and an
# initramfs with the virtio drivers for KERNEL. Tests then add os-release
# or release files and break what they want to check.
make_root_tree() {
	local d=$1 k=${2:-6.1.0-18-amd64} arch=${3:-x86_64} i
	mkdir -p "$d"/{etc,root,tmp,boot/grub,usr/bin,usr/sbin,usr/lib/grub/i386-pc} \
		"$d"/proc/{sys/kernel,self,net} "$d"/sys/{class/net/eth0,block,firmware} \
		"$d/lib/modules/$k"
	echo "$k" >"$d/proc/sys/kernel/osrelease"
	echo "$arch" >"$d/proc/sys/kernel/arch"
	echo testhost >"$d/proc/sys/kernel/hostname"
	: >"$d/proc/cpuinfo"
	for i in 0 1; do
		printf 'processor\t: %d\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme lm hypervisor\n\n' "$i" >>"$d/proc/cpuinfo"
	done
	printf 'MemTotal:        4028000 kB\nMemFree:         1000000 kB\nMemAvailable:    3000000 kB\n' >"$d/proc/meminfo"
	printf '20 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n' >"$d/proc/self/mountinfo"
	printf 'UUID=11111111-2222-3333-4444-555555555555 / ext4 defaults 0 1\n' >"$d/etc/fstab"
	printf 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n' >"$d/proc/net/route"
	printf 'eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n' >>"$d/proc/net/route"
	printf 'eth0\t0000000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n' >>"$d/proc/net/route"
	printf 'Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.0.0.5\n        /32 host LOCAL\nLocal:\n     |-- 10.0.0.5\n        /32 host LOCAL\n' >"$d/proc/net/fib_trie"
	echo 52:54:00:12:34:56 >"$d/sys/class/net/eth0/address"
	for i in rsync ssh; do
		printf '#!/bin/sh\n' >"$d/usr/bin/$i"
		chmod 755 "$d/usr/bin/$i"
	done
	head -c 512 /dev/zero >"$d/usr/lib/grub/i386-pc/boot.img"
	printf 'menuentry x {\n\tlinux /vmlinuz-%s root=UUID=11111111-2222-3333-4444-555555555555 ro\n}\n' "$k" >"$d/boot/grub/grub.cfg"
	make_initramfs "$d/boot/initrd.img-$k" gzip "$k"
}

# json_check FILE EXPR WANT [EXPR WANT]...: evaluate each Python expression
# over the JSON document in FILE (bound to d) and fail, naming it, unless
# str() of the result equals WANT. One interpreter for the whole batch.
# The Python the tests run their helpers with: Debian's, whose modules
# (python3-jsonschema) scripts/install-deps.sh installs; a python3 earlier
# in PATH (pyenv, a venv) may lack them.
PYTHON=python3
[ -x /usr/bin/python3 ] && PYTHON=/usr/bin/python3

json_check() {
	"$PYTHON" - "$@" <<-'PY' || fail "json_check on $1"
	import json, sys
	d = json.load(open(sys.argv[1]))
	args = sys.argv[2:]
	for expr, want in zip(args[0::2], args[1::2]):
	    got = str(eval(expr))
	    if got != want:
	        sys.stderr.write("json_check: %s = %r, expected %r\n" % (expr, got, want))
	        sys.exit(1)
	PY
}
