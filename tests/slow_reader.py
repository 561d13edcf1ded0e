#!/usr/bin/env python3
"""slow_reader.py PORT - a peer that writes 8 MB through a 4 KB receive
buffer while it reads slowly (3,000 bytes every 0.2 ms). Exit 0 when every
byte came back in order, 1 when the echo differs, 2 on bad arguments."""
import os
import socket
import sys
import threading
import time


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        print("usage: slow_reader.py PORT", file=sys.stderr)
        return 2
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", int(sys.argv[1])))
    sent = os.urandom(8 << 20)
    writer = threading.Thread(target=s.sendall, args=(sent,))
    writer.start()
    got = bytearray()
    while len(got) < len(sent):
        chunk = s.recv(3000)
        if not chunk:
            break
        got += chunk
        time.sleep(0.0002)
    writer.join()
    if bytes(got) != sent:
        print(f"slow_reader: {len(got)} bytes back of {len(sent)}, or out of order")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
