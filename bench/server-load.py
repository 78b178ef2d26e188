#!/usr/bin/env python3
"""Load generator for bench/server.sh: N simulated agents in one process
(asyncio, one kept-alive TLS connection each) that heartbeat and report
progress every PERIOD seconds, plus M operators listing tasks. Prints
p50/p99/max latency per request kind as JSON.

    server-load.py URL CACERT AK SK AGENTS OPERATORS SECONDS PERIOD
"""
import asyncio
import json
import os
import random
import ssl
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "data", "api"))
import signclient  # noqa: E402

URL, CACERT, AK, SK = sys.argv[1:5]
AGENTS, OPERATORS, SECONDS, PERIOD = (int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]),
                                      float(sys.argv[8]))
U = urllib.parse.urlsplit(URL)
HOST = U.netloc
CTX = ssl.create_default_context(cafile=CACERT)
lat = {}
errors = {}


class Conn:
    def __init__(self):
        self.r = self.w = None

    async def request(self, method, path, doc=None, kind=None):
        body = json.dumps(doc).encode() if doc is not None else b""
        h = signclient.sign(AK, SK, method, path, HOST, body)
        head = "%s %s HTTP/1.1\r\n" % (method, path) + "".join(
            "%s: %s\r\n" % kv for kv in h.items()) + "Content-Length: %d\r\n\r\n" % len(body)
        for attempt in range(2):
            try:
                if self.w is None:
                    self.r, self.w = await asyncio.open_connection(U.hostname, U.port, ssl=CTX)
                t0 = time.monotonic()
                self.w.write(head.encode() + body)
                await self.w.drain()
                status_line = await self.r.readline()
                status = int(status_line.split()[1])
                length = 0
                while True:
                    line = await self.r.readline()
                    if line in (b"\r\n", b""):
                        break
                    k, _, v = line.decode().partition(":")
                    if k.lower() == "content-length":
                        length = int(v)
                data = await self.r.readexactly(length)
                dt = time.monotonic() - t0
                if kind:
                    lat.setdefault(kind, []).append(dt)
                    if status // 100 != 2:
                        errors[kind] = errors.get(kind, 0) + 1
                return status, json.loads(data) if data else None
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                self.w = None
                if attempt:
                    raise


async def agent(i, deadline, ready):
    c = Conn()
    st, doc = await c.request("POST", "/v1/agent/register", {
        "agent_id": "bench-%04d" % i, "agent_version": "bench",
        "inventory": {"host": {"hostname": "bench-%04d" % i, "firmware": "bios", "cpus": 2},
                      "disks": [{"name": "vda", "size_bytes": 10737418240, "recommended_gib": 10}],
                      "summary": {"migratable": True},
                      "recommendation": {"mode": "block", "block_eligible": True}}})
    sid = doc["source"]["id"]
    st, doc = await c.request("POST", "/v1/tasks", {
        "source_id": sid, "target": {"address": "127.0.0.1:9", "disks": [{"size_bytes": 10737418240}]}})
    tid = doc["id"]
    st, doc = await c.request("POST", "/v1/tasks/%s/actions/start" % tid)
    await c.request("GET", "/v1/agent/commands?source_id=%s&wait=0" % sid)
    ready.append(1)
    await asyncio.sleep(random.random() * PERIOD)
    migrated, n = 0, 0
    while time.monotonic() < deadline:
        t = time.monotonic()
        await c.request("POST", "/v1/agent/heartbeat", {"source_id": sid}, "heartbeat")
        migrated += random.randint(50, 150) * 1000000
        n += 1
        await c.request("POST", "/v1/agent/progress", {
            "source_id": sid, "task_id": tid, "percent": min(79, n), "total_bytes": 10737418240,
            "migrated_bytes": migrated}, "progress")
        await asyncio.sleep(max(0, PERIOD - (time.monotonic() - t)))


async def operator(deadline):
    c = Conn()
    while time.monotonic() < deadline:
        off = random.randint(0, max(0, AGENTS - 50))
        await c.request("GET", "/v1/tasks?limit=50&offset=%d" % off, kind="list_tasks")
        await c.request("GET", "/v1/sources?limit=50&offset=%d&connection=connected" % off,
                        kind="list_sources")
        await asyncio.sleep(1)


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))] * 1000 if v else None


async def main():
    ready = []
    setup_deadline = time.monotonic() + 3600
    # Register in waves so set-up does not open 1000 handshakes at once.
    tasks = []
    for i in range(AGENTS):
        tasks.append(asyncio.create_task(agent(i, setup_deadline, ready)))
        if i % 50 == 49:
            while len(ready) < i - 25:
                await asyncio.sleep(0.05)
    while len(ready) < AGENTS:
        await asyncio.sleep(0.1)
    lat.clear()
    errors.clear()
    print("setup done: %d agents registered with running tasks" % AGENTS, file=sys.stderr)
    sys.stderr.flush()
    start = time.monotonic()
    # Tell the shell to start measuring CPU now.
    open(os.environ.get("BENCH_MARK", "/dev/null"), "w").write("%f\n" % time.time())
    deadline = start + SECONDS
    # The agents' loops use the set-up deadline; cut them at the end.
    ops = [asyncio.create_task(operator(deadline)) for _ in range(OPERATORS)]
    await asyncio.sleep(SECONDS)
    for t in tasks + ops:
        t.cancel()
    res = {"agents": AGENTS, "operators": OPERATORS, "seconds": SECONDS, "period_s": PERIOD}
    for k, v in sorted(lat.items()):
        res[k] = {"count": len(v), "errors": errors.get(k, 0), "p50_ms": round(pct(v, 0.5), 2),
                  "p99_ms": round(pct(v, 0.99), 2), "max_ms": round(max(v) * 1000, 2)}
    allv = [x for v in lat.values() for x in v]
    res["all"] = {"count": len(allv), "rate_per_s": round(len(allv) / SECONDS, 1),
                  "p50_ms": round(pct(allv, 0.5), 2), "p99_ms": round(pct(allv, 0.99), 2)}
    print(json.dumps(res, indent=1))


asyncio.run(main())
