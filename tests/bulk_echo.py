#!/usr/bin/env python3
"""bulk_echo.py PORT - short writes, parked output and half-close against a
server on 127.0.0.1:PORT.

4 peers each send 4 MB and half-close, but read nothing for 0.5 s: the
server must park what it cannot write and stop reading them. Meanwhile a
ping-pong peer must still get its 20 answers. Then 100 peers send one
request and half-close at once (data and FIN in one read: an edge-triggered
server that stops at the short read never sees the EOF): each must get its
8 bytes back and then EOF. Finally every bulk peer must have got its 4 MB
back byte for byte. Exit 0 if all hold, 1 (an AssertionError naming the
check) if not, 2 on bad arguments."""
import os
import socket
import sys
import threading
import time

PEERS = 4
SIZE = 4 << 20


def bulk(port, results, i):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    data = os.urandom(SIZE)

    def send():
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)

    t = threading.Thread(target=send)
    t.start()
    time.sleep(0.5)
    back = b"".join(iter(lambda: s.recv(1 << 16), b""))
    t.join()
    results[i] = (len(back), back == data)


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        print("usage: bulk_echo.py PORT", file=sys.stderr)
        return 2
    port = int(sys.argv[1])
    results = [None] * PEERS
    threads = [threading.Thread(target=bulk, args=(port, results, i)) for i in range(PEERS)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    q = socket.create_connection(("127.0.0.1", port), timeout=2)
    for j in range(20):
        q.sendall(b"%08d" % j)
        assert q.recv(8) == b"%08d" % j, "ping stalled behind the bulk peers"
    hs = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(100)]
    for h in hs:
        h.sendall(b"abcdefgh")
        h.shutdown(socket.SHUT_WR)
    assert all(b"".join(iter(lambda: h.recv(64), b"")) == b"abcdefgh" for h in hs), \
        "a peer that half-closed right after its request was not echoed and closed"
    for t in threads:
        t.join()
    print(results)
    assert all(r == (SIZE, True) for r in results), results
    return 0


if __name__ == "__main__":
    sys.exit(main())
