#!/usr/bin/env bash
# rehost inspect --disk on real disk images: MBR and GPT tables with ext2,
# ext3, ext4, xfs, vfat, btrfs, swap and an unsupported filesystem; a
# whole-disk filesystem; the sizes and used space each filesystem records,
# compared with what its own tools say; recommended target sizes (GPT +1
# GiB rule); the system-disk checks with a --root tree whose fstab names
# the root filesystem.
. "$(dirname "$0")/functions.sh"
requires_root
requires sfdisk mkfs.ext4 mkfs.ext2 mkfs.ext3 mkfs.xfs mkfs.btrfs mkfs.vfat mkswap mkfs.minix \
	dumpe2fs xfs_db btrfs blkid python3 losetup

# attach_part IMG N: loop device over partition N in $DEV, detached at exit.
attach_part() {
	DEV=$(loop_attach_part "$1" "$2")
}

# Expectations on the JSON in $T/out are queued and checked in one go.
checks=()
jexpect() { checks+=("$1" "$2"); }
# check_status ID STATUS [CODE]: every result of check ID has STATUS (and CODE).
check_status() {
	checks+=("sorted(set((c['status'], c['code'] or '-') for c in d['checks'] if c['id'] == '$1'))"
		"[('$2', '${3:--}')]")
}
verify() {
	[ ${#checks[@]} -eq 0 ] || json_check "$T/out" "${checks[@]}"
	checks=()
}

log "GPT image: vfat, ext4, xfs, btrfs, swap"
gpt=$T/gpt.img
make_image "$gpt" 1200M
partition_image "$gpt" gpt $'size=64MiB, type=U\nsize=128MiB\nsize=320MiB\nsize=128MiB\nsize=64MiB, type=S\nsize=64MiB'
mkfs_part "$gpt" 1 vfat -n ESP
mkfs_part "$gpt" 2 ext4 -L root -U 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0
mkfs_part "$gpt" 3 xfs -L data
mkfs_part "$gpt" 4 btrfs -L home
mkfs_part "$gpt" 5 swap -L swap
# Put some data in the ext4 and xfs filesystems so "used" means something.
attach_part "$gpt" 2
mount_dev "$DEV" "$T/m2"
head -c 5M /dev/urandom >"$T/m2/five-mib"
umount "$T/m2"
attach_part "$gpt" 3
mount_dev "$DEV" "$T/m3"
head -c 7M /dev/urandom >"$T/m3/seven-mib"
umount "$T/m3"

expect_exit 3 "$REHOST" inspect --disk "$gpt" --json --no-initramfs
jexpect "d['schema']" 1
jexpect "d['disks'][0]['table']" gpt
jexpect "len(d['disks'][0]['partitions'])" 6
jexpect "[ (p['filesystem'] or {}).get('type') for p in d['disks'][0]['partitions'] ]" \
	"['vfat', 'ext4', 'xfs', 'btrfs', 'swap', None]"
jexpect "[ (p['filesystem'] or {}).get('label') for p in d['disks'][0]['partitions'][:5] ]" \
	"['ESP', 'root', 'data', 'home', 'swap']"
jexpect "d['disks'][0]['partitions'][1]['filesystem']['uuid']" 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0
jexpect "d['disks'][0]['partitions'][0]['type']" c12a7328-f81f-11d2-ba4b-00a0c93ec93b
jexpect "d['disks'][0]['partitions'][1]['partuuid']" "$(sfdisk --part-uuid "$gpt" 2 | tr A-F a-f)"
jexpect "d['disks'][0]['partitions'][4]['filesystem']['usage']" swap

# Used space as each filesystem's own tools report it.
attach_part "$gpt" 2
eval "$(dumpe2fs -h "$DEV" 2>/dev/null | awk -F: '/^Block count/{gsub(/ /,"",$2);print "bc="$2} /^Free blocks/{gsub(/ /,"",$2);print "fb="$2} /^Block size/{gsub(/ /,"",$2);print "bs="$2}')"
jexpect "d['disks'][0]['partitions'][1]['filesystem']['used_bytes']" $(((bc - fb) * bs))
jexpect "d['disks'][0]['partitions'][1]['filesystem']['size_bytes']" $((bc * bs))
jexpect "d['disks'][0]['partitions'][1]['filesystem']['used_bytes'] > 5*2**20" True
attach_part "$gpt" 3
eval "$(xfs_db -r -c 'sb 0' -c 'p dblocks fdblocks logblocks logstart blocksize' "$DEV" | sed 's/ = /=/')"
jexpect "d['disks'][0]['partitions'][2]['filesystem']['used_bytes']" $(((dblocks - logblocks - fdblocks) * blocksize))
jexpect "d['disks'][0]['partitions'][2]['filesystem']['used_bytes'] > 7*2**20" True
attach_part "$gpt" 4
btrfs_used=$(btrfs inspect-internal dump-super "$DEV" | awk '$1 == "bytes_used" {print $2}')
jexpect "d['disks'][0]['partitions'][3]['filesystem']['used_bytes']" "$btrfs_used"
jexpect "d['disks'][0]['partitions'][4]['filesystem']['size_bytes']" $((64 * 1024 * 1024))
# The last partition ends at 769 MiB: 1 GiB rounded up, plus 1 GiB for GPT
# (the target disk size counts what the partitions need, not the slack).
jexpect "d['disks'][0]['recommended_gib']" 2
jexpect "d['disks'][0]['required_bytes']" $((769 * 1024 * 1024 + 33 * 512))
check_status filesystem ok
check_status partition-table ok
check_status disk-readable ok
# No --root tree with an fstab: the system volume cannot be placed.
check_status system-disk-first warning
jexpect "d['recommendation']['disks'][0]['recommended_gib']" 2

log "MBR image: extended partition, ext2/ext3 logical partitions, unsupported minix, LUKS"
mbr=$T/mbr.img
make_image "$mbr" 200M
partition_image "$mbr" dos $'p1 : size=40MiB, type=83, bootable\np2 : size=150MiB, type=5\np5 : size=40MiB, type=83\np6 : size=40MiB, type=83\np7 : size=40MiB, type=83'
mkfs_part "$mbr" 1 ext3 -L boot
attach_part "$mbr" 5
mkfs.ext2 -q -F -L logical5 "$DEV"
attach_part "$mbr" 6
mkfs.minix "$DEV" >/dev/null
# A LUKS1 header (cryptsetup is not installed; blkid needs only this).
read -r off _ < <(part_geometry "$mbr" 7)
python3 - "$mbr" "$off" <<'PY'
import struct, sys
h = bytearray(592)
h[0:6] = b'LUKS\xba\xbe'
struct.pack_into('>H', h, 6, 1)
h[8:11], h[40:51], h[72:78] = b'aes', b'xts-plain64', b'sha256'
struct.pack_into('>II', h, 104, 4096, 64)
h[168:204] = b'4c554b53-0000-4000-8000-000000000001'
with open(sys.argv[1], 'r+b') as f:
    f.seek(int(sys.argv[2]))
    f.write(h)
PY
verify
expect_exit 3 "$REHOST" inspect --disk "$mbr" --json --no-initramfs
jexpect "d['disks'][0]['table']" dos
jexpect "[p['number'] for p in d['disks'][0]['partitions']]" "[1, 2, 5, 6, 7]"
jexpect "[p['container'] for p in d['disks'][0]['partitions']]" "[False, True, False, False, False]"
jexpect "d['disks'][0]['partitions'][0]['bootable']" True
jexpect "d['disks'][0]['partitions'][0]['partuuid'] == d['disks'][0]['id'][2:] + '-01'" True
jexpect "[(p['filesystem'] or {}).get('type') for p in d['disks'][0]['partitions']]" \
	"['ext3', None, 'ext2', 'minix', 'crypto_LUKS']"
check_status filesystem error SMS.6509
check_status encrypted error
jexpect "[c['subject'] for c in d['checks'] if c['id'] == 'encrypted']" "['mbr.img:7']"
jexpect "[c['subject'] for c in d['checks'] if c['id'] == 'filesystem']" "['mbr.img:6']"
# MBR: no +1 GiB; the last partition ends at 164 MiB.
jexpect "d['disks'][0]['recommended_gib']" 1
# The report shows the finding with its code and the catalogue hint.
verify
expect_exit 3 "$REHOST" inspect --disk "$mbr" --no-initramfs
assert_grep 'ERROR \[SMS\.6509\] mbr\.img:6 holds minix' "$T/out"
assert_grep 'hint: ' "$T/out"
assert_grep 'rehost errors SMS\.6509\)' "$T/out"
assert_grep '^  mbr\.img  200\.0 MiB  MBR' "$T/out"

log "whole-disk filesystem, no partition table"
whole=$T/whole.img
make_image "$whole" 64M
mkfs.ext4 -q -F -L wholefs "$whole"
verify
expect_exit 3 "$REHOST" inspect --disk "$whole" --json --no-initramfs
jexpect "d['disks'][0]['table']" none
jexpect "d['disks'][0]['filesystem']['type']" ext4
jexpect "d['disks'][0]['filesystem']['label']" wholefs
jexpect "d['disks'][0]['recommended_gib']" 1

verify
# A FAT filesystem on a whole disk also ends its first sector with 0x55AA:
# it is a filesystem, not an empty MBR.
make_image "$T/fat.img" 64M
mkfs.vfat -n WHOLEFAT "$T/fat.img" >/dev/null
expect_exit 3 "$REHOST" inspect --disk "$T/fat.img" --json --no-initramfs
jexpect "(d['disks'][0]['table'], d['disks'][0]['filesystem']['type'], d['disks'][0]['filesystem']['label'])" \
	"('none', 'vfat', 'WHOLEFAT')"
verify

log "system disk: fstab of a --root tree names the root filesystem"
root=$T/root
: >"$T/empty.conf"
make_root_tree "$root"
printf 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' >"$root/etc/os-release"
echo 12.5 >"$root/etc/debian_version"
printf 'UUID=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 / ext4 defaults 0 1\nLABEL=ESP /boot/efi vfat defaults 0 2\n/dev/sdb2 none swap sw 0 0\n' >"$root/etc/fstab"
# The mount table of the tree does not name these disks, fstab does.
: >"$root/proc/self/mountinfo"
verify
expect_exit 0 "$REHOST" inspect --root "$root" --disk "$gpt" --disk "$whole" --json --no-initramfs \
	--config "$T/empty.conf" --mode file
jexpect "d['disks'][0]['system']" True
jexpect "d['disks'][0]['partitions'][1]['filesystem']['fstab']" "['/']"
jexpect "d['disks'][0]['partitions'][0]['filesystem']['fstab']" "['/boot/efi']"
jexpect "d['disks'][0]['partitions'][1]['filesystem']['system']" True
check_status system-disk-first ok
check_status system-disk-size ok
check_status device-names warning
# With the system disk second, the check fails.
verify
expect_exit 3 "$REHOST" inspect --root "$root" --disk "$whole" --disk "$gpt" --json --no-initramfs \
	--config "$T/empty.conf" --mode file
check_status system-disk-first error
jexpect "d['disks'][1]['system']" True

log "system disk larger than 1 TB (SMS.6537)"
big=$T/big.img
make_image "$big" 1100G
partition_image "$big" gpt $'size=256MiB\nsize=+'
mkfs_part "$big" 1 ext4 -U 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0
# An unformatted 1 TB partition may hold anything: error.
verify
expect_exit 3 "$REHOST" inspect --root "$root" --disk "$big" --json --no-initramfs --config "$T/empty.conf"
check_status system-disk-size error SMS.6537
jexpect "d['recommendation']['mode']" file
jexpect "d['disks'][0]['recommended_gib']" 1101
# xfs with little data on it: shrinking at file level fits in 1 TB: warning.
mkfs_part "$big" 2 xfs -l size=64m
verify
expect_exit 0 "$REHOST" inspect --root "$root" --disk "$big" --json --no-initramfs --config "$T/empty.conf"
check_status system-disk-size warning SMS.6537

log "unreadable --disk path is an operational failure"
verify
expect_exit 1 "$REHOST" inspect --disk "$T/does-not-exist.img"
assert_grep 'does-not-exist.img' "$T/err"
verify
expect_exit 1 "$REHOST" inspect --disk /dev/null
verify
log "ok"
