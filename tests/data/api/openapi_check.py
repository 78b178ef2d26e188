#!/usr/bin/env python3
"""Check rehost server answers against docs/openapi.json.

  openapi_check.py DOC                                  check the document itself
  openapi_check.py DOC METHOD PATH STATUS BODYFILE [CONTENT-TYPE]
                                                        check one answer

The document's schemas are JSON Schema 2020-12 (OpenAPI 3.1), checked
with jsonschema's Draft202012Validator (Debian bookworm's
python3-jsonschema 4.10 has it). $refs are resolved within the document:
the schema to apply is reached by a "$ref" placed at the document's root,
which works the same with old (RefResolver) and new (referencing)
versions of jsonschema. signclient.py imports this module and checks
every answer the data-file tests receive; run.sh calls it per request.
"""
import json
import re
import sys
from urllib.parse import unquote

import jsonschema
from jsonschema import Draft202012Validator

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class Mismatch(Exception):
    pass


def _ptr(*parts):
    return "#/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _deref(doc, obj):
    """Follow a "$ref" to another part of the document (response objects,
    parameters); schemas are left to the validator."""
    seen = 0
    while isinstance(obj, dict) and "$ref" in obj:
        ref = obj["$ref"]
        if not ref.startswith("#/"):
            raise Mismatch("external $ref %s" % ref)
        obj = doc
        for p in ref[2:].split("/"):
            obj = obj[p.replace("~1", "/").replace("~0", "~")]
        seen += 1
        if seen > 20:
            raise Mismatch("$ref loop at %s" % ref)
    return obj


def match_path(doc, path):
    """The templated path of the document that PATH matches, or None."""
    path = unquote(path.split("?", 1)[0])
    segs = path.strip("/").split("/")
    best = None
    for tmpl in doc["paths"]:
        t = tmpl.strip("/").split("/")
        if len(t) != len(segs):
            continue
        literal = 0
        for a, b in zip(t, segs):
            if re.fullmatch(r"\{[^}]+\}", a):
                if b == "":
                    break
            elif a != b:
                break
            else:
                literal += 1
        else:
            if best is None or literal > best[0]:
                best = (literal, tmpl)
    return best and best[1]


def _validate(doc, pointer, body, where):
    root = dict(doc)
    root["$ref"] = pointer
    root.pop("$id", None)
    v = Draft202012Validator(root, format_checker=None)
    errs = sorted(v.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errs:
        e = errs[0]
        at = "/" + "/".join(str(p) for p in e.absolute_path)
        raise Mismatch("%s: does not match %s at %s: %s%s" % (
            where, pointer, at, e.message[:400],
            " (and %d more)" % (len(errs) - 1) if len(errs) > 1 else ""))


def check_response(doc, method, path, status, text, content_type=None):
    """Raise Mismatch unless TEXT (the answer to METHOD PATH with STATUS)
    matches the document."""
    status = str(status)
    where = "%s %s => %s" % (method, path, status)
    tmpl = match_path(doc, path)
    op = doc["paths"][tmpl].get(method.lower()) if tmpl else None
    if op is None:
        # No such route or method: the server answers with an error object.
        if not status.startswith(("4", "5")):
            raise Mismatch("%s: %s is not in the document" % (where, "route" if tmpl is None else "method"))
        return _validate(doc, _ptr("components", "schemas", "Error"), json.loads(text), where)
    resps = op["responses"]
    key = status if status in resps else status[0] + "XX" if status[0] + "XX" in resps else "default"
    if key not in resps:
        raise Mismatch("%s: status %s is not documented for %s %s" % (where, status, method.upper(), tmpl))
    resp = resps[key]
    base = ["paths", tmpl, method.lower(), "responses", key]
    if "$ref" in resp:
        base = resp["$ref"][2:].split("/")
        base = [p.replace("~1", "/").replace("~0", "~") for p in base]
        resp = _deref(doc, resp)
    content = resp.get("content", {})
    if content_type is None:
        # Not known (rehost ctl raw prints only the body): JSON when it
        # parses as JSON, else the first other documented type.
        try:
            json.loads(text)
            content_type = "application/json"
        except ValueError:
            content_type = next((m for m in content if not m.startswith("application/json")),
                                "application/json")
    ct = content_type.split(";")[0].strip()
    media = next((m for m in content if m.split(";")[0].strip() == ct), None)
    if media is None:
        raise Mismatch("%s: content type %s is not documented (%s)" % (where, ct, ", ".join(content) or "no content"))
    if ct != "application/json":
        return
    try:
        body = json.loads(text)
    except ValueError as e:
        raise Mismatch("%s: answer is not JSON: %s" % (where, e))
    _validate(doc, _ptr(*base, "content", media, "schema"), body, where)


def _check_query(doc, tmpl, method, op, path):
    """Every query parameter of an accepted request is declared, and its
    value (converted for integer and number schemas) matches the schema."""
    from urllib.parse import parse_qsl, urlsplit
    params = {}
    item = doc["paths"][tmpl]
    for i, p in enumerate(item.get("parameters", [])):
        params[_deref(doc, p)["name"], _deref(doc, p)["in"]] = (_deref(doc, p), ["paths", tmpl, "parameters", i])
    for i, p in enumerate(op.get("parameters", [])):
        params[_deref(doc, p)["name"], _deref(doc, p)["in"]] = (_deref(doc, p), ["paths", tmpl, method, "parameters", i])
    for name, value in parse_qsl(urlsplit(path).query, keep_blank_values=True):
        where = "%s %s (query parameter %s)" % (method.upper(), path, name)
        if (name, "query") not in params:
            raise Mismatch("%s: not declared in the document" % where)
        p, _ = params[name, "query"]
        schema = _deref(doc, p.get("schema", {}))
        v = value
        t = schema.get("type")
        try:
            if t == "integer":
                v = int(value)
            elif t == "number":
                v = float(value)
        except ValueError:
            raise Mismatch("%s: %r is not a %s" % (where, value, t))
        if "schema" in p:
            _validate(doc, _param_schema_ptr(doc, tmpl, method, name), v, where)


def _param_schema_ptr(doc, tmpl, method, name):
    item = doc["paths"][tmpl]
    for base, plist in ((["paths", tmpl, method, "parameters"], item[method].get("parameters", [])),
                        (["paths", tmpl, "parameters"], item.get("parameters", []))):
        for i, p in enumerate(plist):
            if "$ref" in p:
                if _deref(doc, p)["name"] == name:
                    return p["$ref"] + "/schema"
            elif p["name"] == name:
                return _ptr(*base, i, "schema")
    raise Mismatch("no parameter %s" % name)


def check_request(doc, method, path, text):
    """Raise Mismatch unless the query parameters of PATH and the request
    body TEXT match the document. Used for requests the server accepted
    (2xx), so that the document is not stricter than the server."""
    tmpl = match_path(doc, path)
    op = doc["paths"][tmpl].get(method.lower()) if tmpl else None
    where = "%s %s (request body)" % (method, path)
    if op is not None:
        _check_query(doc, tmpl, method.lower(), op, path)
    if op is None or "requestBody" not in op:
        if text.strip():
            raise Mismatch("%s: the document has no request body for this operation" % where)
        return
    rb = _deref(doc, op["requestBody"])
    if not text.strip():
        if rb.get("required"):
            raise Mismatch("%s: accepted without the required body" % where)
        return
    _validate(doc, _ptr("paths", tmpl, method.lower(), "requestBody", "content", "application/json",
                        "schema"), json.loads(text), where)


def _schemas(node, at):
    """Every schema position of the document (for the meta-schema check)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "schema" and isinstance(v, dict):
                yield at + [k], v
            elif k == "schemas" and at == ["components"]:
                for n, s in v.items():
                    yield at + [k, n], s
            else:
                yield from _schemas(v, at + [k])
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _schemas(v, at + [i])


def check_document(doc):
    """Raise Mismatch when the document is not a plausible OpenAPI 3.1 one."""
    try:
        from openapi_spec_validator import validate as osv  # not in Debian bookworm
    except ImportError:
        osv = None
    if osv is not None:
        try:
            osv(doc)
        except Exception as e:
            raise Mismatch("openapi-spec-validator: %s" % e)
    if not str(doc.get("openapi", "")).startswith("3.1."):
        raise Mismatch("openapi must be 3.1.x")
    for k in ("info", "paths", "components"):
        if k not in doc:
            raise Mismatch("missing %s" % k)
    for at, s in _schemas(doc, []):
        try:
            Draft202012Validator.check_schema(s)
        except jsonschema.exceptions.SchemaError as e:
            raise Mismatch("schema /%s is invalid: %s" % ("/".join(map(str, at)), e.message))
    for tmpl, item in doc["paths"].items():
        names = set(re.findall(r"\{([^}]+)\}", tmpl))
        for m, op in item.items():
            if m not in METHODS:
                continue
            if not op.get("responses"):
                raise Mismatch("%s %s has no responses" % (m, tmpl))
            params = [_deref(doc, p) for p in item.get("parameters", []) + op.get("parameters", [])]
            declared = {p["name"] for p in params if p["in"] == "path"}
            if declared != names:
                raise Mismatch("%s %s: path parameters %s, declared %s" % (m, tmpl, sorted(names), sorted(declared)))
            for code, r in op["responses"].items():
                r = _deref(doc, r)
                if "description" not in r:
                    raise Mismatch("%s %s %s: response without description" % (m, tmpl, code))
            for sec in op.get("security", doc.get("security", [])):
                for name in sec:
                    if name not in doc["components"].get("securitySchemes", {}):
                        raise Mismatch("%s %s: unknown security scheme %s" % (m, tmpl, name))
    # Every $ref must resolve.
    def refs(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref" and isinstance(v, str):
                    yield v
                else:
                    yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)
    for r in refs(doc):
        try:
            _deref(doc, {"$ref": r})
        except (KeyError, IndexError, TypeError):
            raise Mismatch("unresolved $ref %s" % r)


def main():
    if len(sys.argv) not in (2, 6, 7):
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    try:
        if len(sys.argv) == 2:
            check_document(doc)
        else:
            with open(sys.argv[5]) as f:
                text = f.read()
            check_response(doc, sys.argv[2], sys.argv[3], sys.argv[4], text,
                           sys.argv[6] if len(sys.argv) == 7 else None)
    except Mismatch as e:
        sys.exit("openapi: %s" % e)


if __name__ == "__main__":
    main()
