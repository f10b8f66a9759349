#!/usr/bin/python3
"""A small HTTP egress proxy for tests: tools/fake/proxy.py --port N.

    tools/fake/proxy.py --port N [--host 127.0.0.1]
                        [--user U --password P] [--quiet]

CONNECT host:port opens a tunnel (counted in "tunnels"); a request with an
absolute URI (GET http://host:port/path) is forwarded to that host as one
request on its own connection (counted in "requests").  With --user and
--password both need "Proxy-Authorization: Basic ..." with them, else 407
(counted in "auth_failed").  Requests in origin form are its controls:

    GET /_proxy/stats   {"tunnels","requests","auth_failed","connections",
                         "targets":{"host:port":n}}
    GET /_proxy/reset   zero the counters

It never logs or returns the credentials it was given or was sent.
Python 3 standard library only.
"""

import argparse
import base64
import json
import select
import socket
import socketserver
import sys
import threading


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.tunnels = 0
        self.requests = 0
        self.auth_failed = 0
        self.connections = 0
        self.targets = {}

    def add(self, what, target=None):
        with self.lock:
            setattr(self, what, getattr(self, what) + 1)
            if target:
                self.targets[target] = self.targets.get(target, 0) + 1

    def json(self):
        with self.lock:
            return json.dumps({
                "tunnels": self.tunnels, "requests": self.requests,
                "auth_failed": self.auth_failed,
                "connections": self.connections,
                "targets": dict(self.targets),
            }, separators=(",", ":")).encode()


def pipe(a, b):
    """Copy both ways until either side closes."""
    socks = [a, b]
    try:
        while True:
            r, _, _ = select.select(socks, [], [], 60)
            if not r:
                return
            for s in r:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)
    except OSError:
        return


class Handler(socketserver.BaseRequestHandler):

    def reply(self, status, body=b"", headers=()):
        head = "HTTP/1.1 %s\r\n" % status
        for name, value in headers:
            head += "%s: %s\r\n" % (name, value)
        head += "Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
        self.request.sendall(head.encode() + body)

    def log(self, text):
        if not self.server.quiet:
            sys.stderr.write("fake-proxy: %s\n" % text)
            sys.stderr.flush()

    def handle(self):
        st = self.server.stats
        st.add("connections")
        conn = self.request
        conn.settimeout(60)
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
            if len(buf) > 65536:
                return
        head, rest = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            return self.reply("400 Bad Request")
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
        lower = {n.lower(): v for n, v in headers}

        if target.startswith("/_proxy/"):
            if target == "/_proxy/reset":
                st.reset()
                return self.reply("200 OK", b'{"ok":true}')
            if target == "/_proxy/stats":
                return self.reply("200 OK", st.json())
            return self.reply("404 Not Found")

        if self.server.auth is not None:
            got = lower.get("proxy-authorization", "")
            if got != "Basic " + self.server.auth:
                st.add("auth_failed")
                self.log("%s %s: 407" % (method, target.split("?")[0]))
                return self.reply("407 Proxy Authentication Required",
                                  headers=[("Proxy-Authenticate",
                                            'Basic realm="fake-proxy"')])

        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            try:
                up = socket.create_connection((host.strip("[]"), int(port)),
                                              timeout=10)
            except (OSError, ValueError):
                return self.reply("502 Bad Gateway")
            st.add("tunnels", target)
            self.log("CONNECT %s" % target)
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                up.sendall(rest)
            up.settimeout(None)
            conn.settimeout(None)
            pipe(conn, up)
            up.close()
            return

        if not target.startswith("http://"):
            return self.reply("400 Bad Request")

        hostport, _, path = target[len("http://"):].partition("/")
        host, _, port = hostport.rpartition(":")
        if not host:
            host, port = hostport, "80"
        try:
            up = socket.create_connection((host.strip("[]"), int(port)),
                                          timeout=10)
        except (OSError, ValueError):
            return self.reply("502 Bad Gateway")
        st.add("requests", hostport)
        self.log("%s http://%s/%s" % (method, hostport,
                                        path.split("?")[0]))
        out = "%s /%s %s\r\n" % (method, path, version)
        for name, value in headers:
            if name.lower() in ("proxy-authorization", "proxy-connection",
                                "connection", "keep-alive"):
                continue
            out += "%s: %s\r\n" % (name, value)
        out += "Connection: close\r\n\r\n"
        length = int(lower.get("content-length", "0") or 0)
        while len(rest) < length:
            data = conn.recv(65536)
            if not data:
                break
            rest += data
        up.sendall(out.encode("latin-1") + rest)
        # the reply as it comes, until the upstream closes
        while True:
            data = up.recv(65536)
            if not data:
                break
            conn.sendall(data)
        up.close()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()

    server = Server((args.host, args.port), Handler)
    server.stats = Stats()
    server.quiet = args.quiet
    server.auth = None
    if args.user is not None:
        server.auth = base64.b64encode(
            ("%s:%s" % (args.user, args.password or "")).encode()).decode()
    if not args.quiet:
        sys.stderr.write("fake-proxy: listening on %s:%d%s\n"
                         % (args.host, server.server_address[1],
                            " (Basic auth)" if server.auth else ""))
        sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
