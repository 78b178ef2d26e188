#!/usr/bin/env bash
# rehost inspect on this machine itself (no --root, no --disk): it must
# work, agree with what the system says about itself, notice a bind mount
# made on its root filesystem, and finish well within a sanity bound. Also
# --disk with a block device (a loop device over an image) instead of a
# file.
. "$(dirname "$0")/functions.sh"
requires_root
requires python3 nproc hostname mkfs.ext4 sfdisk

: >"$T/empty.conf"

log "inspect this machine"
start=$(date +%s%N)
rc=0
"$REHOST" inspect --config "$T/empty.conf" --json >"$T/out" 2>"$T/err" || rc=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
log "took ${elapsed_ms} ms, exit $rc"
# 0 or 3 (blocked: e.g. no initramfs in a container); 1 would be a failure.
[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || { cat "$T/err" >&2; fail "exit $rc"; }
# A sanity bound only: this machine is shared and noisy (typically ~0.1 s).
[ "$elapsed_ms" -lt 5000 ] || fail "inspect took ${elapsed_ms} ms"
mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
json_check "$T/out" \
	"d['host']['hostname']" "$(cat /proc/sys/kernel/hostname)" \
	"d['host']['kernel']['release']" "$(uname -r)" \
	"d['host']['arch']" "$(uname -m)" \
	"d['host']['cpus']" "$(grep -c '^processor' /proc/cpuinfo)" \
	"d['host']['memory_bytes']" $((mem_kb * 1024)) \
	"d['host']['firmware']" "$([ -d /sys/firmware/efi ] && echo uefi || echo bios)" \
	"d['summary']['migratable']" "$([ "$rc" -eq 0 ] && echo True || echo False)" \
	"d['root']" / \
	"[m['target'] for m in d['mounts'] if m['target'] == '/']" "['/']" \
	"len(d['checks']) > 20" True \
	"all(c['hint'] for c in d['checks'] if c['status'] in ('error', 'warning'))" True
# rsync and ssh as `command -v` finds them.
if command -v rsync >/dev/null; then
	json_check "$T/out" "d['tools']['rsync'] is not None" True
fi

log "a bind mount on the root filesystem is reported (SMS.1353)"
mkdir -p "$T/bind-src/sub" "$T/bind-dst"
rootsrc=$(awk '$2 == "/" {print $1}' /proc/mounts | tail -1)
case "$rootsrc" in
/dev/loop*|overlay|none|rootfs|tmpfs) skip "root filesystem is $rootsrc, not a disk" ;;
esac
mount --bind "$T/bind-src/sub" "$T/bind-dst"
cleanup_fn umount "$T/bind-dst"
rc=0
"$REHOST" inspect --config "$T/empty.conf" --json --no-initramfs >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || fail "exit $rc"
json_check "$T/out" \
	"[(c['status'], c['code']) for c in d['checks'] if c['id'] == 'bind-mount' and c['subject'] == '$T/bind-dst']" \
	"[('warning', 'SMS.1353')]" \
	"[m['bind'] for m in d['mounts'] if m['target'] == '$T/bind-dst']" "[True]"
umount "$T/bind-dst"

log "--disk with a block device"
make_image "$T/blk.img" 64M
partition_image "$T/blk.img" gpt 'size=32MiB'
mkfs_part "$T/blk.img" 1 ext4 -L onloop
dev=$(loop_attach "$T/blk.img")
name=${dev#/dev/}
expect_exit 3 "$REHOST" inspect --config "$T/empty.conf" --json --no-initramfs --disk "$dev"
json_check "$T/out" \
	"d['disks'][0]['name']" "$name" \
	"d['disks'][0]['path']" "$dev" \
	"d['disks'][0]['table']" gpt \
	"d['disks'][0]['partitions'][0]['name']" "${name}p1" \
	"d['disks'][0]['partitions'][0]['device']" "/dev/${name}p1" \
	"d['disks'][0]['partitions'][0]['filesystem']['label']" onloop
log "ok"
