#!/usr/bin/env bash
# rehost inspect on LVM and md RAID, read from the disks themselves:
#  - a VG made by the real LVM tools (metadata only: this kernel has no
#    device-mapper) with a linear LV holding ext4, a thin pool and a thin LV;
#  - a VG spanning two disks, inspected with and without one of them
#    (unknown PV, SMS.1352);
#  - two VGs with the same name (MSG.disks-start-failed);
#  - an md RAID1 whose member superblocks are written by md_write_member
#    (the md driver is absent, so mdadm --create cannot run), with ext4 on
#    the array; and md arrays listed in a prepared tree's /proc/mdstat;
#  - the root filesystem on an LV named in fstab by its /dev/mapper name.
. "$(dirname "$0")/functions.sh"
requires_root
requires sfdisk pvcreate vgcreate lvcreate vgcfgbackup vgcfgrestore mkfs.ext4 mkfs.ext3 blkid python3 losetup

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
inspect() { "$REHOST" inspect --config "$T/empty.conf" --no-initramfs --json "$@"; }

log "VG with a linear LV (ext4), a thin pool and a thin LV"
a=$T/a.img
make_image "$a" 320M
partition_image "$a" dos 'size=300MiB, type=8e'
pva=$(loop_attach_part "$a" 1)
lvm_setup "$pva"
lvm_run pvcreate -y "$pva" >/dev/null
lvm_run vgcreate vgsys "$pva" >/dev/null
lvm_run lvcreate -an -Zn -y -L 40M -n root-lv vgsys >/dev/null
lvm_run lvcreate -an -Zn -y -L 60M -n pool vgsys >/dev/null
lvm_run lvcreate -an -Zn -y -L 8M -n poolmeta vgsys >/dev/null
lvm_make_thin_pool vgsys pool poolmeta thin1 25
lvm_run lvs -a vgsys | grep -q 'thin1.*pool' || fail "thin LV not created"
# ext4 inside the LV, through a loop device at the LV's place on the PV.
read -r pstart _ < <(part_geometry "$a" 1)
lvoff=$(lvm_lv_offset vgsys root-lv)
lvdev=$(loop_attach "$a" $((pstart + lvoff)) $((40 * 1024 * 1024)))
mkfs.ext4 -q -F -L lvroot -U 3c2b1a09-8877-6655-4433-221100ffeedd "$lvdev"

expect_exit 3 inspect --disk "$a"
jexpect "len(d['lvm']['volume_groups'])" 1
jexpect "d['lvm']['volume_groups'][0]['name']" vgsys
jexpect "d['lvm']['volume_groups'][0]['uuid'] == '$(lvm_run vgs --noheadings -o vg_uuid vgsys | tr -d ' ')'" True
jexpect "[pv['volume'] for pv in d['lvm']['volume_groups'][0]['physical_volumes']]" "['a.img:1']"
jexpect "d['lvm']['volume_groups'][0]['physical_volumes'][0]['found']" True
jexpect "sorted((lv['name'], lv['type'], lv['visible']) for lv in d['lvm']['volume_groups'][0]['logical_volumes'])" \
	"[('pool', 'thin-pool', True), ('pool_tdata', 'linear', False), ('pool_tmeta', 'linear', False), ('root-lv', 'linear', True), ('thin1', 'thin', True)]"
jexpect "[lv['filesystem']['label'] for lv in d['lvm']['volume_groups'][0]['logical_volumes'] if lv['name'] == 'root-lv']" "['lvroot']"
jexpect "[lv['pool'] for lv in d['lvm']['volume_groups'][0]['logical_volumes'] if lv['name'] == 'thin1']" "['pool']"
jexpect "[lv['size_bytes'] for lv in d['lvm']['volume_groups'][0]['logical_volumes'] if lv['name'] == 'thin1']" "[$((25 * 4 * 1024 * 1024))]"
# free = VG size - (40 + 60 + 8) MiB of extents on the PV
vgfree=$(lvm_run vgs --noheadings --units b --nosuffix -o vg_free vgsys | tr -d ' ')
jexpect "d['lvm']['volume_groups'][0]['free_bytes']" "$vgfree"
jexpect "d['disks'][0]['partitions'][0]['filesystem']['type']" LVM2_member
check_status lvm-thin-pool error
jexpect "[c['subject'] for c in d['checks'] if c['id'] == 'lvm-thin-pool']" "['vgsys/pool']"
check_status lvm-unknown-pv ok
check_status lvm-duplicate-vg ok
verify

log "root on the LV, named by its /dev/mapper name in fstab"
root=$T/root
make_root_tree "$root"
printf 'ID=ubuntu\nVERSION_ID="22.04"\nPRETTY_NAME="Ubuntu 22.04.4 LTS"\n' >"$root/etc/os-release"
printf '/dev/mapper/vgsys-root--lv / ext4 defaults 0 1\n' >"$root/etc/fstab"
: >"$root/proc/self/mountinfo"
expect_exit 3 inspect --root "$root" --disk "$a"
jexpect "[lv['filesystem']['fstab'] for lv in d['lvm']['volume_groups'][0]['logical_volumes'] if lv['name'] == 'root-lv']" "[['/']]"
jexpect "d['disks'][0]['system']" True
check_status system-disk-first ok
verify

log "a live-style tree: the PV disk in /sys/block, the LV active as dm-0"
# No device-mapper here, so the tree supplies what a host with the LV
# active would show: /sys/block/dm-0 naming it, and / mounted from 253:0.
live=$T/live
make_root_tree "$live"
printf 'ID=ubuntu\nVERSION_ID="22.04"\n' >"$live/etc/os-release"
mkdir -p "$live/sys/block/sda/device" "$live/sys/block/dm-0/dm" "$live/dev"
echo 8:0 >"$live/sys/block/sda/dev"
echo 253:0 >"$live/sys/block/dm-0/dev"
echo vgsys-root--lv >"$live/sys/block/dm-0/dm/name"
cp --sparse=always "$a" "$live/dev/sda"
printf '20 1 253:0 / / rw,relatime - ext4 /dev/root rw\n' >"$live/proc/self/mountinfo"
printf 'LABEL=lvroot / ext4 defaults 0 1\n' >"$live/etc/fstab"
expect_exit 3 inspect --root "$live"
jexpect "[lv['filesystem']['mountpoints'] for lv in d['lvm']['volume_groups'][0]['logical_volumes'] if lv['name'] == 'root-lv']" "[['/']]"
jexpect "[lv['filesystem']['fstab'] for lv in d['lvm']['volume_groups'][0]['logical_volumes'] if lv['name'] == 'root-lv']" "[['/']]"
jexpect "d['disks'][0]['name']" sda
jexpect "d['disks'][0]['system']" True
jexpect "d['disks'][0]['partitions'][0]['name']" sda1
check_status system-disk-first ok
check_status lvm-thin-pool error
verify

log "VG spanning two disks; one missing -> unknown PV (SMS.1352)"
b=$T/b.img c=$T/c.img
make_image "$b" 64M
make_image "$c" 64M
pvb=$(loop_attach "$b")
pvc=$(loop_attach "$c")
lvm_setup "$pvb" "$pvc"
lvm_run pvcreate -y "$pvb" "$pvc" >/dev/null
lvm_run vgcreate vgspan "$pvb" "$pvc" >/dev/null
lvm_run lvcreate -an -Zn -y -L 100M -n big vgspan >/dev/null
expect_exit 0 inspect --disk "$b" --disk "$c" --mode file --root "$root"
jexpect "d['lvm']['volume_groups'][0]['name']" vgspan
jexpect "d['lvm']['volume_groups'][0]['unknown_pvs']" 0
jexpect "[lv['size_bytes'] for lv in d['lvm']['volume_groups'][0]['logical_volumes']]" "[$((100 * 1024 * 1024))]"
jexpect "d['disks'][0]['table']" none
check_status lvm-unknown-pv ok
verify
expect_exit 3 inspect --disk "$b" --mode file --root "$root"
check_status lvm-unknown-pv error SMS.1352
jexpect "d['lvm']['volume_groups'][0]['unknown_pvs']" 1
jexpect "[pv['found'] for pv in d['lvm']['volume_groups'][0]['physical_volumes']]" "[True, False]"
verify
expect_exit 3 "$REHOST" inspect --config "$T/empty.conf" --no-initramfs --disk "$b" --mode file --root "$root"
assert_grep 'ERROR \[SMS\.1352\] volume group vgspan has 1 physical volume that was not found' "$T/out"

log "two volume groups with the same name"
e=$T/e.img
make_image "$e" 64M
pve=$(loop_attach "$e")
lvm_setup "$pve"
lvm_run pvcreate -y "$pve" >/dev/null
lvm_run vgcreate vgsys "$pve" >/dev/null
expect_exit 3 inspect --disk "$a" --disk "$e"
check_status lvm-duplicate-vg error MSG.disks-start-failed
jexpect "sorted(vg['duplicate_name'] for vg in d['lvm']['volume_groups'])" "[True, True]"
verify

log "md RAID1 from member superblocks, ext4 on the array"
m=$T/md.img
make_image "$m" 200M
partition_image "$m" gpt $'size=64MiB, type=A19D880F-05FC-4D3B-A006-743F0F84911E\nsize=64MiB, type=A19D880F-05FC-4D3B-A006-743F0F84911E'
for n in 1 2; do
	read -r off size < <(part_geometry "$m" "$n")
	md_write_member "$m" "$off" "$size" 5f0e0d0c-0b0a-0908-0706-050403020100 testhost:0 $((n - 1)) 2 1
done
[ "$(blkid -p -o value -s TYPE -O "$off" "$m")" = linux_raid_member ] || fail "blkid does not see the md member"
read -r off size < <(part_geometry "$m" 1)
arr=$(loop_attach "$m" $((off + 1024 * 1024)) $((size - 1024 * 1024)))
mkfs.ext4 -q -F -L onraid "$arr"
expect_exit 3 inspect --disk "$m"
jexpect "len(d['raid'])" 1
jexpect "d['raid'][0]['level']" raid1
jexpect "d['raid'][0]['raid_disks']" 2
jexpect "d['raid'][0]['members']" "['md.img:1', 'md.img:2']"
jexpect "d['raid'][0]['uuid']" 5f0e0d0c:0b0a0908:07060504:03020100
jexpect "d['raid'][0]['name']" testhost:0
jexpect "d['raid'][0]['filesystem']['type']" ext4
jexpect "d['raid'][0]['filesystem']['label']" onraid
jexpect "d['disks'][0]['partitions'][0]['filesystem']['type']" linux_raid_member
check_status raid error
verify

log "md arrays from a prepared tree's /proc/mdstat"
# The md driver is absent here, so a live /proc/mdstat cannot be produced;
# the tree's copy is the input a real RAID host would give.
cat >"$root/proc/mdstat" <<'EOF'
Personalities : [raid1] [raid0]
md0 : active raid1 sdb1[1] sda1[0]
      1047552 blocks super 1.2 [2/2] [UU]

md1 : active raid0 sdc[0] sdd[1]
      2093056 blocks super 1.2 512k chunks

unused devices: <none>
EOF
expect_exit 3 inspect --root "$root"
jexpect "[(r['name'], r['level'], r['state'], r['source'], r['members']) for r in d['raid']]" \
	"[('md0', 'raid1', 'active', 'mdstat', ['sdb1', 'sda1']), ('md1', 'raid0', 'active', 'mdstat', ['sdc', 'sdd'])]"
jexpect "d['raid'][0]['raid_disks']" 2
check_status raid error
verify
rm "$root/proc/mdstat"
expect_exit 0 inspect --root "$root" --mode file
check_status raid ok
verify
log "ok"
