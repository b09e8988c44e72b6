"""A webhook receiver for Alertmanager: each POST body is appended, as one JSON line with the
time it arrived, to the file named by the first argument."""
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

OUT = sys.argv[1]


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with open(OUT, "a", encoding="utf-8") as out:
            out.write(json.dumps({"received": time.time(), "payload": json.loads(body or b"{}")}) + "\n")
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", 9099), Receiver).serve_forever()
