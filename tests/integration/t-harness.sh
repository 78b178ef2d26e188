#!/usr/bin/env bash
# The test harness itself: a child test that builds a partitioned image,
# makes real filesystems, mounts one, starts a daemon on port 0 and then
# exits (successfully or not) leaves no loop device, mount or process behind.
. "$(dirname "$0")/functions.sh"
requires_root
requires sfdisk losetup mkfs.ext4 mkfs.xfs mkfs.vfat mkswap python3

child=$T/child.sh
cat >"$child" <<CHILD
. "$REHOST_SRCDIR/tests/integration/functions.sh"
img=\$T/disk.img
make_image "\$img" 512M
partition_image "\$img" gpt \$'size=40MiB\nsize=40MiB\nsize=320MiB\nsize=+'
mkfs_part "\$img" 1 vfat
mkfs_part "\$img" 2 ext4 -L root
mkfs_part "\$img" 3 xfs
mkfs_part "\$img" 4 swap
[ "\$(part_geometry "\$img" 2)" = "\$((2048 * 512 + 40 * 1048576)) \$((40 * 1048576))" ] || fail "geometry"
dev=\$(loop_attach_part "\$img" 2)
[ "\$(blkid -o value -s LABEL "\$dev")" = root ] || fail "ext4 label not found at partition offset"
[ "\$(blkid -o value -s TYPE "\$(loop_attach_part "\$img" 3)")" = xfs ] || fail "xfs"
mount_dev "\$dev" "\$T/mnt"
echo hello >"\$T/mnt/file"
port=\$(start_daemon echo "\$T/port" python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.accept()' "\$T/port")
[ "\$port" -gt 0 ] || fail "no port"
echo "\$dev \$T/mnt \$port \$T" >"$T/made"
exit \${CHILD_EXIT:-0}
CHILD

for want in 0 1; do
	rc=0
	CHILD_EXIT=$want bash "$child" || rc=$?
	[ "$rc" -eq "$want" ] || fail "child exited $rc, expected $want"
	read -r dev mnt port tdir <"$T/made"
	! findmnt "$mnt" >/dev/null || fail "mount $mnt left behind"
	! losetup "$dev" 2>/dev/null | grep -q "$tdir" || fail "loop device $dev left behind"
	! losetup -a | grep -q "$tdir" || fail "a loop device on $tdir left behind"
	! (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null || fail "daemon on port $port left running"
	[ ! -e "$tdir" ] || fail "scratch directory $tdir left behind"
done
log ok
