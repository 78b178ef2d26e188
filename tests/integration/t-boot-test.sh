#!/bin/bash
# rehost boot-test: QEMU boots of tiny disks whose outcome is known.
#   - an all-zero disk: SeaBIOS finds no boot loader (seen on its debug
#     port), exit 1 with the "no boot loader" cause, within seconds;
#   - a GRUB disk whose grub.cfg prints a login prompt on the serial port
#     and sleeps: exit 0 (the console watcher's success path);
#   - GRUB disks that print an initramfs "Gave up waiting for root file
#     system device" message, that cannot find their /boot (grub rescue),
#     or that print nothing on the serial port;
#   - UEFI on the zeroed disk (OVMF's shell), a QEMU that cannot start;
#   - the disk images are byte-identical afterwards (-snapshot);
#   - bad command lines exit 2.
# GRUB is real (grub-mkimage + grub-bios-setup on a loop-mounted ext2
# partition); only the text after GRUB is scripted in grub.cfg.
# About two minutes under TCG:
# ctest: slow
# ctest: qemu
. "$(dirname "$0")/functions.sh"

# rehost's private files (OVMF variables, SeaBIOS's serial console
# setting) go under $TMPDIR: a directory of this test's own, checked empty
# at the end.
export TMPDIR=$T/tmp
mkdir -p "$TMPDIR"
# The accelerator verdict (KVM probed once, else TCG) is cached in the
# test's own directory, not in /run/rehost.
export REHOST_ACCEL_CACHE=$T/accel-cache

requires qemu-system-x86_64 grub-mkimage sfdisk mkfs.ext2 blkid sha256sum
requires_root
GRUB_DIR=/usr/lib/grub/i386-pc
[ -x "$GRUB_DIR/grub-bios-setup" ] || skip "$GRUB_DIR/grub-bios-setup not found (package grub-pc-bin)"

# make_grub_disk IMG CFG [SEARCH_UUID]: a 16 MiB MBR disk with one ext2
# partition holding GRUB (i386-pc) and CFG as /grub/grub.cfg, GRUB's core
# image in the MBR gap. The core image finds its partition by UUID
# (SEARCH_UUID instead, to make a core image that cannot find /boot).
make_grub_disk() {
	local img=$1 cfg=$2 search=${3:-} dev uuid mnt=$T/mnt.$$
	make_image "$img" 16M
	partition_image "$img" dos 'start=2048, type=83'
	dev=$(loop_attach_part "$img" 1)
	mkfs.ext2 -q -F "$dev"
	uuid=$(blkid -s UUID -o value "$dev")
	mount_dev "$dev" "$mnt"
	mkdir -p "$mnt/grub/i386-pc"
	cp "$GRUB_DIR"/*.mod "$GRUB_DIR"/*.lst "$GRUB_DIR/boot.img" "$mnt/grub/i386-pc/"
	printf 'search.fs_uuid %s root\nset prefix=($root)/grub\n' "${search:-$uuid}" >"$T/early.cfg"
	grub-mkimage -O i386-pc -o "$mnt/grub/i386-pc/core.img" -c "$T/early.cfg" -p /grub \
		biosdisk part_msdos ext2 search_fs_uuid
	cp "$cfg" "$mnt/grub/grub.cfg"
	printf '(hd0) %s\n(hd1) %s\n' "$(realpath "$img")" "$dev" >"$T/device.map"
	"$GRUB_DIR/grub-bios-setup" -d "$mnt/grub/i386-pc" -m "$T/device.map" '(hd0)'
	umount "$mnt"
	loop_detach "$dev"
}

# make_efi_disk IMG CONFIG: a 40 MiB GPT disk whose EFI System Partition
# holds GRUB (x86_64-efi) as the removable-media loader
# \EFI\BOOT\BOOTX64.EFI with CONFIG built in. FAT is written with mtools:
# the kernel here cannot mount vfat.
make_efi_disk() {
	local img=$1 fat=$T/esp.fat
	printf '%s\n' "$2" >"$T/efi.cfg"
	grub-mkimage -O x86_64-efi -o "$T/BOOTX64.EFI" -c "$T/efi.cfg" -p /EFI/BOOT \
		serial terminal echo sleep normal
	make_image "$img" 40M
	partition_image "$img" gpt 'start=2048, size=30MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B'
	rm -f "$fat"
	mkfs.vfat -C "$fat" $((30 * 1024)) >/dev/null
	mmd -i "$fat" ::/EFI ::/EFI/BOOT
	mcopy -i "$fat" "$T/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
	dd if="$fat" of="$img" bs=1M seek=1 conv=notrunc status=none
}

# A grub.cfg that talks on the first serial port.
serial_cfg() {
	printf 'serial --unit=0 --speed=115200\nterminal_output serial\nterminal_input serial\n'
}

elapsed() { echo $(( $(date +%s) - $1 )); }

log "bad command lines"
mkdir -p "$T/empty-dir" "$T/d-zero"
expect_exit 2 "$REHOST" boot-test
assert_grep 'either --disk-dir DIR or --disk FILE' "$T/err"
expect_exit 2 "$REHOST" boot-test --disk-dir "$T/d-zero" --disk "$T/x.raw"
expect_exit 2 "$REHOST" boot-test --disk-dir "$T/nonexistent"
assert_grep "nonexistent" "$T/err"
expect_exit 2 "$REHOST" boot-test --disk-dir "$T/empty-dir"
assert_grep 'no disk0.raw or disk0.qcow2' "$T/err"
expect_exit 2 "$REHOST" boot-test --disk "$T/missing.raw"
make_image "$T/x.raw" 1M
while read -r opt val want; do
	expect_exit 2 "$REHOST" boot-test --disk "$T/x.raw" "$opt" "$val"
	assert_grep "$want" "$T/err"
done <<-'BAD'
	--bus usb allowed.virtio
	--firmware coreboot allowed.bios
	--timeout 0 --timeout.0
	--timeout 1x --timeout.1x
	--memory 10 --memory.10
	--cpus 0 --cpus.0
	--tail -1 --tail.-1
	--accel hvf --accel.hvf
	--ovmf-code /x need.--firmware.uefi
BAD
expect_exit 2 "$REHOST" boot-test --disk-dir "$T/d-zero" extra-arg
expect_exit 0 "$REHOST" boot-test --help
assert_grep '-snapshot' "$T/out"

log "disk directory rules"
mkdir -p "$T/d-gap"
make_image "$T/d-gap/disk0.raw" 1M
make_image "$T/d-gap/disk2.raw" 1M
expect_exit 2 "$REHOST" boot-test --disk-dir "$T/d-gap"
assert_grep 'disk2 is present but disk1 is missing' "$T/err"
mkdir -p "$T/d-both"
make_image "$T/d-both/disk0.raw" 1M
make_image "$T/d-both/disk0.qcow2" 1M
expect_exit 2 "$REHOST" boot-test --disk-dir "$T/d-both"
assert_grep 'both disk0.raw and disk0.qcow2' "$T/err"
mkdir -p "$T/d-fakeq"
make_image "$T/d-fakeq/disk0.qcow2" 1M
expect_exit 2 "$REHOST" boot-test --disk-dir "$T/d-fakeq"
assert_grep 'not a qcow2 image' "$T/err"

log "(1) all-zero disk: no boot loader"
make_image "$T/d-zero/disk0.raw" 16M
make_image "$T/d-zero/disk1.raw" 4M
sum_zero=$(cat "$T"/d-zero/disk*.raw | sha256sum)
t0=$(date +%s)
expect_exit 1 "$REHOST" boot-test --disk-dir "$T/d-zero" --timeout 120 --memory 256
[ "$(elapsed "$t0")" -lt 60 ] || fail "the empty disk took $(elapsed "$t0") s to classify"
assert_grep 'boot-test: FAILED after [0-9]+ s \(disk0 on virtio, bios, (tcg|kvm)\): fatal' "$T/out"
assert_grep 'screen said: Boot failed: not a bootable disk' "$T/out"
assert_grep 'likely cause: The BIOS found no boot loader on disk 0' "$T/out"
assert_grep 'rehost postconf' "$T/out"
assert_grep 'disk1: .*disk1.raw \(raw\)' "$T/err"
expect_exit 1 "$REHOST" boot-test --disk-dir "$T/d-zero" --timeout 120 --memory 256 --json --bus sata
json_check "$T/out" \
	"d['result']" fail "d['reason']" fatal "d['rule']" seabios-not-bootable \
	"d['matched_on']" screen "d['firmware']" bios "d['bus']" sata \
	"[x['format'] for x in d['disks']]" "['raw', 'raw']" \
	"'no boot loader' in d['cause']" True "d['tail']" "[]" \
	"'Booting from Hard Disk...' in d['screen_tail']" True

log "(2) GRUB prints a login prompt and sleeps: success"
{ serial_cfg; printf 'echo "Debian GNU/Linux 12 rehost-test ttyS0"\necho\necho -n "rehost-test login: "\nsleep 3600\n'; } >"$T/login.cfg"
mkdir -p "$T/d-login"
make_grub_disk "$T/d-login/disk0.raw" "$T/login.cfg"
sum_login=$(sha256sum <"$T/d-login/disk0.raw")
expect_exit 0 "$REHOST" boot-test --disk-dir "$T/d-login" --timeout 120 --memory 256 \
	--console-log "$T/login.console"
assert_grep '^boot-test: login prompt after [0-9]+ s \(disk0 on virtio, bios\)$' "$T/out"
assert_grep 'rehost-test login: ' "$T/login.console"
for bus in ide scsi; do
	expect_exit 0 "$REHOST" boot-test --disk "$T/d-login/disk0.raw" --bus "$bus" --timeout 120 --memory 256
	assert_grep "login prompt after [0-9]+ s \(disk0 on $bus, bios\)" "$T/out"
done
expect_exit 0 "$REHOST" boot-test --disk "$T/d-login/disk0.raw" --timeout 120 --memory 256 --json
json_check "$T/out" "d['result']" pass "d['reason']" login "d['matched'].strip()" "rehost-test login:" \
	"d['cause']" None

log "(3) initramfs gives up on the root device: virtio driver cause"
{ serial_cfg; cat <<'CFG'; } >"$T/gaveup.cfg"
echo "Loading Linux 6.1.0-50-amd64 ..."
echo "Begin: Running /scripts/local-block ... done."
echo "done."
echo "Gave up waiting for root file system device.  Common problems:"
echo " - Boot args (cat /proc/cmdline)"
echo "   - Check rootdelay= (did the system wait long enough?)"
echo " - Missing modules (cat /proc/modules; ls /dev)"
echo "ALERT!  /dev/sda1 does not exist.  Dropping to a shell!"
echo
echo
echo "BusyBox v1.35.0 (Debian 1:1.35.0-4+b3) built-in shell (ash)"
echo -n "(initramfs) "
sleep 3600
CFG
mkdir -p "$T/d-gaveup"
make_grub_disk "$T/d-gaveup/disk0.raw" "$T/gaveup.cfg"
sum_gaveup=$(sha256sum <"$T/d-gaveup/disk0.raw")
t0=$(date +%s)
expect_exit 1 "$REHOST" boot-test --disk-dir "$T/d-gaveup" --timeout 120 --memory 256 --tail 5
[ "$(elapsed "$t0")" -lt 60 ] || fail "the initramfs failure took $(elapsed "$t0") s to classify"
assert_grep 'console said: Gave up waiting for root file system device' "$T/out"
assert_grep 'likely cause: .*virtio_blk' "$T/out"
assert_grep 'action: Run rehost postconf' "$T/out"
assert_grep 'last 5 console lines' "$T/out"
assert_grep '\| \(initramfs\)' "$T/out"
expect_exit 1 "$REHOST" boot-test --disk-dir "$T/d-gaveup" --timeout 120 --memory 256 --json
json_check "$T/out" "d['rule']" initramfs-gave-up "d['code']" SMS.6563 "d['matched_on']" serial \
	"d['tail'][-1]" "(initramfs)" "len(d['tail']) <= 40" True

log "(4) GRUB core image cannot find /boot: grub rescue"
{ serial_cfg; echo 'echo unreachable'; } >"$T/rescue.cfg"
make_grub_disk "$T/rescue.raw" "$T/rescue.cfg" 0123abcd-0000-4000-8000-000000000000
expect_exit 1 "$REHOST" boot-test --disk "$T/rescue.raw" --timeout 120 --memory 256 --json
json_check "$T/out" "d['rule']" grub-rescue "'postconf' in d['action']" True

log "(5) nothing on the serial console: timeout with the console= cause"
printf 'echo "this goes to the screen only"\nsleep 3600\n' >"$T/silent.cfg"
make_grub_disk "$T/silent.raw" "$T/silent.cfg"
expect_exit 1 "$REHOST" boot-test --disk "$T/silent.raw" --timeout 8 --memory 256
assert_grep 'FAILED after [0-9]+ s .*: timeout' "$T/out"
assert_grep 'printed nothing on the serial console: the BIOS started the boot loader' "$T/out"
assert_grep 'console=ttyS0' "$T/out"

log "(6) QEMU cannot start: its message is reported"
expect_exit 2 "$REHOST" boot-test --bus ide --disk "$T/silent.raw" --disk "$T/rescue.raw" \
	--disk "$T/d-login/disk0.raw" --disk "$T/d-gaveup/disk0.raw" --disk "$T/d-zero/disk1.raw"
assert_grep 'the ide bus takes 1 to 4 disks' "$T/err"
expect_exit 1 "$REHOST" boot-test --disk "$T/silent.raw" --timeout 60 --memory 1048576
assert_grep ': qemu-error' "$T/out"
assert_grep 'likely cause: QEMU failed' "$T/out"
expect_exit 1 "$REHOST" boot-test --disk "$T/silent.raw" --qemu "$T/no-such-qemu"
assert_grep 'no-such-qemu' "$T/err"

if [ -r /usr/share/OVMF/OVMF_CODE_4M.fd ] || [ -r /usr/share/OVMF/OVMF_CODE.fd ]; then
	log "(7) UEFI on the zeroed disk: OVMF's shell"
	expect_exit 1 "$REHOST" boot-test --disk-dir "$T/d-zero" --firmware uefi --timeout 180 --memory 256 --json
	json_check "$T/out" "d['rule']" ovmf-shell "d['firmware']" uefi
	if command -v mcopy >/dev/null && command -v mkfs.vfat >/dev/null &&
		[ -d /usr/lib/grub/x86_64-efi ]; then
		log "(7b) UEFI: GRUB as \\EFI\\BOOT\\BOOTX64.EFI prints a login prompt"
		make_efi_disk "$T/efi-login.raw" 'serial --unit=0 --speed=115200
terminal_output serial
echo "rehost-uefi login: "
sleep 3600'
		expect_exit 0 "$REHOST" boot-test --disk "$T/efi-login.raw" --firmware uefi --timeout 180 --memory 256
		assert_grep 'login prompt after [0-9]+ s \(disk0 on virtio, uefi\)' "$T/out"
		log "(7c) UEFI: GRUB prints on the firmware console only, nothing from a kernel"
		make_efi_disk "$T/efi-quiet.raw" 'echo "Loading Linux 6.1.0-50-amd64 ..."
sleep 3600'
		expect_exit 1 "$REHOST" boot-test --disk "$T/efi-quiet.raw" --firmware uefi --timeout 30 --memory 256
		assert_grep ': timeout' "$T/out"
		assert_grep 'kernel command line may lack console=ttyS0' "$T/out"
	fi
	expect_exit 2 "$REHOST" boot-test --disk-dir "$T/d-zero" --firmware uefi --ovmf-code /x
	expect_exit 1 "$REHOST" boot-test --disk-dir "$T/d-zero" --firmware uefi \
		--ovmf-code "$T/none.fd" --ovmf-vars "$T/none.fd"
	assert_grep 'OVMF code .*none.fd' "$T/err"
else
	log "(7) skipped: no OVMF (package ovmf)"
fi

log "(8) the disks are unchanged (-snapshot)"
[ "$(cat "$T"/d-zero/disk*.raw | sha256sum)" = "$sum_zero" ] || fail "the zeroed disks changed"
[ "$(sha256sum <"$T/d-login/disk0.raw")" = "$sum_login" ] || fail "the login disk changed"
[ "$(sha256sum <"$T/d-gaveup/disk0.raw")" = "$sum_gaveup" ] || fail "the gave-up disk changed"

log "no temp files and no QEMU left behind"
if [ -n "$(ls -A "$TMPDIR")" ]; then
	ls -la "$TMPDIR" >&2
	fail "rehost boot-test left files in \$TMPDIR"
fi
if pgrep -f "rehost-boot-test.*$T" >/dev/null; then
	fail "a QEMU of this test still runs"
fi
log "ok"
