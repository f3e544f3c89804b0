#!/usr/bin/python3
"""Fairness check: N keep-alive connections, responses counted per connection.

wrk and locust report totals and latency percentiles over the requests that
finished. A connection the server never answers (a worker stuck on one
keep-alive client while others queue, an accept queue nobody drains) adds
nothing to those figures and is invisible. This client keeps N connections
busy, each sending its next request as soon as the previous response has been
read, and reports how many responses each connection got and the longest wait
any of them saw (including a request still unanswered at the end).

A connection that the server closes (`Connection: close`, or a server without
keep-alive such as gunicorn's sync worker) is reopened in the same slot, so a
slot stands for one client that keeps coming back.

    /usr/bin/python3 bench/fairness.py [--conns 64] [--seconds 5] URL

Prints one JSON line. Single-threaded (selectors), so its own throughput is
bounded by one core: it measures who gets served, not how fast.
"""

import argparse
import errno
import json
import selectors
import socket
import statistics
import sys
import time
from urllib.parse import urlsplit

RECV = 65536


class Slot:
    __slots__ = ("index", "sock", "out", "inbuf", "sent_at", "responses", "reconnects",
                 "connect_errors", "max_wait", "retry_at", "head", "body_left", "chunked",
                 "close_delimited", "close_after")

    def __init__(self, index):
        self.index = index
        self.sock = None
        self.out = b""
        self.inbuf = bytearray()
        self.sent_at = None
        self.responses = 0
        self.reconnects = -1  # the first connect is not a reconnect
        self.connect_errors = 0
        self.max_wait = 0.0
        self.retry_at = 0.0
        self.reset_response()

    def reset_response(self):
        self.head = None          # parsed (status, headers) once the head is in
        self.body_left = 0
        self.chunked = False
        self.close_delimited = False
        self.close_after = False


class ProtocolError(Exception):
    pass


def parse_head(raw):
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ProtocolError(f"bad status line {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"bad header line {line!r}")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return parts[0], int(parts[1]), headers


class Client:
    def __init__(self, url, conns, seconds):
        u = urlsplit(url)
        self.addr = (u.hostname, u.port or 80)
        target = (u.path or "/") + (f"?{u.query}" if u.query else "")
        self.request = (f"GET {target} HTTP/1.1\r\nHost: {u.netloc}\r\n"
                        f"User-Agent: wsgihost-bench-fairness\r\n\r\n").encode()
        self.seconds = seconds
        self.sel = selectors.DefaultSelector()
        self.slots = [Slot(i) for i in range(conns)]
        self.status_errors = 0
        self.protocol_errors = 0

    # connection management ------------------------------------------------
    def connect(self, slot, now):
        slot.reconnects += 1
        slot.reset_response()
        slot.inbuf.clear()
        s = socket.socket(socket.AF_INET6 if ":" in self.addr[0] else socket.AF_INET,
                          socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rc = s.connect_ex(self.addr)
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            slot.connect_errors += 1
            slot.retry_at = now + 0.05
            return
        slot.sock = s
        self.send_request(slot, now)

    def drop(self, slot, now, retry=False):
        if slot.sock is not None:
            self.sel.unregister(slot.sock)
            slot.sock.close()
            slot.sock = None
        if retry:
            slot.retry_at = now + 0.05
        else:
            self.connect(slot, now)

    def send_request(self, slot, now):
        slot.out = self.request
        slot.sent_at = now
        events = selectors.EVENT_WRITE
        try:
            self.sel.register(slot.sock, events, slot)
        except KeyError:
            self.sel.modify(slot.sock, events, slot)

    # I/O ----------------------------------------------------------------------
    def on_writable(self, slot, now):
        try:
            n = slot.sock.send(slot.out)
        except BlockingIOError:
            return
        except OSError:
            slot.connect_errors += 1
            self.drop(slot, now, retry=True)
            return
        slot.out = slot.out[n:]
        if not slot.out:
            self.sel.modify(slot.sock, selectors.EVENT_READ, slot)

    def on_readable(self, slot, now):
        try:
            data = slot.sock.recv(RECV)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            if slot.head is not None and slot.close_delimited:
                self.finish(slot, now, eof=True)
            else:
                # Closed before a full response: the server dropped a
                # keep-alive connection. Reopen and re-send.
                self.drop(slot, now)
            return
        slot.inbuf += data
        try:
            self.consume(slot, now)
        except ProtocolError as e:
            self.protocol_errors += 1
            print(f"fairness: slot {slot.index}: {e}", file=sys.stderr)
            self.drop(slot, now)

    def consume(self, slot, now):
        buf = slot.inbuf
        while True:
            if slot.head is None:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > 65536:
                        raise ProtocolError("response head too long")
                    return
                version, status, headers = parse_head(bytes(buf[:end]))
                del buf[:end + 4]
                slot.head = (status, headers)
                if status >= 400:
                    self.status_errors += 1
                conn = ",".join(headers.get("connection", [])).lower()
                slot.close_after = "close" in conn or (version == "HTTP/1.0"
                                                       and "keep-alive" not in conn)
                te = ",".join(headers.get("transfer-encoding", [])).lower()
                if status in (204, 304) or 100 <= status < 200:
                    slot.body_left = 0
                elif "chunked" in te:
                    slot.chunked = True
                    slot.body_left = -1  # size line next
                elif "content-length" in headers:
                    slot.body_left = int(headers["content-length"][0])
                else:
                    slot.close_delimited = True
                    slot.body_left = -1
            if slot.close_delimited:
                buf.clear()
                return
            if slot.chunked:
                if slot.body_left == -1:
                    end = buf.find(b"\r\n")
                    if end < 0:
                        return
                    size = int(bytes(buf[:end]).split(b";")[0], 16)
                    del buf[:end + 2]
                    if size == 0:
                        slot.body_left = -2  # trailers until an empty line
                    else:
                        slot.body_left = size + 2  # data and its CRLF
                if slot.body_left == -2:
                    end = buf.find(b"\r\n")
                    if end < 0:
                        return
                    line = bytes(buf[:end])
                    del buf[:end + 2]
                    if line:
                        continue
                    self.finish(slot, now)
                    if slot.sock is None or slot.head is not None:
                        return
                    continue
                take = min(slot.body_left, len(buf))
                del buf[:take]
                slot.body_left -= take
                if slot.body_left == 0:
                    slot.body_left = -1
                    continue
                return
            take = min(slot.body_left, len(buf))
            del buf[:take]
            slot.body_left -= take
            if slot.body_left > 0:
                return
            self.finish(slot, now)
            if slot.sock is None or slot.head is not None:
                return

    def finish(self, slot, now, eof=False):
        slot.responses += 1
        if slot.sent_at is not None:
            slot.max_wait = max(slot.max_wait, now - slot.sent_at)
        status = slot.head[0]
        close = slot.close_after or eof
        slot.reset_response()
        if status >= 100 and status < 200:
            return
        if close:
            self.drop(slot, now)
        else:
            self.send_request(slot, now)

    # main loop ---------------------------------------------------------------
    def run(self):
        start = time.monotonic()
        deadline = start + self.seconds
        for slot in self.slots:
            self.connect(slot, start)
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            for key, mask in self.sel.select(timeout=min(0.05, deadline - now)):
                slot = key.data
                now = time.monotonic()
                if slot.sock is None or key.fileobj is not slot.sock:
                    continue
                if mask & selectors.EVENT_WRITE:
                    self.on_writable(slot, now)
                elif mask & selectors.EVENT_READ:
                    self.on_readable(slot, now)
            now = time.monotonic()
            for slot in self.slots:
                if slot.sock is None and slot.retry_at and now >= slot.retry_at:
                    slot.retry_at = 0.0
                    self.connect(slot, now)
        end = time.monotonic()
        for slot in self.slots:
            if slot.sock is not None and slot.sent_at is not None:
                # A request still unanswered at the end counts as a wait too.
                slot.max_wait = max(slot.max_wait, end - slot.sent_at)
            if slot.sock is not None:
                self.sel.unregister(slot.sock)
                slot.sock.close()
        return self.report(end - start)

    def report(self, elapsed):
        counts = [s.responses for s in self.slots]
        total = sum(counts)
        squares = sum(c * c for c in counts)
        return {
            "conns": len(counts),
            "seconds": round(elapsed, 3),
            "responses": total,
            "rps": total / elapsed if elapsed else 0.0,
            "min": min(counts),
            "median": statistics.median(counts),
            "max": max(counts),
            "starved": sum(1 for c in counts if c == 0),
            # Jain's index: 1.0 when every connection got the same number of
            # responses, 1/n when one connection got them all.
            "jain": (total * total) / (len(counts) * squares) if squares else 0.0,
            "max_wait_ms": round(max(s.max_wait for s in self.slots) * 1000, 1),
            "reconnects": sum(max(s.reconnects, 0) for s in self.slots),
            "connect_errors": sum(s.connect_errors for s in self.slots),
            "status_errors": self.status_errors,
            "protocol_errors": self.protocol_errors,
            "per_conn": counts,
        }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url")
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    print(json.dumps(Client(args.url, args.conns, args.seconds).run()))


if __name__ == "__main__":
    main()
