#!/usr/bin/python3
"""The operator at the guest's serial console, for run-initramfs.sh: connects to QEMU's console
socket, and each time PROMPT (a substring) appears, types the passphrase read from PASSFILE and
Enter. Prints what it did; exits when QEMU closes the console.
Usage: console-type.py SOCKET PROMPT PASSFILE"""
import socket
import sys
import time


def connect(path, seconds=60):
    deadline = time.monotonic() + seconds
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main():
    path, prompt, passfile = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
    with open(passfile, "rb") as f:
        secret = f.read().strip()
    s = connect(path)
    seen = b""
    typed = 0
    while True:
        data = s.recv(4096)
        if not data:
            break
        seen += data
        # Answer each prompt once, when it is the newest text on the console.
        while prompt in seen:
            seen = seen[seen.index(prompt) + len(prompt):]
            time.sleep(0.5)
            s.sendall(secret + b"\n")
            typed += 1
            print(f"typed the passphrase at prompt {typed}", flush=True)
        seen = seen[-len(prompt):]
    print(f"console closed after {typed} prompt(s)", flush=True)


if __name__ == "__main__":
    main()
