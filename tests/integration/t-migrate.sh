#!/usr/bin/env bash
# rehost migrate → rehost target over TLS on loopback: a GPT disk with real
# ext4 and xfs filesystems arrives identical; bad keys are refused; a too
# small target disk is refused with the seed's message; a finished job
# reruns as a no-op.
. "$(dirname "$0")/functions.sh"
requires_root
requires sfdisk qemu-img mkfs.ext4 mkfs.xfs e2fsck xfs_repair

"$REHOST" keygen "$T/keys" >/dev/null
"$REHOST" keygen "$T/otherkeys" >/dev/null

src=$T/src.img
make_image "$src" 600M
partition_image "$src" gpt $'size=100MiB\nsize=+'
mkfs_part "$src" 1 ext4 -L root
mkfs_part "$src" 2 xfs -L data
dev=$(loop_attach_part "$src" 1)
mount_dev "$dev" "$T/m1"
cp -a /usr/share/doc/bash /etc/os-release "$T/m1/"
head -c 5M /dev/urandom >"$T/m1/random.bin"
umount "$T/m1"
dev=$(loop_attach_part "$src" 2)
mount_dev "$dev" "$T/m2"
cp -a /usr/share/doc/coreutils "$T/m2/" 2>/dev/null || cp -a /usr/share/doc/bash "$T/m2/"
umount "$T/m2"

mkdir -p "$T/tgt"
port=$(start_daemon target "$T/port" "$REHOST" target --listen 127.0.0.1:0 --port-file "$T/port" \
	--keys "$T/keys" --disk-dir "$T/tgt")

# Wrong CA: refused by the target, reported as an authentication failure.
mkdir -p "$T/bad" && cp "$T/otherkeys"/{agent.pem,agent.key,ca.pem} "$T/bad/"
expect_exit 1 "$REHOST" migrate --disk "$src" --to "127.0.0.1:$port" --keys "$T/bad" \
	--state-dir "$T/st-bad" --progress none
assert_grep 'error: migrate: .*(certificate|authentication|TLS)' "$T/err"
assert_grep 'refused connection' "$T/target.log"

# Loose key permissions are refused before connecting.
chmod 644 "$T/keys/agent.key"
expect_exit 1 "$REHOST" migrate --disk "$src" --to "127.0.0.1:$port" --keys "$T/keys" --state-dir "$T/st" --progress none
assert_grep 'accessible by group or others.*chmod 600' "$T/err"
chmod 600 "$T/keys/agent.key"

# The real copy, with JSON progress.
expect_exit 0 "$REHOST" migrate --disk "$src" --to "127.0.0.1:$port" --keys "$T/keys" \
	--state-dir "$T/st" --progress json --compress 1
assert_grep '"replicated_bytes":' "$T/out"
assert_grep 'migration complete' "$T/err"
qemu-img compare -q -f raw -F raw "$src" "$T/tgt/disk0.raw" || fail "target differs from source"
e2fsck -fn "$(loop_attach_part "$T/tgt/disk0.raw" 1)" >/dev/null 2>&1 || fail "ext4 on target fails fsck"
xfs_repair -n "$(loop_attach_part "$T/tgt/disk0.raw" 2)" >/dev/null 2>&1 || fail "xfs on target fails xfs_repair -n"

# Sparse on the target: far less allocated than the disk size.
alloc=$(du -k "$T/tgt/disk0.raw" | cut -f1)
[ "$alloc" -lt $((300 * 1024)) ] || fail "target image not sparse: ${alloc} KiB allocated"

# Same command again: everything is already complete on the target.
expect_exit 0 "$REHOST" migrate --disk "$src" --to "127.0.0.1:$port" --keys "$T/keys" \
	--state-dir "$T/st" --progress none
assert_grep 'already complete' "$T/err"
assert_grep ' 0 sent ' "$T/err"

# A disk directory holding an image no checkpoint describes is not
# overwritten.
mkdir -p "$T/foreign"
echo precious >"$T/foreign/disk0.raw"
port3=$(start_daemon target3 "$T/port3" "$REHOST" target --listen 127.0.0.1:0 --port-file "$T/port3" \
	--keys "$T/keys" --disk-dir "$T/foreign")
expect_exit 1 "$REHOST" migrate --disk "$src" --to "127.0.0.1:$port3" --keys "$T/keys" \
	--state-dir "$T/st4" --progress none
assert_grep 'disk0.raw exists and no rehost checkpoint describes it' "$T/err"
[ "$(cat "$T/foreign/disk0.raw")" = precious ] || fail "foreign image was modified"

# Device mode: a smaller target disk is refused with the seed's message.
make_image "$T/small.img" 100M
port2=$(start_daemon target2 "$T/port2" "$REHOST" target --listen 127.0.0.1:0 --port-file "$T/port2" \
	--keys "$T/keys" --disk "$T/small.img" --state-dir "$T/tstate")
expect_exit 1 "$REHOST" migrate --disk "$src" --to "127.0.0.1:$port2" --keys "$T/keys" \
	--state-dir "$T/st2" --progress none
assert_grep 'smaller than source disk 0.*\[MSG.target-disk-size\]' "$T/err"

# Nothing listening: SMS.1807 with its hint.
expect_exit 1 "$REHOST" migrate --disk "$src" --to "127.0.0.1:1" --keys "$T/keys" \
	--state-dir "$T/st3" --progress none
assert_grep 'cannot connect to target 127.0.0.1:1.*\[SMS.1807\]' "$T/err"
assert_grep 'hint: .*8900' "$T/err"
log ok
