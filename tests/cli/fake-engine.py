#!/usr/bin/env python3
"""fake-engine.py - an OpenAI-compatible engine that replays fixtures, for
the CLI tests of `loco ask/chat --engine` (tests/cli/t0820-engine-remote.sh).

    fake-engine.py FIXTURES ENGINE LOG [--key KEY]

FIXTURES/ENGINE/routes.json maps "METHOD /path" to a reply: status (200),
type (application/json), headers, and the body as "file" (in the engine's
folder) or "body"; "*" answers any other path. The same files drive the fake
in tests/test-remote.c. Every request is appended to LOG as one JSON line:
method, path, the Authorization header, the body (parsed when JSON). With
--key, every path but /health wants "Authorization: Bearer KEY" and answers
401 (errors/openai-401.json) without it. Prints
"fake-engine: listening on http://127.0.0.1:PORT" once ready; runs until
killed.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def main():
    args = sys.argv[1:]
    key = None
    if "--key" in args:
        i = args.index("--key")
        key = args[i + 1]
        del args[i:i + 2]
    fixtures, engine, log = Path(args[0]), args[1], Path(args[2])
    routes = json.loads((fixtures / engine / "routes.json").read_text())

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):  # quiet
            pass

        def reply(self, route):
            body = route.get("body", "").encode()
            if "file" in route:
                body = (fixtures / engine / route["file"]).read_bytes()
            self.send_response(route.get("status", 200))
            self.send_header("Content-Type", route.get("type", "application/json"))
            for name, value in route.get("headers", {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def serve(self, method):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            auth = self.headers.get("Authorization", "")
            with log.open("a") as f:
                f.write(json.dumps({"method": method, "path": self.path, "auth": auth,
                                    "body": body}) + "\n")
            name = f"{method} {self.path}"
            if key and self.path != "/health" and auth != f"Bearer {key}":
                self.reply({"status": 401, "file": "../errors/openai-401.json"})
                return
            self.reply(routes.get(name, routes.get("*", {"status": 404})))

        def do_GET(self):
            self.serve("GET")

        def do_POST(self):
            self.serve("POST")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"fake-engine: listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
