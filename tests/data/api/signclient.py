#!/usr/bin/env python3
"""An independent implementation of the rehost request signature (AWS
Signature Version 4, docs/api.md) with Python's standard library, used by
the tests as a second client and by bench/server.sh as the simulated
agents.

    signclient.py URL CACERT AK SK bulk-register N PREFIX
        registers N agents PREFIX-0000.. over one kept-alive connection
        and prints the HTTP status of each that is not 2xx
    signclient.py URL CACERT AK SK api VARSFILE FILE.api...
        runs request/answer data files (format: run.sh); ${VARS} come from
        the environment and captures; all variables end in VARSFILE
"""
import hashlib
import hmac
import http.client
import json
import os
import ssl
import sys
import time
import urllib.parse

UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"


def enc(s, keep_slash=False):
    safe = UNRESERVED + ("/" if keep_slash else "")
    return "".join(c if c in safe else "%%%02X" % b
                   for c, b in ((chr(b), b) for b in s.encode()))


def canonical(method, path, query, headers, body):
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    q = "&".join("%s=%s" % kv for kv in sorted((enc(k), enc(v)) for k, v in pairs))
    names = sorted(headers)
    hdrs = "".join("%s:%s\n" % (n, " ".join(headers[n].split())) for n in names)
    # SigV4 outside S3: the path is encoded as it travels, then once more.
    uri = enc(enc(urllib.parse.unquote(path), True), True)
    return "\n".join([method, uri, q, hdrs, ";".join(names), hashlib.sha256(body).hexdigest()])


def hm(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sign(ak, sk, method, path_query, host, body, now=None, nonce=None, region="default"):
    """AWS Signature Version 4 for service "rehost", with rehost's nonce."""
    path, _, query = path_query.partition("?")
    date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now if now is not None else time.time()))
    nonce = nonce or os.urandom(16).hex()
    headers = {"host": host, "x-amz-date": date, "x-rehost-nonce": nonce}
    canon = canonical(method, path, query, headers, body)
    scope = "%s/%s/rehost/aws4_request" % (date[:8], region)
    sts = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (date, scope, hashlib.sha256(canon.encode()).hexdigest())
    key = hm(hm(hm(hm(("AWS4" + sk).encode(), date[:8]), region), "rehost"), "aws4_request")
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    return {"Host": host, "X-Amz-Date": date, "X-Rehost-Nonce": nonce,
            "Authorization": "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"
                             % (ak, scope, ";".join(sorted(headers)), sig),
            "Content-Type": "application/json"}


class Client:
    def __init__(self, url, cacert, ak, sk):
        u = urllib.parse.urlsplit(url)
        self.host = u.netloc
        ctx = ssl.create_default_context(cafile=cacert)
        self.conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=120)
        self.ak, self.sk = ak, sk

    def request(self, method, path, doc=None):
        body = json.dumps(doc).encode() if doc is not None else b""
        self.conn.request(method, path, body=body or None,
                          headers=sign(self.ak, self.sk, method, path, self.host, body))
        r = self.conn.getresponse()
        data = r.read()
        return r.status, json.loads(data) if data else None


def jq_path(doc, path):
    """A small subset of jq: .a.b[0].c"""
    import re
    for key, idx in re.findall(r'\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]', path):
        if doc is None:
            return None
        doc = doc.get(key) if key else (doc[int(idx)] if int(idx) < len(doc) else None)
    return doc


def expand(s, env):
    import re
    return re.sub(r'\$\{([A-Z_][A-Z0-9_]*)\}', lambda m: env.get(m.group(1), ""), s)


def run_api(c, files, env, varsfile):
    """Run request/answer data files (format: tests/data/api/run.sh)."""
    import re
    # Every answer is also checked against the OpenAPI description
    # (docs/openapi.json, or $REHOST_OPENAPI) by openapi_check.py.
    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import openapi_check
    docpath = env.get("REHOST_OPENAPI") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "docs", "openapi.json")
    with open(docpath, "rb") as fd:
        docbytes = fd.read()
    spec = json.loads(docbytes)
    try:
        openapi_check.check_document(spec)
    except openapi_check.Mismatch as e:
        sys.exit("%s: %s" % (docpath, e))
    captured = set()
    for f in files:
        lines = open(f).read().split("\n")
        blocks, cur = [], []
        for n, line in enumerate(lines, 1):
            if line.startswith("#"):
                continue
            if line.strip() == "":
                if cur:
                    blocks.append(cur)
                cur = []
                continue
            cur.append((n, line))
        if cur:
            blocks.append(cur)
        for block in blocks:
            n0, first = block[0]
            first = expand(first, env)
            method, path = first.split(" ", 1)
            body, want, checks, i = [], None, [], 1
            while i < len(block) and not block[i][1].startswith("=> "):
                body.append(expand(block[i][1], env))
                i += 1
            if i == len(block):
                sys.exit("%s:%d: exchange without '=> STATUS'" % (f, n0))
            want = int(block[i][1][3:])
            checks = [expand(l, env) for _, l in block[i + 1:]]
            data = "\n".join(body).encode()
            c.conn.request(method, path, body=data or None,
                           headers=sign(c.ak, c.sk, method, path, c.host, data))
            r = c.conn.getresponse()
            text = r.read().decode()
            where = "%s:%d: %s %s" % (os.path.basename(f), n0, method, path)
            if r.status != want:
                sys.exit("%s: HTTP %d, expected %d\n%s" % (where, r.status, want, text))
            try:
                openapi_check.check_response(spec, method, path, r.status, text,
                                             r.getheader("Content-Type"))
                if 200 <= r.status < 300:
                    openapi_check.check_request(spec, method, path, data.decode())
            except openapi_check.Mismatch as e:
                sys.exit("%s: %s\n%s" % (where, e, text))
            if path == "/v1/openapi.json" and text.encode() != docbytes:
                sys.exit("%s: the served document differs from %s" % (where, docpath))
            for chk in checks:
                if chk.startswith("~ "):
                    if not re.search(chk[2:], text, re.M):
                        sys.exit("%s: answer does not match /%s/\n%s" % (where, chk[2:], text))
                elif chk.startswith("!~ "):
                    if re.search(chk[3:], text, re.M):
                        sys.exit("%s: answer matches /%s/\n%s" % (where, chk[3:], text))
                elif chk.startswith("$"):
                    var, jp = [x.strip() for x in chk[1:].split("=", 1)]
                    v = jq_path(json.loads(text), jp)
                    env[var] = "" if v is None else str(v)
                    captured.add(var)
                else:
                    sys.exit("%s: bad check line '%s'" % (where, chk))
    with open(varsfile, "w") as out:
        for k, v in env.items():
            if k in captured and re.fullmatch(r"[A-Z_][A-Z0-9_]*", k) and "\n" not in v and "'" not in v:
                out.write("%s='%s'\n" % (k, v))


def main():
    url, cacert, ak, sk, cmd = sys.argv[1:6]
    c = Client(url, cacert, ak, sk)
    if cmd == "bulk-register":
        n, prefix = int(sys.argv[6]), sys.argv[7]
        bad = 0
        for i in range(n):
            name = "%s-%04d" % (prefix, i)
            st, _ = c.request("POST", "/v1/agent/register", {
                "agent_id": name, "inventory": {
                    "host": {"hostname": name, "firmware": "bios"},
                    "disks": [{"name": "vda", "size_bytes": 10737418240}]}})
            if st // 100 != 2:
                print(name, st)
                bad += 1
        sys.exit(1 if bad else 0)
    elif cmd == "api":
        run_api(c, sys.argv[7:], dict(os.environ), sys.argv[6])
    elif cmd == "get":
        st, doc = c.request("GET", sys.argv[6])
        print(json.dumps(doc))
        sys.exit(0 if st // 100 == 2 else 1)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
