#!/usr/bin/env bash
# Completion is proven, not asserted: a crafted agent (python3 ssl with the
# agent certificate) that says a disk or the job is done without having
# sent what it planned gets a coded ERROR, `rehost target --once` exits
# non-zero without "job finished", and nothing is marked complete. The same
# client, honest, finishes a job; a real migrate still does, across a resume.
. "$(dirname "$0")/functions.sh"
requires python3 cmp

"$REHOST" keygen "$T/keys" >/dev/null

# The crafted agent: runs one scenario and prints every frame it gets back.
cat >"$T/client.py" <<'PY'
import socket, ssl, struct, sys

MAGIC, P, R = 0x52485031, (1 << 61) - 1, 0x1d6c6b3a9f2e5
HELLO, HELLO_OK, DATA, DISK_END, DISK_DONE, ERROR, BYE, PLAN = 1, 2, 3, 6, 7, 8, 9, 14
NAMES = {2: "HELLO_OK", 5: "DURABLE", 7: "DISK_DONE", 8: "ERROR"}
MiB, DISK = 1 << 20, 4 << 20

def rsum(off, n):  # rh_proto_range_sum, written out from its definition
    return 0 if n == 0 else pow(R, off, P) * (pow(R, n, P) - 1) * pow(R - 1, P - 2, P) % P

port, keys, scenario = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.check_hostname = False
ctx.load_verify_locations(keys + "/ca.pem")
ctx.load_cert_chain(keys + "/agent.pem", keys + "/agent.key")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
s.settimeout(20)

def send(t, payload=b"", flags=0):
    s.sendall(struct.pack(">IHHII", MAGIC, t, flags, len(payload), 0) + payload)

def recv_exact(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b

def recv():
    try:
        _, t, _, n, _ = struct.unpack(">IHHII", recv_exact(16))
        p = recv_exact(n) if n else b""
    except (EOFError, ssl.SSLError, OSError):
        print("closed")
        return None
    if t == ERROR:
        code = struct.unpack(">i", p[:4])[0]
        print("ERROR %d [%s] %s" % (code, p[4:36].rstrip(b"\0").decode(), p[36:].decode()))
    else:
        print(NAMES.get(t, str(t)))
    sys.stdout.flush()
    return t

def hello(version=2, flags=0):
    send(HELLO, struct.pack(">I32sII", version, b"0123456789abcdef0123456789abcdef", MiB, 1)
         + struct.pack(">QQ", DISK, 0x1234), flags)

def plan(nbytes):  # planned: [0, nbytes) of a 4 MiB disk
    send(PLAN, struct.pack(">IQQQQQ", 0, 0, nbytes, rsum(0, nbytes), nbytes, rsum(0, nbytes)))

def zero_chunk(off, n, seq):  # an all-zero chunk: no payload, no CRC to compute
    send(DATA, struct.pack(">IIQQQ", 0, n, off, 0, seq), flags=2)

def disk_end(nbytes, ssum):
    send(DISK_END, struct.pack(">IQQ", 0, nbytes, ssum))

if scenario == "old-version":
    hello(version=1)
    recv()
    sys.exit(0)
hello(flags=1 if scenario == "sync-bye" else 0)
if recv() != HELLO_OK:
    sys.exit(1)
if scenario in ("bye", "sync-bye"):    # (a) HELLO, BYE; a sync: the same
    send(BYE)
elif scenario == "end-no-plan":        # (b) DISK_END with nothing declared or sent
    disk_end(0, 0)
elif scenario == "end-no-data":        # (b) planned 1 MiB, DISK_END with no DATA
    plan(MiB)
    disk_end(0, 0)
elif scenario == "end-short":          # planned 1 MiB, sent 64 KiB, says 64 KiB
    plan(MiB)
    zero_chunk(0, 65536, 0)
    disk_end(65536, rsum(0, 65536))
elif scenario == "end-claims-more":    # (c) planned and sent 64 KiB, claims 1 MiB
    plan(65536)
    zero_chunk(0, 65536, 0)
    disk_end(MiB, rsum(0, MiB))
elif scenario.startswith("honest"):    # the control: plan, send, end, BYE
    plan(2 * 65536)
    zero_chunk(0, 65536, 0)
    zero_chunk(65536, 65536, 1)
    disk_end(2 * 65536, rsum(0, 2 * 65536))
    while recv() not in (DISK_DONE, ERROR, None):
        pass
    send(BYE)
    sys.exit(0)
recv()
PY

disk_state() { # state durable of disk 0 in a target checkpoint, or "none"
	python3 -c 'import json,sys
try: d = json.load(open(sys.argv[1]))["disks"][0]; print(d["state"], d["durable"])
except FileNotFoundError: print("none")' "$1/rehost-target.json"
}

# run_scenario NAME [DIR]: a target --once on DIR (default: a fresh one)
# against the crafted client; the target's status in $trc, its log in
# $T/NAME.target, the client's output in $T/NAME.client.
run_scenario() {
	local name=$1 dir=${2:-$T/$1} tpid i
	mkdir -p "$dir"
	"$REHOST" target --once --listen 127.0.0.1:0 --port-file "$T/$name.port" \
		--keys "$T/keys" --disk-dir "$dir" >"$T/$name.target" 2>&1 &
	tpid=$!
	cleanup_fn kill_wait "$tpid"
	for ((i = 0; i < 100; i++)); do
		[ -s "$T/$name.port" ] && break
		sleep 0.1
	done
	[ -s "$T/$name.port" ] || { cat "$T/$name.target" >&2; fail "$name: target did not start"; }
	timeout 60 python3 "$T/client.py" "$(cat "$T/$name.port")" "$T/keys" "$name" \
		>"$T/$name.client" 2>&1 || { cat "$T/$name.client" >&2; fail "$name: client failed"; }
	trc=0
	wait "$tpid" || trc=$?
}

# expect_refused NAME REGEX [SMS [DIR]]: the target exits non-zero, logs an
# error with code SMS (default SMS.0805) matching REGEX, never says the job
# finished, marks nothing complete; the client got the same coded ERROR.
expect_refused() {
	local name=$1 re=$2 sms=${3:-SMS.0805} dir=${4:-} state
	run_scenario "$name" $dir
	[ "$trc" -ne 0 ] || { cat "$T/$name.target" >&2; fail "$name: target --once exited 0"; }
	assert_grep "job stopped: .*$re.*\[${sms/./\\.}\]" "$T/$name.target"
	assert_no_grep 'job finished' "$T/$name.target"
	assert_no_grep 'complete:|synced:' "$T/$name.target"
	assert_grep "^ERROR -[0-9]+ \[${sms/./\\.}\] .*$re" "$T/$name.client"
	if [ -z "$dir" ]; then
		state=$(disk_state "$T/$name")
		case "$state" in 2\ *) fail "$name: disk marked complete in the checkpoint ($state)" ;; esac
	fi
	log "$name: refused ($(grep -o 'job stopped: .*' "$T/$name.target"))"
}

# The client is right about the protocol: honest, it finishes a job.
run_scenario honest
[ "$trc" -eq 0 ] || { cat "$T/honest.target" >&2; fail "honest client: target exited $trc"; }
assert_grep 'job finished' "$T/honest.target"
[ "$(disk_state "$T/honest")" = "2 4194304" ] || fail "honest client: checkpoint $(disk_state "$T/honest")"
assert_grep '^DISK_DONE' "$T/honest.client"
# A checkpoint from before protocol 2 cannot say what a partial disk
# received: that disk starts over (the client plans from 0), and completes.
mkdir -p "$T/old-checkpoint"
printf '%s' '{"version": 1, "job_id": "0123456789abcdef0123456789abcdef", "disks": [{"path": "x",
 "size": 4194304, "layout": "0000000000001234", "state": 1, "durable": 65536}]}' \
	>"$T/old-checkpoint/rehost-target.json"
: >"$T/old-checkpoint/disk0.raw"
mv "$T/old-checkpoint" "$T/honest2"
run_scenario honest2
[ "$trc" -eq 0 ] || { cat "$T/honest2.target" >&2; fail "old checkpoint: target exited $trc"; }
assert_grep 'predates completion checks; copying it again from the start' "$T/honest2.target"
[ "$(disk_state "$T/honest2")" = "2 4194304" ] || fail "old checkpoint: $(disk_state "$T/honest2")"

# A sync of that finished job cannot be completed by an empty BYE either.
expect_refused sync-bye 'ended the sync \(BYE\) before disk 0 was synced \(not compared' SMS.0806 "$T/honest"

expect_refused bye 'before disk 0 was complete'
expect_refused end-no-plan 'without saying what it would send'
expect_refused end-no-data '1048576 bytes were planned but the target received 0'
expect_refused end-short '1048576 bytes were planned but the target received 65536'
expect_refused end-claims-more 'agent says it sent 1048576 bytes but the target received 65536'
# A failed check leaves nothing to resume from: the next run copies again.
[ "$(disk_state "$T/end-claims-more")" = "0 0" ] || fail "refused disk kept its checkpoint: $(disk_state "$T/end-claims-more")"

# Protocol 1 knew no plans: refused, saying why.
run_scenario old-version
[ "$trc" -ne 0 ] || fail "old-version: target exited 0"
assert_grep 'version 1, this rehost speaks 2' "$T/old-version.client"
assert_grep 'version 1, this rehost speaks 2' "$T/old-version.target"

# A real migration still completes, also across an interrupted run.
head -c 48M /dev/urandom >"$T/src.img"
mkdir -p "$T/tgt"
port=$(start_daemon tgt "$T/port-tgt" "$REHOST" target --listen 127.0.0.1:0 \
	--port-file "$T/port-tgt" --keys "$T/keys" --disk-dir "$T/tgt")
"$REHOST" migrate --disk "$T/src.img" --to "127.0.0.1:$port" --keys "$T/keys" --state-dir "$T/st" \
	--compress off --limit-mbps 100 --progress none 2>"$T/agent1.log" &
agent=$!
# Interrupt once part of the disk is durable (a checkpoint every 2 s).
for ((i = 0; i < 200; i++)); do
	[ -f "$T/tgt/rehost-target.json" ] && read -r state durable < <(disk_state "$T/tgt") &&
		[ "$durable" -gt 0 ] && break
	sleep 0.1
done
kill -9 "$agent"
wait "$agent" 2>/dev/null || true
sleep 0.5
read -r state durable < <(disk_state "$T/tgt")
[ "$state" = 1 ] && [ "$durable" -gt 0 ] || fail "interrupted migrate left $state $durable"
expect_exit 0 "$REHOST" migrate --disk "$T/src.img" --to "127.0.0.1:$port" --keys "$T/keys" \
	--state-dir "$T/st" --compress off --progress log
assert_grep 'resuming job' "$T/err"
assert_grep 'complete on the target' "$T/err"
cmp "$T/src.img" "$T/tgt/disk0.raw" || fail "resumed copy differs"
assert_grep 'disk 0 complete: .*, 50331648 bytes received' "$T/tgt.log"
log "ok: every false completion refused with SMS.0805; a real migrate resumed at $durable and completed"
