#!/usr/bin/env python3
"""A stand-in for a Confluent-compatible Schema Registry, for development.

The tests run a real registry (deploy/local/apicurio.sh: Apicurio Registry,
without authentication); deploy/local/registry.sh runs this one, for trying
the worker's basic auth by hand and for offline work. It implements the part of Confluent's REST API that aftersale-worker and the
tests use, as Confluent documents it:

  POST /subjects/{subject}/versions  {"schema": "..."}  -> {"id": N}
       the same schema (by its parsed JSON) gets the same global id
  GET  /schemas/ids/{id}                               -> {"schema": "..."}
       404 {"error_code": 40403, "message": "Schema N not found"}
  GET  /subjects, GET /subjects/{subject}/versions
  GET  /subjects/{subject}/versions/{version|latest}
  PUT/GET /config[/{subject}]                          (compatibility: stored, not enforced)

The same paths are also served under /apis/ccompat/v7 (Apicurio's prefix).
With ASW_REGISTRY_USER_INFO=user:password every request needs that HTTP
basic auth (else 401, error_code 40101). State (ids, subjects) is kept in
<state>/registry.json, so a restart keeps every id, as a real registry does.
No compatibility checks: it accepts every valid JSON schema.

Standard library only. Usage: registry.py PORT STATE_DIR
"""
import base64
import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CT = "application/vnd.schemaregistry.v1+json"


class Store:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.schemas = []  # index i: id i+1 -> schema text
        self.subjects = {}  # subject -> [id, ...] (versions in order)
        self.config = {"": "BACKWARD"}
        if os.path.exists(path):
            with open(path) as f:
                d = json.load(f)
            self.schemas, self.subjects = d["schemas"], d["subjects"]
            self.config = d.get("config", self.config)

    def save(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"schemas": self.schemas, "subjects": self.subjects,
                       "config": self.config}, f)
        os.replace(tmp, self.path)

    def register(self, subject, text):
        canon = json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
        with self.lock:
            sid = None
            for i, s in enumerate(self.schemas):
                if json.dumps(json.loads(s), sort_keys=True, separators=(",", ":")) == canon:
                    sid = i + 1
            if sid is None:
                self.schemas.append(text)
                sid = len(self.schemas)
            versions = self.subjects.setdefault(subject, [])
            if sid not in versions:
                versions.append(sid)
            self.save()
            return sid


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    store = None
    user_info = None

    def log_message(self, fmt, *args):
        sys.stderr.write("registry.py: %s %s\n" % (self.address_string(), fmt % args))

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", CT)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, code, message):
        self.reply(status, {"error_code": code, "message": message})

    def route(self, method):
        if self.user_info:
            want = "Basic " + base64.b64encode(self.user_info.encode()).decode()
            if self.headers.get("Authorization") != want:
                return self.error(401, 40101, "Unauthorized")
        path = self.path.split("?", 1)[0]
        if path.startswith("/apis/ccompat/v7"):
            path = path[len("/apis/ccompat/v7"):]
        body = None
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            try:
                body = json.loads(self.rfile.read(n))
            except ValueError:
                return self.error(422, 42201, "Invalid JSON body")
        st = self.store
        m = re.fullmatch(r"/subjects/([^/]+)/versions", path)
        if m and method == "POST":
            if not isinstance(body, dict):
                return self.error(422, 42201, "Invalid body")
            text = body.get("schema")
            if body.get("schemaType", "AVRO") != "AVRO":
                return self.error(422, 42201, "Only AVRO schemas here")
            try:
                json.loads(text)
            except (TypeError, ValueError):
                return self.error(422, 42201, "Invalid schema")
            return self.reply(200, {"id": st.register(m.group(1), text)})
        if m and method == "GET":
            v = st.subjects.get(m.group(1))
            if v is None:
                return self.error(404, 40401, "Subject '%s' not found." % m.group(1))
            return self.reply(200, list(range(1, len(v) + 1)))
        m = re.fullmatch(r"/subjects/([^/]+)/versions/(latest|\d+)", path)
        if m and method == "GET":
            v = st.subjects.get(m.group(1))
            if v is None:
                return self.error(404, 40401, "Subject '%s' not found." % m.group(1))
            k = len(v) if m.group(2) == "latest" else int(m.group(2))
            if not 1 <= k <= len(v):
                return self.error(404, 40402, "Version %s not found." % m.group(2))
            sid = v[k - 1]
            return self.reply(200, {"subject": m.group(1), "version": k, "id": sid,
                                    "schema": st.schemas[sid - 1]})
        m = re.fullmatch(r"/schemas/ids/(\d+)", path)
        if m and method == "GET":
            sid = int(m.group(1))
            if not 1 <= sid <= len(st.schemas):
                return self.error(404, 40403, "Schema %d not found" % sid)
            return self.reply(200, {"schema": st.schemas[sid - 1]})
        if path == "/subjects" and method == "GET":
            return self.reply(200, sorted(st.subjects))
        m = re.fullmatch(r"/config(?:/([^/]+))?", path)
        if m and method in ("GET", "PUT"):
            key = m.group(1) or ""
            if method == "PUT":
                with st.lock:
                    st.config[key] = body.get("compatibility", "BACKWARD")
                    st.save()
            return self.reply(200, {"compatibilityLevel": st.config.get(key, st.config[""])})
        return self.error(404, 404, "HTTP 404 Not Found")

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")


def main():
    port, state = int(sys.argv[1]), sys.argv[2]
    os.makedirs(state, exist_ok=True)
    Handler.store = Store(os.path.join(state, "registry.json"))
    Handler.user_info = os.environ.get("ASW_REGISTRY_USER_INFO") or None
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    sys.stderr.write("registry.py: listening on 127.0.0.1:%d\n" % srv.server_address[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
