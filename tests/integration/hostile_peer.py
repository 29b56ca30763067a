#!/usr/bin/env python3
"""A hostile peer for `flotilla node`: speaks just enough CAF 0.17.6 BASP to misbehave.

Usage: hostile_peer.py MODE HOST PORT [ARG] [--cert C --key K --ca CA]
Prints one JSON line: what was sent and what the node did (closed after how long, or not).

Modes before any handshake (the guard must close them):
  huge-header       a client-handshake header announcing payload_len 0xfffffff0
  direct-first      a direct_message header (payload_len 2^31) as the first message
  garbage           1 KiB of random bytes
  empty-handshake   a client handshake with payload_len 0
  slowloris         a valid client handshake, 1 byte every 100 ms
  idle N            N connections that send nothing; reports when each was closed
Modes after a valid handshake (the node's CAF deserializes what follows):
  handshake-idle [S] a valid handshake, then nothing for up to S seconds (default 8)
  charbuf CLAIM     a message holding a std::vector<char> whose length field claims CLAIM bytes
  strvec N          a message holding a std::vector<std::string> of N empty strings (N+~20 bytes)
  nested DEPTH      a message nested DEPTH times in itself
TLS (give --cert/--key/--ca to present a client certificate):
  tls-handshake     TLS handshake, then a valid BASP handshake; reports whether TLS succeeded
  tls-idle          TLS handshake, then nothing
"""
import json
import os
import random
import socket
import ssl
import struct
import sys
import time

CLIENT_HANDSHAKE, DIRECT_MESSAGE = 0x01, 0x02


def header(op, payload_len, operation_data=0, source=0, dest=0, flags=0):
    return struct.pack(">BxxBIQQQ", op, flags, payload_len, operation_data, source, dest)


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def caf_string(s):
    b = s.encode()
    return varint(len(b)) + b


def read_exact(sock, n, deadline):
    buf = b""
    while len(buf) < n:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed by the node")
        buf += chunk
    return buf


def wait_closed(sock, limit):
    """Seconds until the node closes `sock` (reading and dropping what it sends), or None."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        sock.settimeout(max(0.01, limit - (time.monotonic() - start)))
        try:
            if not sock.recv(65536):
                return round(time.monotonic() - start, 2)
        except socket.timeout:
            continue
        except (ConnectionError, ssl.SSLError, OSError):
            return round(time.monotonic() - start, 2)
    return None


def connect(host, port, tls=None):
    sock = socket.create_connection((host, port), timeout=5)
    if tls is not None:
        sock = tls.wrap_socket(sock, server_hostname=host)
    return sock


def server_handshake(sock):
    """Reads the node's server handshake: its node id bytes and the published actor's id."""
    deadline = time.monotonic() + 5
    op, _flags, plen, _version, _src, _dst = struct.unpack(">BxxBIQQQ", read_exact(sock, 32, deadline))
    payload = read_exact(sock, plen, deadline)
    if op != 0x00:
        raise RuntimeError("expected a server handshake, got operation %d" % op)
    node_id = payload[:32]  # atom "default" (8), process id (4), host id (20)
    pos = 32
    count, shift = 0, 0
    while True:  # app identifiers: a varint count of strings
        b = payload[pos]
        pos += 1
        count |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    for _ in range(count):
        n, shift = 0, 0
        while True:
            b = payload[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        pos += n
    (aid,) = struct.unpack(">Q", payload[pos:pos + 8])
    return node_id, aid


def atom(text):
    """CAF 0.17's atom_value: 6 bits a character after a 0xF start."""
    table = " 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
    value = 0xF
    for c in text:
        value = (value << 6) | table.index(c)
    return value


def client_handshake_bytes():
    # A CAF client speaks first: its node id (kind "default", a process id, a random host id).
    payload = struct.pack(">QI", atom("default"), os.getpid()) + bytes(random.getrandbits(8) for _ in range(20))
    return header(CLIENT_HANDSHAKE, len(payload)) + payload


def handshake(sock):
    sock.sendall(client_handshake_bytes())
    _node_id, aid = server_handshake(sock)
    return aid


def message(type_name, body):
    """A caf::message of one element: type number 0, its names, then the element's bytes."""
    return b"\x00\x00" + caf_string("@<>+" + type_name) + body


def send_message(sock, aid, msg):
    payload = varint(0) + msg  # no forwarding stages, then the message
    sock.sendall(header(DIRECT_MESSAGE, len(payload), dest=aid) + payload)


def nested(depth):
    level = b"\x00\x00" + caf_string("@<>+@message")
    return level * depth + b"\x00\x00" + caf_string("@<>")


def main():
    args = sys.argv[1:]
    opts = {}
    for flag in ("--cert", "--key", "--ca"):
        if flag in args:
            i = args.index(flag)
            opts[flag] = args[i + 1]
            del args[i:i + 2]
    mode, host, port = args[0], args[1], int(args[2])
    arg = args[3] if len(args) > 3 else None
    random.seed(1234)
    out = {"mode": mode}
    tls = None
    if mode.startswith("tls"):
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        tls.check_hostname = False
        if "--ca" in opts:
            tls.load_verify_locations(opts["--ca"])
        else:
            tls.verify_mode = ssl.CERT_NONE
        if "--cert" in opts:
            tls.load_cert_chain(opts["--cert"], opts["--key"])

    if mode == "idle":
        n = int(arg or 200)
        socks = [connect(host, port) for _ in range(n)]
        out["opened"] = n
        start = time.monotonic()
        open_ = list(range(n))
        closed_at = {}
        while open_ and time.monotonic() - start < 20:
            still = []
            for i in open_:
                socks[i].setblocking(False)
                try:
                    data = socks[i].recv(65536)
                    if not data:
                        closed_at[i] = time.monotonic() - start
                        continue
                except BlockingIOError:
                    pass
                except OSError:
                    closed_at[i] = time.monotonic() - start
                    continue
                still.append(i)
            open_ = still
            time.sleep(0.05)
        out["still_open_after_20s"] = len(open_)
        out["last_closed_s"] = round(max(closed_at.values()), 2) if closed_at else None
        for s in socks:
            s.close()
    elif mode in ("huge-header", "direct-first", "garbage", "empty-handshake"):
        sock = connect(host, port)
        if mode == "huge-header":
            sock.sendall(header(CLIENT_HANDSHAKE, 0xFFFFFFF0))
        elif mode == "direct-first":
            sock.sendall(header(DIRECT_MESSAGE, 1 << 31, dest=1))
        elif mode == "garbage":
            sock.sendall(bytes(random.getrandbits(8) for _ in range(1024)))
        else:
            sock.sendall(header(CLIENT_HANDSHAKE, 0))
        out["closed_after_s"] = wait_closed(sock, 15)
    elif mode == "slowloris":
        sock = connect(host, port)
        frame = client_handshake_bytes()
        start = time.monotonic()
        sent = 0
        closed = None
        try:
            for b in frame:
                sock.sendall(bytes([b]))
                sent += 1
                time.sleep(0.1)
                sock.setblocking(False)
                try:
                    if sock.recv(65536) == b"":
                        closed = time.monotonic() - start
                        break
                except BlockingIOError:
                    pass
                finally:
                    sock.setblocking(True)
        except OSError:
            closed = time.monotonic() - start
        if closed is None:
            rest = wait_closed(sock, 15)
            closed = None if rest is None else time.monotonic() - start
        out["bytes_sent"] = sent
        out["frame_bytes"] = len(frame)
        out["closed_after_s"] = None if closed is None else round(closed, 2)
    elif mode in ("handshake-idle", "charbuf", "strvec", "nested"):
        sock = connect(host, port)
        aid = handshake(sock)
        out["published_actor"] = aid
        if mode == "charbuf":
            claim = int(arg)
            send_message(sock, aid, message("@charbuf", varint(claim) + b"\x00" * 16))
            out["claim"] = claim
        elif mode == "strvec":
            n = int(arg)
            send_message(sock, aid, message("@strvec", varint(n) + b"\x00" * n))
            out["strings"] = n
        elif mode == "nested":
            body = nested(int(arg))
            out["bytes"] = len(body)
            send_message(sock, aid, body)
        out["closed_after_s"] = wait_closed(sock, float(arg) if mode == "handshake-idle" and arg else 8)
    elif mode in ("tls-handshake", "tls-idle"):
        try:
            sock = connect(host, port, tls)
            out["tls"] = "ok"
            if mode == "tls-handshake":
                # A certificate the node refuses may only show when the node first speaks.
                handshake(sock)
                out["basp"] = "ok"
            out["closed_after_s"] = wait_closed(sock, 15)
        except (ssl.SSLError, ConnectionError, OSError, RuntimeError) as e:
            out["tls"] = "refused: %s" % (str(e)[:120] or type(e).__name__)
    else:
        raise SystemExit("unknown mode " + mode)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
