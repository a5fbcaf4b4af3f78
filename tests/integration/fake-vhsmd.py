#!/usr/bin/python3
# A stand-in for vhsmd that answers every request with one scripted reply, for tests of what
# clients do with a daemon's text: python3 fake-vhsmd.py SOCK ERRNO MESSAGE_HEX [BUSY]
# Binds SOCK (SOCK_SEQPACKET), then for each connection answers each request with the
# request's op (reply bit set) and id, ERRNO, MESSAGE (the bytes of MESSAGE_HEX, sent as they
# are: control characters included) and, with BUSY=1, the busy marker. Runs until killed.
import socket, struct, sys, threading

sock_path, errno_, message = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
busy = len(sys.argv) > 4 and sys.argv[4] == "1"

def field(tag, val):
    return struct.pack("<HHI", tag, 0, len(val)) + val + b"\0" * ((4 - len(val) % 4) % 4)

def serve(c):
    with c:
        while True:
            try:
                req = c.recv(70000)
            except OSError:
                return
            if len(req) < 16:
                return
            magic, version, op, rid, _ = struct.unpack("<IHHII", req[:16])
            body = field(1, struct.pack("<i", errno_)) + field(2, message)
            if busy:
                body += field(25, struct.pack("<I", 1))
            c.send(struct.pack("<IHHII", magic, 1, op | 0x8000, rid, 16 + len(body)) + body)

s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sock_path)
s.listen(16)
while True:
    conn, _ = s.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
