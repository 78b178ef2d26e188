#!/bin/bash
# rehost's accelerator choice (src/lib/accel/), through `rehost boot-test`:
#   (1) no KVM device (REHOST_KVM_DEV=/nonexistent): TCG, QEMU never asked
#       for KVM, the reason names the device;
#   (2) a broken KVM, faked by a --qemu wrapper that aborts (exit 134 with
#       QEMU's MSR assertion on stderr) whenever its arguments ask for KVM
#       and runs the real QEMU otherwise: TCG, the reason quotes QEMU, one
#       log line, and the boot test still passes;
#   (3) the verdict cache: a second run does not probe; another boot id,
#       another binary, or a corrupt cache file probe again;
#   (4) a wrapper that hangs silently under KVM (and leaves a child): TCG,
#       after the probe deadline and not much more, nothing left running;
#   (5) --accel kvm on the aborting wrapper fails, quoting QEMU, with the
#       way out, and on a silent one times out saying KVM may hang;
#       --accel tcg never asks for KVM;
#   (6) no kernel to probe with: TCG with how to fix it;
#   (7) the real KVM of this host: its own direct probe decides what to
#       expect. Working: rehost must choose kvm. Broken (device and kernel
#       there, but no "Linux version" under KVM): rehost must choose tcg
#       and still pass. Neither checkable: it says why and the other cases
#       still count.
# The guest is a 512-byte boot sector that writes a login prompt to COM1,
# so no root, loop devices or mounts are needed.
# ctest: qemu
. "$(dirname "$0")/functions.sh"

requires qemu-system-x86_64
QEMU=$(command -v qemu-system-x86_64)

# rehost's private files go under $TMPDIR, checked empty at the end; the
# verdict cache is the test's own, not /run/rehost.
export TMPDIR=$T/tmp
mkdir -p "$TMPDIR"
export REHOST_ACCEL_CACHE=$T/cache
unset REHOST_PROBE_KERNEL REHOST_KVM_DEV REHOST_BOOT_ID_FILE REHOST_PROBE_TIMEOUT

# The boot sector: cli; cld; ds=0; si=msg; dx=0x3f8; print bytes until
# NUL with out dx,al; then hlt forever. The message is at 0x7c17.
printf '\xfa\xfc\x31\xc0\x8e\xd8\xbe\x17\x7c\xba\xf8\x03\xac\x84\xc0\x74\x03\xee\xeb\xf8\xf4\xeb\xfdrehost-accel login: \x00' >"$T/disk.raw"
truncate -s 510 "$T/disk.raw"
printf '\x55\xaa' >>"$T/disk.raw"
truncate -s 1M "$T/disk.raw"

# make_wrapper NAME abort|hang|silent: a QEMU that fails the given way when asked
# for KVM (counted in $T/NAME.kvm) and otherwise runs the real one.
make_wrapper() {
	local name=$1 mode=$2 broken
	case "$mode" in
	abort) broken="echo 'qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69' >&2
	echo \"qemu-system-x86_64: ../../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion \\\`ret == cpu->kvm_msr_buf->nmsrs' failed.\" >&2
	exit 134" ;;
	hang) broken="sleep 600 & echo \$! >'$T/$name.child'
	echo \$\$ >'$T/$name.pid'
	exec sleep 600" ;;
	silent) broken="exec sleep 600" ;;
	esac
	cat >"$T/$name" <<-EOF
	#!/bin/sh
	case " \$* " in
	*" -accel kvm "*|*accel=kvm*)
		echo kvm >>'$T/$name.kvm'
		$broken
		;;
	esac
	exec '$QEMU' "\$@"
	EOF
	chmod 755 "$T/$name"
}

kvm_calls() { if [ -f "$T/$1.kvm" ]; then wc -l <"$T/$1.kvm"; else echo 0; fi; }

# gone PIDFILE: the process is gone (or a zombie waiting for its reaper).
gone() {
	local pid i
	pid=$(cat "$1")
	for ((i = 0; i < 50; i++)); do
		[ -e "/proc/$pid" ] || return 0
		[ "$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1)" = Z ] && return 0
		sleep 0.1
	done
	return 1
}

boot() { expect_exit "$1" "$REHOST" boot-test --disk "$T/disk.raw" --timeout 60 --memory 128 "${@:2}"; }

make_wrapper qabort abort
make_wrapper qhang hang
make_wrapper qsilent silent
echo 'not a kernel: the wrappers never boot it under KVM' >"$T/vmlinuz"
echo "11111111-2222-3333-4444-555555555555" >"$T/boot_id"

log "(1) no KVM device: TCG, KVM never tried"
REHOST_KVM_DEV=/nonexistent boot 0 --qemu "$T/qabort" --json
json_check "$T/out" "d['result']" pass "d['accelerator']" tcg \
	"d['accelerator_reason']" "no KVM: /nonexistent: No such file or directory"
assert_grep 'INFO +\[accel\] no KVM: /nonexistent: .*; using TCG \(5-20x slower\)' "$T/err"
[ "$(kvm_calls qabort)" -eq 0 ] || fail "QEMU was asked for KVM without a KVM device"

# From here the KVM device "exists" (/dev/null opens read-write): the
# wrappers decide how KVM behaves.
export REHOST_KVM_DEV=/dev/null REHOST_PROBE_KERNEL=$T/vmlinuz REHOST_BOOT_ID_FILE=$T/boot_id

log "(2) QEMU aborts under KVM: TCG, and the boot test passes"
boot 0 --qemu "$T/qabort"
assert_grep '^boot-test: accelerator tcg: KVM unusable: qemu aborted: failed to set MSR 0x10a to 0x69$' "$T/out"
assert_grep '^boot-test: login prompt after [0-9]+ s \(disk0 on virtio, bios\)$' "$T/out"
assert_grep 'WARN +\[accel\] KVM unusable: qemu aborted: failed to set MSR 0x10a to 0x69; using TCG \(5-20x slower\)' "$T/err"
[ "$(grep -c '\[accel\]' "$T/err")" -eq 1 ] || fail "more than one accel log line"
[ "$(kvm_calls qabort)" -eq 1 ] || fail "expected one KVM probe, got $(kvm_calls qabort)"
[ "$(stat -c %a "$T/cache")" = 700 ] || fail "cache directory mode $(stat -c %a "$T/cache")"
ls "$T"/cache/accel-* >/dev/null || fail "no verdict cached"

log "(3) the cache: no second probe; a new boot id, a new binary or a corrupt file re-probe"
boot 0 --qemu "$T/qabort" --json
json_check "$T/out" "d['result']" pass "d['accelerator']" tcg \
	"d['accelerator_reason']" "KVM unusable: qemu aborted: failed to set MSR 0x10a to 0x69"
assert_grep 'cached verdict of this host boot' "$T/err"
[ "$(kvm_calls qabort)" -eq 1 ] || fail "the cached verdict was not used ($(kvm_calls qabort) probes)"
echo "99999999-2222-3333-4444-555555555555" >"$T/boot_id"
boot 0 --qemu "$T/qabort"
[ "$(kvm_calls qabort)" -eq 2 ] || fail "another boot id did not re-probe"
touch -d '2001-01-01' "$T/qabort"
boot 0 --qemu "$T/qabort"
[ "$(kvm_calls qabort)" -eq 3 ] || fail "another QEMU binary did not re-probe"
boot 0 --qemu "$T/qabort"
[ "$(kvm_calls qabort)" -eq 3 ] || fail "the new binary's verdict was not cached"
for f in "$T"/cache/accel-*; do printf 'rehost-accel-cache 1\nkey x\naccel kvm\n' >"$f"; done
boot 0 --qemu "$T/qabort"
assert_grep 'accelerator tcg: KVM unusable: qemu aborted' "$T/out"
[ "$(kvm_calls qabort)" -eq 4 ] || fail "a corrupt cache file was trusted"
boot 0 --qemu "$T/qabort"
[ "$(kvm_calls qabort)" -eq 4 ] || fail "the corrupt cache file was not replaced"
REHOST_ACCEL_CACHE=off boot 0 --qemu "$T/qabort"
[ "$(kvm_calls qabort)" -eq 5 ] || fail "REHOST_ACCEL_CACHE=off did not probe"

log "(4) QEMU hangs silently under KVM: TCG after the probe deadline, nothing left behind"
export REHOST_PROBE_TIMEOUT=3
t0=$(date +%s%N)
boot 0 --qemu "$T/qhang" --accel tcg
base=$(( ($(date +%s%N) - t0) / 1000000 ))
t0=$(date +%s%N)
REHOST_ACCEL_CACHE=off boot 0 --qemu "$T/qhang"
took=$(( ($(date +%s%N) - t0) / 1000000 ))
assert_grep "^boot-test: accelerator tcg: KVM unusable: qemu printed no 'Linux version' within 3 s \(silent: hangs\)$" "$T/out"
assert_grep 'login prompt after' "$T/out"
[ "$(kvm_calls qhang)" -eq 1 ] || fail "expected one KVM probe"
log "    a TCG run took $base ms, with the hung probe $took ms (deadline 3000 ms)"
[ "$took" -le $((base + 3000 + 3000)) ] || fail "the hung probe cost $((took - base)) ms, deadline 3000 ms"
gone "$T/qhang.pid" || fail "the hung QEMU (pid $(cat "$T/qhang.pid")) still runs"
gone "$T/qhang.child" || fail "the hung QEMU's child (pid $(cat "$T/qhang.child")) still runs"
unset REHOST_PROBE_TIMEOUT

log "(5) --accel kvm on a broken KVM fails loudly; --accel tcg never asks for KVM"
n=$(kvm_calls qabort)
boot 1 --qemu "$T/qabort" --accel kvm
assert_grep '^boot-test: accelerator kvm: kvm as requested \(not probed\)$' "$T/out"
assert_grep 'FAILED after [0-9]+ s \(disk0 on virtio, bios, kvm\): qemu-error' "$T/out"
assert_grep 'likely cause: QEMU failed \(exit status 134\): (error: )?failed to set MSR 0x10a to 0x69' "$T/out"
assert_grep 'action: .*--accel auto' "$T/out"
[ "$(kvm_calls qabort)" -eq $((n + 1)) ] || fail "--accel kvm probed, or did not run KVM"
boot 1 --qemu "$T/qsilent" --accel kvm --timeout 4
assert_grep 'FAILED after [0-9]+ s \(disk0 on virtio, bios, kvm\): timeout' "$T/out"
assert_grep 'likely cause: nothing at all came from the guest, not even from the BIOS: KVM \(forced with --accel kvm\) may hang' "$T/out"
assert_grep 'action: Run with --accel auto' "$T/out"
boot 0 --qemu "$T/qabort" --accel tcg --json
json_check "$T/out" "d['accelerator']" tcg "d['accelerator_reason']" "tcg as requested (not probed)"
[ "$(kvm_calls qabort)" -eq $((n + 1)) ] || fail "--accel tcg asked for KVM"
expect_exit 2 "$REHOST" boot-test --disk "$T/disk.raw" --accel hvf
assert_grep 'allowed auto, kvm, tcg' "$T/err"

log "(6) no kernel to probe with: TCG, with how to fix it"
REHOST_ACCEL_CACHE=off REHOST_PROBE_KERNEL=$T/none boot 0 --qemu "$T/qabort"
assert_grep "accelerator tcg: no kernel to probe KVM with \(probe kernel $T/none: No such file or directory\): install linux-image-amd64 or set REHOST_PROBE_KERNEL" "$T/out"
REHOST_ACCEL_CACHE=off boot 0 --qemu "$T/qabort" --probe-kernel "$T/none2"
assert_grep "no kernel to probe KVM with \(probe kernel $T/none2:" "$T/out"
[ "$(kvm_calls qabort)" -eq $((n + 1)) ] || fail "probed without a kernel"

log "(7) this host's own KVM"
unset REHOST_KVM_DEV REHOST_PROBE_KERNEL REHOST_BOOT_ID_FILE
kernel=/boot/vmlinuz-$(uname -r)
[ -r "$kernel" ] || kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1 || true)
why=""
if [ ! -e /dev/kvm ]; then
	why="there is no /dev/kvm"
elif ! { exec 9<>/dev/kvm; } 2>/dev/null; then
	why="/dev/kvm does not open read-write for $(id -un)"
elif [ -z "$kernel" ] || [ ! -r "$kernel" ]; then
	why="no kernel in /boot to boot (install linux-image-amd64)"
fi
exec 9>&-
if [ -n "$why" ]; then
	log "    NOT RUN: the usable-KVM and real-broken-KVM cases: $why; cases (1)-(6) ran and passed"
else
	# A direct probe, independent of rehost: the kernel's banner under
	# KVM with -cpu host within 8 s.
	"$QEMU" -nodefaults -no-user-config -machine pc -accel kvm -cpu host -m 256 \
		-display none -no-reboot -kernel "$kernel" -append 'console=ttyS0 panic=-1' \
		-chardev stdio,id=s,signal=off -serial chardev:s </dev/null >"$T/direct.out" 2>&1 &
	qpid=$!
	cleanup_fn kill_wait "$qpid"
	for ((i = 0; i < 80; i++)); do
		grep -q 'Linux version' "$T/direct.out" && break
		kill -0 "$qpid" 2>/dev/null || break
		sleep 0.1
	done
	kill_wait "$qpid"
	if grep -q 'Linux version' "$T/direct.out"; then
		log "    KVM works here (direct probe): rehost must choose kvm"
		boot 0 --json
		json_check "$T/out" "d['result']" pass "d['accelerator']" kvm
	else
		log "    KVM is broken here (direct probe: $(head -c 200 "$T/direct.out" | head -1 || true)): rehost must choose tcg"
		boot 0 --json
		json_check "$T/out" "d['result']" pass "d['accelerator']" tcg \
			"d['accelerator_reason'].startswith('KVM unusable: ')" True
	fi
fi

log "no temp files left behind"
if [ -n "$(ls -A "$TMPDIR")" ]; then
	ls -la "$TMPDIR" >&2
	fail "rehost left files in \$TMPDIR"
fi
log "ok"
