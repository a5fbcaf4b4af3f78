# A stand-in for AMD KDS and Azure THIM serving recorded answers on 127.0.0.1 (port 0: the
# kernel picks a free one). Usage: kds-server.py ROOT PORTFILE LOG. GET /a/b?q answers the
# file ROOT/a/b (the query is logged, not used); ROOT/a/b.status holding an HTTP status makes
# it answer that status instead. Each request is logged as "PATH?QUERY metadata=HEADER".
import http.server
import os
import sys
import urllib.parse

root, portfile, log = sys.argv[1:]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        with open(log, "a") as f:
            f.write("%s?%s metadata=%s\n" % (u.path, u.query, self.headers.get("Metadata", "")))
        p = os.path.normpath(os.path.join(root, u.path.lstrip("/")))
        if not p.startswith(root + "/"):
            self.send_error(404)
            return
        if os.path.exists(p + ".status"):
            self.send_error(int(open(p + ".status").read()))
            return
        if not os.path.isfile(p):
            self.send_error(404)
            return
        body = open(p, "rb").read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except BrokenPipeError:  # the client stopped reading at its size cap
            pass

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
