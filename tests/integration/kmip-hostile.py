# A hostile KMIP key manager for the client's negative tests: a real TLS server (mutual
# authentication with the test PKI) on 127.0.0.1 that misbehaves after the handshake in the way
# MODE names. Usage: kmip-hostile.py PKI MODE PORTFILE. It writes its port to PORTFILE and
# serves connections until killed.
#   reset     reads the request, then resets the connection (RST, no reply)
#   reset-early  resets the connection right after the handshake
#   huge      answers with a Response Message header announcing a 16 MiB body
#   slow      answers one byte of a valid header, then nothing, forever
#   escape    a refusal whose Result Message carries terminal control sequences
import socket
import ssl
import struct
import sys
import threading
import time

pki, mode, portfile = sys.argv[1:]

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
ctx.load_cert_chain(pki + "/server.pem", pki + "/server.key")
ctx.load_verify_locations(pki + "/ca.pem")
ctx.verify_mode = ssl.CERT_REQUIRED


def item(tag, typ, value):
    pad = (8 - len(value) % 8) % 8
    return struct.pack(">I", tag << 8 | typ)[0:4] + struct.pack(">I", len(value)) + value + b"\0" * pad


def structure(tag, *children):
    return item(tag, 0x01, b"".join(children))


def refusal(message):
    version = structure(0x420069, item(0x42006A, 0x02, struct.pack(">i", 1)),
                        item(0x42006B, 0x02, struct.pack(">i", 2)))
    header = structure(0x42007A, version, item(0x420092, 0x09, struct.pack(">q", int(time.time()))),
                       item(0x42000D, 0x02, struct.pack(">i", 1)))
    batch = structure(0x42000F, item(0x42007F, 0x05, struct.pack(">I", 1)),
                      item(0x42007E, 0x05, struct.pack(">I", 1)),
                      item(0x42007D, 0x07, message))
    return structure(0x42007B, header, batch)


def read_request(tls):
    head = b""
    while len(head) < 8:
        chunk = tls.recv(8 - len(head))
        if not chunk:
            return None
        head += chunk
    left = struct.unpack(">I", head[4:8])[0]
    while left > 0:
        chunk = tls.recv(min(left, 4096))
        if not chunk:
            return None
        left -= len(chunk)
    return head


def serve(conn):
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
        if mode == "reset-early" or (read_request(tls) is not None and mode == "reset"):
            tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            tls.close()
            return
        if mode == "huge":
            tls.sendall(bytes.fromhex("42007b01") + struct.pack(">I", 16 << 20))
        elif mode == "slow":
            tls.sendall(b"\x42")
        elif mode == "escape":
            tls.sendall(refusal(b"no such key\x1b[2K\rVERIFIED: key destroyed\x1b]0;owned\x07"))
        time.sleep(3600)
    except (OSError, ssl.SSLError):
        pass


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(8)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % srv.getsockname()[1])
import os  # noqa: E402
os.rename(portfile + ".tmp", portfile)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
