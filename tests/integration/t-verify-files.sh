#!/bin/bash
# rehost verify --files: two real ext4 filesystems on loop devices, a tree
# copied with cp -a, then corruption injected on the target (a flipped byte
# in a file with its mtime restored, a changed file, a deleted file, an
# extra file). Checks the verdict, exit status, result log, JSON summary,
# recheck, mount-point skipping, refused roots and the progress line.
. "$(dirname "$0")/functions.sh"

requires_root
requires mkfs.ext4 losetup mount python3 cp

S=$T/src D=$T/dst L=$T/logs
# Images in memory when possible: the loop devices and ext4 are real, the
# test just does not wait for a shared disk.
I=$T
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	I=$(mktemp -d /dev/shm/rehost-t-verify-files.XXXXXX)
	cleanup_fn rm -rf "$I"
fi
for side in src dst; do
	make_image "$I/$side.img" 64M
	mkfs.ext4 -q -F "$I/$side.img"
	dev=$(loop_attach "$I/$side.img")
	mount_dev "$dev" "$T/$side"
done

# The source tree: text files, a 6 MiB binary, symlinks, nesting, odd names.
mkdir -p "$S/etc/app" "$S/var/lib/db" "$S/home/u/deep/er" "$S/empty"
for i in $(seq 1 12); do echo "config line $i" >"$S/etc/app/conf$i"; done
head -c 6291456 /dev/urandom >"$S/var/lib/db/table.ibd"
head -c 70000 /dev/urandom >"$S/home/u/deep/er/blob"
echo hello >"$S/home/u/notes.txt"
echo "tab	name" >"$S/home/u/tab	name"
ln -s notes.txt "$S/home/u/link"
ln -s /etc/passwd "$S/home/u/abs-link"
mkfifo "$S/home/u/fifo"
# A filesystem mounted inside the source: the walk must not cross into it.
mkdir "$S/mnt"
mount -t tmpfs -o size=1M tmpfs "$S/mnt"
cleanup_fn umount "$S/mnt"
echo inside >"$S/mnt/other-fs"

cp -a "$S/." "$D/"
sync

verify() { "$REHOST" verify --files --source "$S" --target "$D" --log-dir "$L" --progress none "$@"; }
mismatch_lines() { grep -v '^#' "$L/rehost-verify-result.log" | grep -v '^skipped' || true; }

# ---- a clean target reports nothing ----
# (crc also shows the progress line, same shape as the copy engine's)
for mode in quick crc; do
	if [ $mode = quick ]; then
		expect_exit 0 verify --mode "$mode" --json
		assert_grep '"identical": ?true' "$T/out"
		assert_grep "verify $mode: identical: " "$T/err"
	else
		expect_exit 0 verify --mode "$mode" --progress log --interval 1
		assert_grep "verify $mode: identical: " "$T/out"
		assert_grep 'INFO  \[verify\] verify speed: [0-9.]+ MB/s, progress: 100\.0, files: [0-9]+, checked size: [0-9]+' "$T/err"
	fi
	json_check "$L/rehost-verify-summary.json" \
		'd["mismatches_total"]' 0 'd["mode"]' "$mode" 'd["skipped"]["mount_point"]' 1 \
		'd["files_checked"]' 19 'd["dirs_checked"]' 12
	[ -z "$(mismatch_lines)" ] || fail "clean $mode run listed mismatches"
	assert_grep '^skipped	mnt	mount_point: mount point on the source$' "$L/rehost-verify-result.log"
	assert_grep '^# end: 1$' "$L/rehost-verify-result.log"
done
bytes=$(find "$S" -xdev -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
json_check "$L/rehost-verify-summary.json" 'd["bytes_read"]' $((2 * bytes)) 'd["bytes_checked"]' "$bytes"

# ---- inject corruption on the target ----
# 1. one flipped byte in the middle of the large file, size and mtime kept
python3 - "$D/var/lib/db/table.ibd" <<-'PY'
import sys
with open(sys.argv[1], 'r+b') as f:
    f.seek(3000001)
    b = f.read(1)
    f.seek(3000001)
    f.write(bytes([b[0] ^ 0xff]))
PY
touch -r "$S/var/lib/db/table.ibd" "$D/var/lib/db/table.ibd"
# 2. a changed file, 3. a deleted file, 4. an extra file
echo "config line 7 changed" >"$D/etc/app/conf7"
rm "$D/home/u/notes.txt"
echo stray >"$D/home/u/stray"

# quick mode: sizes, times, presence; the flipped byte is invisible to it
expect_exit 1 verify --mode quick
assert_grep 'verify quick: 3 MISMATCHES \(1 missing, 1 extra, 1 size\)' "$T/out"
assert_grep '^size	etc/app/conf7	source 14 bytes, target 22 bytes$' "$L/rehost-verify-result.log"
assert_grep '^missing	home/u/notes.txt	regular file, 6 bytes$' "$L/rehost-verify-result.log"
assert_grep '^extra	home/u/stray	regular file, 6 bytes$' "$L/rehost-verify-result.log"
assert_no_grep 'table.ibd' "$L/rehost-verify-result.log"

# crc mode: the flipped byte is found, at its offset
expect_exit 1 verify --mode crc --json
assert_grep '^content	var/lib/db/table.ibd	first differing byte at offset 3000001;' "$L/rehost-verify-result.log"
[ "$(mismatch_lines | wc -l)" -eq 4 ] || fail "expected 4 mismatch lines, got: $(mismatch_lines)"
assert_grep '^# end: 5$' "$L/rehost-verify-result.log"
for f in "$T/out" "$L/rehost-verify-summary.json"; do
	json_check "$f" 'd["identical"]' False 'd["mismatches_total"]' 4 \
		'd["mismatches"]["content"]' 1 'd["mismatches"]["size"]' 1 \
		'd["mismatches"]["missing"]' 1 'd["mismatches"]["extra"]' 1 \
		'd["mismatches"]["mtime"]' 0 'd["mode"]' crc 'd["recheck"]' False
done
assert_grep 'rehost verify: content var/lib/db/table.ibd: ' "$T/err"
assert_grep 'verify crc: 4 MISMATCHES' "$T/err"

# ---- recheck: only the listed entries, fixed ones cleared ----
cp -a "$S/var/lib/db/table.ibd" "$D/var/lib/db/table.ibd"
echo "changed but not listed" >"$D/etc/app/conf1"
expect_exit 1 verify --recheck
assert_grep 'verify crc recheck: 3 MISMATCHES' "$T/out"
assert_no_grep 'table.ibd|conf1' "$L/rehost-verify-result.log"
assert_grep '^# recheck: yes$' "$L/rehost-verify-result.log"
cp -a "$S/etc/app/conf7" "$D/etc/app/conf7"
cp -a "$S/home/u/notes.txt" "$D/home/u/notes.txt"
rm "$D/home/u/stray"
expect_exit 0 verify --recheck --json
json_check "$T/out" 'd["rechecked"]' 3 'd["mismatches_total"]' 0 'd["recheck"]' True
# a full run still sees the unlisted change (progress as JSON lines on stdout)
expect_exit 1 "$REHOST" verify --files --source "$S" --target "$D" --log-dir "$L" --progress json
assert_grep '^size	etc/app/conf1	' "$L/rehost-verify-result.log"
assert_grep '^\{"event":"progress",.*"mismatches":1,"final":true\}$' "$T/out"
assert_grep 'verify quick: 1 MISMATCHES' "$T/err"

# ---- errors and refusals ----
expect_exit 1 "$REHOST" verify --files --source "$S" --target /usr/../etc --log-dir "$L"
assert_grep "target /usr/../etc -> /etc is a refused root" "$T/err"
expect_exit 1 "$REHOST" verify --files --source "$S" --target "$D" --log-dir "$T/fresh" --recheck
assert_grep "run verify without --recheck first" "$T/err"
expect_exit 2 "$REHOST" verify --files --source "$S" --target "$D" --mode slow
expect_exit 2 "$REHOST" verify

log "ok"
