#!/usr/bin/python3
# make check-vm, fleet part: the customer's side of the test, on the host (tests/vm/fleet-setup.sh).
# Usage: fleet-ctl.py CONFIG.json PORTFILE
# Listens on 127.0.0.1 at a free port (written to PORTFILE); the guest reaches it at 10.0.2.2
# through QEMU's user network. One request a connection, one line:
#   sign NONCE BASE64   the guest's `vhsmctl fleet enroll` bundle, checked and signed by
#                       `vhsm-byok fleet-sign` (the fleet CA, the customer's policy, the nonce)
#   revoke NAME         `vhsm-fleet revoke` of key NAME on the key manager (deactivated)
#   compromise NAME     the same with --compromised
# The answer: "ok" or "fail", a newline, then the certificate (sign) or the tool's output.
# Every request and its result goes to the log named in CONFIG. Test harness only.
import base64
import json
import os
import re
import socketserver
import subprocess
import sys
import tempfile

cfg = json.load(open(sys.argv[1]))
log = open(cfg["log"], "a", buffering=1)


def run(argv):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    log.write("$ %s\n%s(exit %d)\n" % (" ".join(argv), p.stdout.decode(errors="replace"),
                                       p.returncode))
    return p.returncode, p.stdout


def sign(nonce, b64):
    with tempfile.TemporaryDirectory(dir=cfg["dir"]) as d:
        bundle, cert = os.path.join(d, "enroll.json"), os.path.join(d, "cert.pem")
        with open(bundle, "wb") as f:
            f.write(base64.b64decode(b64, validate=True))
        rc, out = run([cfg["byok"], "fleet-sign", bundle, "--policy", cfg["policy"],
                       "--nonce", nonce, "--ca-cert", cfg["ca_cert"], "--ca-key", cfg["ca_key"],
                       "--trust-root", cfg["trust_root"], "--allow-test-root", "--out", cert])
        if rc != 0:
            return False, out
        return True, open(cert, "rb").read()


def revoke(name, compromised):
    uid = cfg["keys"].get(name)
    if not uid:
        return False, b"no such key\n"
    argv = [cfg["fleet"], "--server", cfg["endpoint"], "--ca", cfg["ca_cert"], "--cert",
            cfg["admin_cert"], "--key", cfg["admin_key"], "--timeout", "20000", "revoke", uid]
    if compromised:
        argv.insert(-2, "--compromised")
    rc, out = run(argv)
    return rc == 0, out


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline(1 << 20).decode("ascii", errors="replace").strip()
        log.write("request: %s\n" % line[:80])
        words = line.split(" ")
        try:
            if len(words) == 3 and words[0] == "sign" and re.fullmatch(r"[0-9a-f]{2,128}",
                                                                       words[1]):
                ok, out = sign(words[1], words[2])
            elif len(words) == 2 and words[0] in ("revoke", "compromise"):
                ok, out = revoke(words[1], words[0] == "compromise")
            else:
                ok, out = False, b"bad request\n"
        except Exception as e:  # the guest sees why; the harness goes on
            ok, out = False, ("%s\n" % e).encode()
        self.wfile.write(b"ok\n" if ok else b"fail\n")
        self.wfile.write(out)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Handler)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
srv.serve_forever()
