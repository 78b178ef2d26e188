#!/usr/bin/env bash
# Free-space, /tmp, home and bind-mount checks against real mounts. The
# root tree lives on a small real ext4 filesystem, with a full ext2
# filesystem, a noexec tmpfs and a bind mount mounted inside it; the tree's
# mountinfo is the kernel's own /proc/self/mountinfo for those mounts, with
# the tree prefix removed (and loop sources renamed to disks, since rehost
# leaves loop-device mounts out of the disk checks).
. "$(dirname "$0")/functions.sh"
requires_root
requires mkfs.ext4 mkfs.ext2 chattr python3 cpio gzip

checks=()
jexpect() { checks+=("$1" "$2"); }
check_status() {
	checks+=("sorted(set((c['status'], c['code'] or '-') for c in d['checks'] if c['id'] == '$1'))"
		"[('$2', '${3:--}')]")
}
verify() {
	[ ${#checks[@]} -eq 0 ] || json_check "$T/out" "${checks[@]}"
	checks=()
}
: >"$T/empty.conf"

root=$T/root
make_image "$T/rootfs.img" 150M
mkfs.ext4 -q -F "$T/rootfs.img"
rootdev=$(loop_attach "$T/rootfs.img")
mount_dev "$rootdev" "$root"
make_root_tree "$root"
printf 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' >"$root/etc/os-release"
echo 12.5 >"$root/etc/debian_version"

make_image "$T/data.img" 4M
mkfs.ext2 -q -F -m 0 "$T/data.img"
datadev=$(loop_attach "$T/data.img")
mount_dev "$datadev" "$root/data"
mkdir -p "$root/data/sub" "$root/srv"
dd if=/dev/zero of="$root/data/fill" bs=64k 2>/dev/null || true
mount_dev "$root/data/sub" "$root/srv" bind
mount -t tmpfs -o noexec,size=50m tmpfs "$root/tmp"
cleanup_fn umount "$root/tmp"
chattr +i "$root/root"
cleanup_fn chattr -i "$root/root"

# The tree's mount table: the kernel's lines for these mounts.
python3 - "$root" "$rootdev" "$datadev" >"$root/proc/self/mountinfo" <<'EOF'
import sys
root, rootdev, datadev = sys.argv[1:4]
names = {rootdev: "/dev/sda1", datadev: "/dev/sdb1"}
for line in open("/proc/self/mountinfo"):
    f = line.split()
    mp = f[4]
    if mp != root and not mp.startswith(root + "/"):
        continue
    f[4] = mp[len(root):] or "/"
    sep = f.index("-")
    f[sep + 2] = names.get(f[sep + 2], f[sep + 2])
    print(" ".join(f))
EOF
grep -q ' /srv ' "$root/proc/self/mountinfo" || fail "bind mount missing from mountinfo"

expect_exit 3 "$REHOST" inspect --config "$T/empty.conf" --json --root "$root" --mode file
check_status root-free-space error SMS.1204
check_status mount-free-space error SMS.1351
jexpect "[c['subject'] for c in d['checks'] if c['id'] == 'mount-free-space']" "['/data']"
check_status tmp-exec warning SMS.5102
check_status tmp-free-space warning MSG.tmp-full
check_status home-writable warning SMS.5105
check_status bind-mount warning SMS.1353
jexpect "[c['subject'] for c in d['checks'] if c['id'] == 'bind-mount']" "['/srv']"
jexpect "[(m['target'], m['bind'], m['noexec']) for m in d['mounts'] if m['target'] in ('/srv', '/tmp')]" \
	"[('/srv', True, False), ('/tmp', False, True)]"
jexpect "[m['available_bytes'] < 2**20 for m in d['mounts'] if m['target'] == '/data']" "[True]"
verify
expect_exit 3 "$REHOST" inspect --config "$T/empty.conf" --root "$root" --mode file --verbose
assert_grep 'ERROR \[SMS\.1351\] mount point /data has' "$T/out"
assert_grep 'ERROR \[SMS\.1204\] / has .* available \(at least 200 MB are needed\)' "$T/out"
assert_grep 'WARN  \[SMS\.1353\] /srv is a bind mount of /dev/sdb1:/sub' "$T/out"
assert_grep '^Mounts$' "$T/out"

log "after freeing space, unmounting and chattr -i, the same checks pass"
rm -f "$root/data/fill"
umount "$root/srv"
umount "$root/tmp"
chattr -i "$root/root"
grep -v -e ' /srv ' -e ' /tmp ' "$root/proc/self/mountinfo" >"$T/mi"
cp "$T/mi" "$root/proc/self/mountinfo"
expect_exit 3 "$REHOST" inspect --config "$T/empty.conf" --json --root "$root" --mode file
check_status mount-free-space ok
check_status home-writable ok
check_status bind-mount ok
check_status tmp-exec ok
# / is still the 150 MB filesystem.
check_status root-free-space error SMS.1204
verify
log "ok"
