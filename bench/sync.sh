#!/usr/bin/env bash
# Incremental sync benchmark (issue 5), one run on the block replication
# benchmark disk: after a full copy, modify 1 % of the files on the source,
# then time
#   rehost sync                 (hash both sides, send differing chunks)
#   rsync -a --delete           of the same trees (a copy made before the change)
#   rehost migrate --new-job    a fresh full copy
#   rehost sync with no change
# and print the ratios and bytes sent versus bytes changed.
# Needs root. Usage: bench/sync.sh [build/rehost]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
. "$here/lib.sh"

"$REHOST" keygen "$W/keys" >/dev/null
mkdir -p "$W/target" "$W/target2"
"$REHOST" target --listen 127.0.0.1:0 --port-file "$W/port" --keys "$W/keys" \
	--disk-dir "$W/target" --replace 2>"$W/target.log" &
tpid=$!
for _ in $(seq 50); do [ -s "$W/port" ] && break; sleep 0.1; done
A=(--disk "$W/disk.img" --to "127.0.0.1:$(cat "$W/port")" --keys "$W/keys" --state-dir "$W/agent" --progress log)
echo "== full copy (not timed) and a reference tree for rsync"
"$REHOST" migrate "${A[@]}" 2>"$W/first.err"
mnt=$(mktemp -d)
mount "$p2" "$mnt"
mkdir -p "$W/rsync-dst"
cp -a "$mnt/." "$W/rsync-dst/"

echo "== modifying 1 % of the files"
changed=$(cd "$mnt" && find . -type f -size +0 | sort | awk 'NR % 100 == 0' | python3 -c '
import os, sys
total = 0
for p in sys.stdin.read().split("\n"):
    if not p: continue
    size = os.path.getsize(p)
    n = max(1, size // 10)          # rewrite a tenth of each file, in the middle
    with open(p, "r+b") as f:
        f.seek(size // 2 - n // 2 if size > n else 0)
        f.write(os.urandom(n))
    total += n
print(total)')
umount "$mnt"; rmdir "$mnt"; mnt=
sync
echo "   $changed bytes changed in place"
mkdir -p "$W/rsync-src"
mount -o ro "$p2" "$W/rsync-src"
extra_cleanup='umount "$W/rsync-src"'

r_sync=$(measure sync "$REHOST" sync "${A[@]}")
sent=$(sed -n 's/.* differed, \([0-9]*\) bytes sent (\([0-9]*\) on the wire).*/\2/p' "$W/sync.err" | tail -1)
cmp -s "$W/disk.img" "$W/target/disk0.raw" || { echo "bench: sync result differs" >&2; exit 1; }
r_rsync=$(measure rsync rsync -a --delete --stats "$W/rsync-src/" "$W/rsync-dst/")
rsync_sent=$(sed -n 's/^Total bytes sent: \([0-9,]*\).*/\1/p' "$W/rsync.out" | tr -d ,)
r_nochange=$(measure nochange "$REHOST" sync "${A[@]}")
"$REHOST" target --listen 127.0.0.1:0 --port-file "$W/port2" --keys "$W/keys" \
	--disk-dir "$W/target2" --once 2>"$W/target2.log" &
for _ in $(seq 50); do [ -s "$W/port2" ] && break; sleep 0.1; done
r_full=$(measure full "$REHOST" migrate --disk "$W/disk.img" --to "127.0.0.1:$(cat "$W/port2")" \
	--keys "$W/keys" --state-dir "$W/agent2" --progress log)

echo
printf '%-10s %9s %9s %10s\n' run wall_s cpu_s rss_MiB
for r in "$r_sync" "$r_rsync" "$r_nochange" "$r_full"; do
	set -- $r
	printf '%-10s %9.2f %9.2f %10.1f\n' "$1" "$2" "$3" "$(awk -v k="$4" 'BEGIN { print k / 1024 }')"
done
set -- $r_sync; sw=$2
set -- $r_rsync; rw=$2
set -- $r_full; fw=$2
set -- $r_nochange; nw=$2
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "ratio sync/rsync wall:      $(ratio "$sw" "$rw") (goal <= 0.5)"
echo "ratio sync/full copy wall:  $(ratio "$sw" "$fw") (goal <= 0.1)"
echo "no-change sync wall:        ${nw} s"
echo "bytes on the wire / changed: $(ratio "$sent" "$changed") (goal <= 2; rsync sent $rsync_sent)"
