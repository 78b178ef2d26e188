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
			printf "%d %d\n", start * ss, size * ss; found = 1
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
	cleanup_fn losetup -d "$dev"
	echo "$dev"
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
	losetup -d "$dev"
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
