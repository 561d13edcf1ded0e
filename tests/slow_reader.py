#!/usr/bin/env python3
"""slow_reader.py PORT [--park] - a peer that writes 8 MB through a 4 KB
receive buffer while it reads slowly (3,000 bytes every 0.2 ms). With
--park it writes 4 MB and reads nothing for a while, as a second client
asks for 20 echoes of 8 bytes, each wanted within 2 s; then it reads.
Exit 0 when every byte came back in order (and, parked, every echo came
in time), 1 when not, 2 on bad arguments."""
import os
import socket
import sys
import threading
import time


def prompt_echoes(port):
    """20 echoes of 8 bytes on a connection of its own: None, or what failed."""
    p = socket.create_connection(("127.0.0.1", port))
    p.settimeout(2.0)
    try:
        for i in range(20):
            frame = os.urandom(8)
            p.sendall(frame)
            got = b""
            while len(got) < 8:
                chunk = p.recv(8 - len(got))
                if not chunk:
                    return f"echo {i}: the server closed"
                got += chunk
            if got != frame:
                return f"echo {i}: {got!r} for {frame!r}"
    except socket.timeout:
        return f"echo {i}: none within 2 s while a reader was parked"
    finally:
        p.close()
    return None


def main():
    park = sys.argv[2:] == ["--park"]
    if len(sys.argv) not in (2, 3) or not sys.argv[1].isdigit() or (len(sys.argv) == 3 and not park):
        print("usage: slow_reader.py PORT [--park]", file=sys.stderr)
        return 2
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", int(sys.argv[1])))
    sent = os.urandom((16 if park else 8) << 20)
    writer = threading.Thread(target=s.sendall, args=(sent,))
    writer.start()
    if park:
        time.sleep(1.0)         # the server fills its side and stops reading
        why = prompt_echoes(int(sys.argv[1]))
        if why:
            print(f"slow_reader: prompt client: {why}")
            os._exit(1)         # the writer thread waits on a full socket
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
