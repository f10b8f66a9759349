"""The test-app side of the fake: what the suites need besides CometChat.

  /_fake/echo    a generic app endpoint: the session backend stand-in, a
                 slow or failing app, big, streamed or gzipped pages
  /_fake/fanout  n concurrent GETs to nginx (token coalescing, load)
  /_fake/race    a slow and a fast request, in that order (non-blocking)

A mixin for cometchat.Handler (it uses its _send, _json and state); see
tools/README.md for the parameters.
"""

import gzip
import http.client
import threading
import time

from cometchat import compact, truthy


class TestAppRoutes:
    """ctl_* routes served under /_fake/ next to the CometChat controls."""

    def ctl_echo(self, q):
        st = self.server.state
        with st.lock:
            st.echo_calls += 1

        def one(name, default=None):
            return q[name][0] if name in q else default

        status = int(one("status", "200"))
        delay = int(one("delay_ms", "0"))
        if truthy(one("echo_headers", "0")):
            body = compact({
                "method": self.command, "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
            })
        else:
            body = (one("body", "") + "x" * int(one("size", "0"))
                    + one("suffix", "")).encode("utf-8")
        ctype = one("content_type")
        if ctype is None:
            head = body.lstrip()[:1]
            ctype = ("application/json" if head in (b"{", b"[")
                     else "text/html; charset=utf-8")
        hdrs = []
        for h in q.get("header", []):
            name, _, value = h.partition(":")
            hdrs.append((name.strip(), value.strip()))
        if truthy(one("gzip", "0")):
            body = gzip.compress(body)
            hdrs.append(("Content-Encoding", "gzip"))
        if delay:
            time.sleep(delay / 1000.0)
        if truthy(one("chunked", "0")):
            return self._stream(status, body, ctype, hdrs,
                                int(one("chunk_size", "1024")),
                                int(one("chunk_delay_ms", "0")))
        return self._send(status, body, ctype, hdrs)

    def _stream(self, status, body, ctype, hdrs, size, delay):
        """Send body in pieces: chunked for HTTP/1.1, else until close."""
        chunked = self.request_version == "HTTP/1.1"
        if not chunked:
            self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for name, value in hdrs:
            self.send_header(name, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()
        if self.command == "HEAD":
            return status
        size = max(1, size)
        for i in range(0, len(body), size):
            if i and delay:
                time.sleep(delay / 1000.0)
            piece = body[i:i + size]
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                self.wfile.write(piece)
            self.wfile.flush()
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        return status

    def ctl_fanout(self, q):
        port = int(q["port"][0])
        path = q.get("path", ["/"])[0]
        n = int(q.get("n", ["10"])[0])
        conns = max(1, min(n, int(q.get("conns", [str(n)])[0])))
        host = q.get("host", ["127.0.0.1"])[0]
        timeout = float(q.get("timeout", ["30"])[0])
        capture = q.get("capture_header", [None])[0]
        hdrs = request_headers(q, "cookie", "header")
        results = run_fanout(host, port, path, n, conns, hdrs, timeout,
                             capture)
        return self._json(200, results)

    def ctl_race(self, q):
        port = int(q["port"][0])
        host = q.get("host", ["127.0.0.1"])[0]
        gap = int(q.get("gap_ms", ["200"])[0])
        timeout = float(q.get("timeout", ["30"])[0])
        slow = q["slow"][0]
        fast = q["fast"][0]
        order = []
        out = {}
        lock = threading.Lock()

        def go(which, path, hdrs):
            t0 = time.monotonic()
            try:
                status, body, _ = http_get(host, port, path, hdrs, timeout)
                out[which + "_status"] = status
                out[which + "_body"] = body[:200].decode("utf-8", "replace")
            except (OSError, http.client.HTTPException) as e:
                out[which + "_status"] = None
                out[which + "_error"] = repr(e)
            out[which + "_ms"] = int((time.monotonic() - t0) * 1000)
            with lock:
                order.append(which)

        ts = threading.Thread(target=go, args=(
            "slow", slow, request_headers(q, "cookie_slow", "header_slow")))
        tf = threading.Thread(target=go, args=(
            "fast", fast, request_headers(q, "cookie_fast", "header_fast")))
        ts.start()
        time.sleep(gap / 1000.0)
        tf.start()
        ts.join(timeout + 5)
        tf.join(timeout + 5)
        reply = {"first": order[0] if order else None,
                 "slow_status": out.pop("slow_status", None),
                 "fast_status": out.pop("fast_status", None),
                 "order": order}
        reply.update(sorted(out.items()))
        return self._json(200, reply)


def request_headers(q, cookie_name, header_name):
    hdrs = []
    if q.get(cookie_name):
        hdrs.append(("Cookie", q[cookie_name][0]))
    for h in q.get(header_name, []):
        name, _, value = h.partition(":")
        hdrs.append((name.strip(), value.strip()))
    return hdrs


def http_get(host, port, path, hdrs, timeout, conn=None):
    own = conn is None
    if own:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        for name, value in hdrs:
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, body, resp
    finally:
        if own:
            conn.close()


def run_fanout(host, port, path, n, conns, hdrs, timeout, capture):
    jobs = list(range(n))
    lock = threading.Lock()
    statuses = {}
    bodies = []
    seen = set()
    header_values = {}
    errors = []
    start = threading.Barrier(conns)

    def worker():
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            start.wait(timeout)
        except threading.BrokenBarrierError:
            pass
        while True:
            with lock:
                if not jobs:
                    break
                job = str(jobs.pop())
            # "{i}" in the path or a header: the request's number
            jpath = path.replace("{i}", job)
            jhdrs = [(k, v.replace("{i}", job)) for k, v in hdrs]
            for attempt in (0, 1):
                reused = conn.sock is not None
                try:
                    status, body, resp = http_get(host, port, jpath, jhdrs,
                                                  timeout, conn)
                    if resp.will_close:
                        conn.close()
                    break
                except (http.client.RemoteDisconnected, BrokenPipeError,
                        ConnectionResetError) as e:
                    conn.close()
                    if reused and attempt == 0:
                        continue     # a stale keep-alive connection
                    status = e
                    break
                except (OSError, http.client.HTTPException) as e:
                    conn.close()
                    status = e
                    break
            with lock:
                if isinstance(status, Exception):
                    errors.append(repr(status))
                    continue
                key = str(status)
                statuses[key] = statuses.get(key, 0) + 1
                if body not in seen:
                    seen.add(body)
                    bodies.append(body)
                if capture:
                    v = resp.getheader(capture)
                    v = "" if v is None else v
                    header_values[v] = header_values.get(v, 0) + 1
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reply = {
        "n": n,
        "statuses": statuses,
        "distinct_bodies": len(bodies),
        "bodies_sample": [b[:200].decode("utf-8", "replace")
                          for b in bodies[:3]],
        "errors": len(errors),
    }
    if errors:
        reply["errors_sample"] = errors[:3]
    if capture:
        reply["header_values"] = header_values
    return reply
