#!/usr/bin/env python3
"""install-server.py DIR - a loopback HTTP server for t0340-adapters-install.sh.

Serves the files of DIR on 127.0.0.1 at a free port and prints the port on
its first line of stdout. A path under /cut/ serves the same file but stops
after half of it while the headers promise the whole (Content-Length), as a
dropped connection would, so the test can check that an interrupted
download leaves nothing behind. Nothing else is served; it never reaches
beyond the machine.
"""
import http.server
import os
import sys

ROOT = os.path.abspath(sys.argv[1])


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        path = self.path.split("?", 1)[0]
        cut = path.startswith("/cut/")
        name = path[len("/cut/"):] if cut else path.lstrip("/")
        full = os.path.abspath(os.path.join(ROOT, name))
        if not full.startswith(ROOT + os.sep) or not os.path.isfile(full):
            self.send_error(404)
            return
        with open(full, "rb") as f:
            data = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2] if cut else data)
        self.wfile.flush()
        if cut:
            self.close_connection = True

    def log_message(self, fmt, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
