# The end-to-end migration of a Debian source disk onto virtio, shared by
# the t-boot-*.sh scripts (one per disk layout, so ctest can run two at a
# time). Source after functions.sh and debian.sh.
#
# migrate_and_boot VARIANT [--expect-unfixed-failure]:
#   1. build the source disk (boots on IDE, initramfs without virtio);
#   2. rehost migrate it to a rehost target --disk-dir over TLS;
#   3. optionally prove the migrated disk does NOT boot on virtio as it is;
#   4. rehost target cutover: sync snapshot, postconf, cutover snapshot;
#   5. rehost boot-test on virtio must reach the login prompt;
#   6. rehost target rollback --to sync must give back the migrated bytes.

BOOT_TIMEOUT=${REHOST_BOOT_TIMEOUT:-900}

migrate_and_boot() {
	local variant=$1 unfixed=${2:-} port sum_migrated sum_now fw=bios
	local src=$T/src-$variant.img tgt=$T/tgt-$variant

	[ "$variant" = gpt-uefi ] && fw=uefi
	make_debian_disk "$variant" "$src"
	"$REHOST" keygen "$T/keys" >/dev/null
	mkdir -p "$tgt"
	port=$(start_daemon "target-$variant" "$T/port-$variant" "$REHOST" target --listen 127.0.0.1:0 \
		--port-file "$T/port-$variant" --keys "$T/keys" --disk-dir "$tgt" --once)
	log "$variant: migrating"
	expect_exit 0 "$REHOST" migrate --disk "$src" --to "127.0.0.1:$port" --keys "$T/keys" \
		--state-dir "$T/st-$variant" --progress none
	kill_wait "$(cat "$T/target-$variant.pid")"
	# Free blocks were not copied, so the images differ there; the boot
	# below is the proof. The partition table at least is the source's.
	[ "$(sfdisk -d "$src" | sed "s|^$src||; /^device:/d")" = \
	  "$(sfdisk -d "$tgt/disk0.raw" | sed "s|^$tgt/disk0.raw||; /^device:/d")" ] ||
		fail "$variant: the target's partition table differs from the source's"
	sum_migrated=$(sha256sum <"$tgt/disk0.raw")

	if [ "$unfixed" = --expect-unfixed-failure ]; then
		log "$variant: boot-test before postconf (must fail: no virtio in the initramfs)"
		expect_exit 1 "$REHOST" boot-test --disk-dir "$tgt" --timeout "$BOOT_TIMEOUT" --firmware "$fw" \
			--console-log "$T/console-unfixed-$variant.log"
		cat "$T/out" "$T/err" >"$T/unfixed-$variant.txt"
		assert_grep 'virtio' "$T/unfixed-$variant.txt"
	fi

	# gpt-bios already names its filesystems by UUID: nothing to rewrite.
	local fstab_by_name=True
	[ "$variant" = gpt-bios ] && fstab_by_name=False
	log "$variant: cutover (sync snapshot, postconf, cutover snapshot)"
	expect_exit 0 "$REHOST" target cutover --disk-dir "$tgt" --firmware "$fw" --report "$T/postconf-$variant.json"
	cp "$T/out" "$T/cutover-$variant.out"
	json_check "$T/postconf-$variant.json" \
		"d['result']" ok \
		"d['family']" debian \
		"d['firmware']" "$fw" \
		"any(s['step'] == 'initramfs' and 'virtio_blk' in s['detail'] for s in d['steps'])" True \
		"any(s['step'] == 'grub-install-$fw' for s in d['steps'])" True \
		"any(c['path'] == '/etc/fstab' for c in d['changes'])" "$fstab_by_name" \
		"any(c['path'].startswith('/etc/network/interfaces') for c in d['changes'])" True \
		"any(c['path'] == '/etc/udev/rules.d/70-persistent-net.rules' and c['action'] == 'removed' for c in d['changes'])" True \
		"any(c['path'] == '/etc/cloud/cloud.cfg' for c in d['changes'])" True \
		"any(c['path'] == '/etc/motd' for c in d['changes'])" True

	log "$variant: boot-test on virtio after postconf"
	expect_exit 0 "$REHOST" boot-test --disk-dir "$tgt" --timeout "$BOOT_TIMEOUT" --firmware "$fw" \
		--console-log "$T/console-$variant.log"
	cat "$T/out" "$T/err" >"$T/fixed-$variant.txt"
	assert_grep 'login prompt' "$T/fixed-$variant.txt"

	log "$variant: rollback to the sync snapshot"
	expect_exit 0 "$REHOST" target rollback --disk-dir "$tgt" --to sync
	sum_now=$(sha256sum <"$tgt/disk0.raw")
	[ "$sum_now" = "$sum_migrated" ] || fail "$variant: rollback to sync did not restore the migrated disk"
	expect_exit 0 "$REHOST" target rollback --disk-dir "$tgt" --to cutover
	sum_now=$(sha256sum <"$tgt/disk0.raw")
	[ "$sum_now" != "$sum_migrated" ] || fail "$variant: rollback to cutover gave the unconfigured disk"
}
