"""CometChat's REST API v3, as the module uses it, with a control interface.

The calls the module makes (create user, create auth token) plus the two
it is about to make (update user for profile sync, delete user for a smoke
check), answered the way CometChat does (docs/cometchat-api.md), with
injectable delays, errors, rate limits, garbage and dropped connections
(/_fake/set), counters (/_fake/stats) and seeding (/_fake/seed_user).
With --tls-port it serves the same API over HTTPS as well (TLSServer:
the controls stay on the plain port), counting connections and TLS
handshakes, and can switch certificates or stall handshakes at run time.
Python 3 standard library only.  Started through tools/fake/run; see
tools/README.md for the routes.
"""

import copy
import json
import re
import secrets
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


OPS = ("create_user", "update_user", "delete_user", "create_token")

UID_RE = re.compile(r"[A-Za-z0-9_-]+")
UID_MAX = 100
NAME_MAX = 100
URL_MAX = 3000
BODY_MAX = 10 * 1024
TOKENS_KEPT = 100
# request bytes kept; the rest of a bigger body is read and dropped
READ_MAX = 16 * 1024 * 1024

VALIDATION_MSG = "Failed to validate the data sent with the request."


def now():
    return int(time.time())


def php_json(obj, php=True):
    """Encode as Laravel does by default: ASCII only, slashes escaped."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=php)
    if php:
        text = text.replace("/", "\\/")
    return text.encode("utf-8")


def compact(obj):
    """Control replies: compact, so tests can match "create_user":1."""
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


def truthy(value):
    return value in (True, 1, "1", "true", "on", "yes")


class Fail(Exception):
    """A CometChat error reply."""

    def __init__(self, status, code, message, details=None, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or []


class State:
    """Everything the fake remembers; guarded by one lock."""

    def __init__(self, api_key, app_id):
        self.lock = threading.Lock()
        self.default_api_key = api_key
        self.app_id = app_id
        self.reset()

    def reset(self):
        self.api_key = self.default_api_key
        self.users = {}
        # uid -> [{"authToken", "createdAt"}], oldest first
        self.tokens = {}
        self.calls = {op: 0 for op in OPS}
        self.calls["other"] = 0
        self.calls["total"] = 0
        self.echo_calls = 0
        self.in_flight = 0
        self.max_concurrency = 0
        # a call still running across a reset must not count against
        # the new in_flight when it ends
        self.generation = getattr(self, "generation", 0) + 1
        self.last_apikey_ok = None
        self.last_headers = {}
        self.last_request = {}
        self.window_start = 0
        self.window_count = 0
        # accepted connections per listener; TLS handshakes by outcome
        self.connections = {"http": 0, "tls": 0}
        self.tls = {"handshakes": 0, "resumed": 0, "failed": 0,
                    "stalled": 0, "last_error": None}
        self.tls_ctx = None     # a tls_cert set through /_fake/set
        self.b = {
            "delay": {},          # op -> ms
            "fail": {},           # op -> {status, code, message, times}
            "garbage": {},        # op -> {times, body}
            "ratelimit": {},      # op -> {retry_after, times}
            "drop": {},           # op -> {times}
            "close": {},          # op -> {times}: reply, then close
            "rate_limit": 10000,  # advertised and enforced, per minute
            "ratelimit_headers": "old",
            "exists_status": 400,
            "token_reuse": False,
            "minimal_errors": False,
            "php_json": True,
            "tls_cert": None,     # PEM file served instead of --tls-cert
            "tls_stall": False,   # accept, never answer the handshake
        }


def take(table, op):
    """The behaviour entry for op (or `any`), consuming one use of it."""
    for key in (op, "any"):
        entry = table.get(key)
        if entry is None:
            continue
        times = entry.get("times")
        if times is not None:
            if times <= 0:
                continue
            entry["times"] = times - 1
        return entry
    return None


def route(method, path):
    """Map a /v3 request to (op, uid, known route); op None when the route
    exists but not for this method."""
    parts = path.split("/")[2:]     # drop "", "v3"
    if parts and parts[-1] == "":
        parts = parts[:-1]
    if parts == ["users"]:
        return ({"POST": "create_user"}.get(method), None, True)
    if len(parts) == 2 and parts[0] == "users":
        uid = urllib.parse.unquote(parts[1])
        return ({"PUT": "update_user",
                 "DELETE": "delete_user"}.get(method), uid, True)
    if len(parts) == 3 and parts[0] == "users" and parts[2] == "auth_tokens":
        uid = urllib.parse.unquote(parts[1])
        return ({"POST": "create_token"}.get(method), uid, True)
    return (None, None, False)



class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-cometchat/1.0"
    # headers and body go out in separate writes: avoid Nagle stalls
    disable_nagle_algorithm = True

    # -- plumbing ---------------------------------------------------------

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        pass

    def log_request(self, code="-", size="-"):
        pass

    def _log(self, status, op, started):
        if self.server.quiet:
            return
        path = redact_path(self.path)
        ms = (time.monotonic() - started) * 1000
        sys.stderr.write("fake-cometchat: %s %s %s %s %dms\n"
                         % (self.command, path, status, op or "-", ms))
        sys.stderr.flush()

    def _read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    break
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:
                        trailer = self.rfile.readline(65537)
                        if trailer in (b"\r\n", b"\n", b""):
                            break
                    break
                data = self.rfile.read(size)
                self.rfile.readline(65537)
                total += len(data)
                if total <= READ_MAX:
                    chunks.append(data)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(min(length, READ_MAX))
        left = length - len(data)
        while left > 0:
            got = self.rfile.read(min(left, 65536))
            if not got:
                break
            left -= len(got)
        return data

    def _send(self, status, body, ctype="application/json", headers=()):
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, str(value))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        self.wfile.flush()
        return status

    def _json(self, status, obj, headers=()):
        return self._send(status, compact(obj), headers=headers)

    def _dispatch(self):
        started = time.monotonic()
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path
        status = None
        op = None
        try:
            if path == "/v3" or path.startswith("/v3/"):
                op, status = self._rest(path, parsed.query, body)
            elif path.startswith("/_fake/"):
                status = self._control(path[len("/_fake/"):], parsed.query)
            else:
                status = self._json(404, {"error": "not found"})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            status = "reset"
        self._log(status, op, started)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _dispatch
    do_OPTIONS = _dispatch

    # -- REST -------------------------------------------------------------

    def _rest(self, path, query, body):
        st = self.server.state
        method = self.command
        op, uid, known = route(method, path)
        headers = {}
        for name, value in self.headers.items():
            name = name.lower()
            if name == "apikey":
                value = "<redacted>"
            headers[name] = (headers[name] + ", " + value
                             if name in headers else value)
        key = self.headers.get("apikey")

        with st.lock:
            st.calls[op or "other"] += 1
            st.calls["total"] += 1
            st.in_flight += 1
            st.max_concurrency = max(st.max_concurrency, st.in_flight)
            generation = st.generation
            st.last_apikey_ok = key is not None and key == st.api_key
            st.last_headers = headers
            try:
                shown = json.loads(body) if body else None
            except ValueError:
                shown = body[:2000].decode("utf-8", "replace")
            st.last_request = {"op": op, "method": method, "path": path,
                               "query": query, "body": shown}
            b = st.b
            delay = b["delay"].get(op, b["delay"].get("any", 0))

        try:
            if delay:
                time.sleep(delay / 1000.0)
            return op, self._rest_reply(op, uid, known, key, query, body,
                                        generation)
        finally:
            with st.lock:
                if st.generation == generation:
                    st.in_flight -= 1

    def _rest_reply(self, op, uid, known, key, query, body, generation):
        st = self.server.state
        with st.lock:
            b = st.b
            # only the behaviour that fires uses up one of its times; a
            # call delayed past a reset (a test's slow call outliving its
            # test) answers plainly, leaving the next test's behaviours
            dropped = limited = failed = garbage = None
            fires = op if st.generation == generation else None
            if fires:
                dropped = take(b["drop"], op)
            if fires and dropped is None:
                limited = take(b["ratelimit"], op)
            if fires and dropped is None and limited is None:
                failed = take(b["fail"], op)
            if fires and dropped is None and limited is None \
                    and failed is None:
                garbage = take(b["garbage"], op)
            if fires and dropped is None \
                    and take(b["close"], op) is not None:
                self.close_connection = True
            t = now()
            window = t - t % 60
            if window != st.window_start:
                st.window_start = window
                st.window_count = 0
            st.window_count += 1
            limit = b["rate_limit"]
            remaining = max(0, limit - st.window_count)
            over = st.window_count > limit
            reset_at = window + 60
            style = b["ratelimit_headers"]
            php = b["php_json"]
            minimal = b["minimal_errors"]

        rl = []
        if style in ("old", "both"):
            rl += [("X-Rate-Limit", limit),
                   ("X-Rate-Limit-Remaining", remaining)]
        if style in ("new", "both"):
            rl += [("X-RateLimit-Limit", limit),
                   ("X-RateLimit-Remaining", remaining)]

        if dropped is not None:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return "dropped"

        try:
            if limited is not None or over:
                if limited is not None:
                    retry = int(limited["retry_after"])
                    reset_at = now() + retry
                else:
                    retry = max(1, reset_at - now())
                hdrs = [("Retry-After", retry)]
                if style in ("old", "both"):
                    hdrs += [("X-Rate-Limit", limit),
                             ("X-Rate-Limit-Remaining", 0),
                             ("X-Rate-Limit-Reset", reset_at)]
                if style in ("new", "both"):
                    hdrs += [("X-RateLimit-Limit", limit),
                             ("X-RateLimit-Remaining", 0),
                             ("X-RateLimit-Reset", reset_at)]
                raise Fail(429, "ERR_TOO_MANY_REQUESTS",
                           "Too many requests. Please try again after "
                           "%d seconds." % retry, headers=hdrs)

            if failed is not None:
                raise Fail(failed["status"], failed["code"],
                           failed["message"], headers=rl)

            if garbage is not None:
                return self._send(200, garbage["body"].encode("utf-8"),
                                  "application/json", rl)

            if key is None or key.strip() == "":
                raise Fail(401, "AUTH_ERR_EMPTY_APIKEY",
                           "Failed to authenticate the request. The apikey "
                           "header is missing or empty.")
            if key != st.api_key:
                # CometChat quotes the key it was given; so does the fake,
                # which lets tests catch a module that logs the message
                raise Fail(401, "AUTH_ERR_APIKEY_NOT_FOUND",
                           "The key %s does not exist. Please use correct "
                           "apiKey." % key)

            if not known:
                raise Fail(404, "ERR_ROUTE_NOT_FOUND",
                           "The requested route does not exist.")
            if op is None:
                raise Fail(405, "ERR_METHOD_NOT_ALLOWED",
                           "The %s method is not supported for this route."
                           % self.command)

            data = None
            if body.strip():
                if len(body) > BODY_MAX:
                    raise Fail(400, "ERR_BAD_REQUEST",
                               "The request body must not be greater than "
                               "10 KB.")
                try:
                    data = json.loads(body.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    raise Fail(400, "ERR_BAD_REQUEST",
                               "The request body is not valid JSON.")
                if not isinstance(data, dict):
                    raise Fail(400, "ERR_BAD_REQUEST",
                               "The request body must be a JSON object.")

            reply = getattr(self, "op_" + op)(uid, data or {},
                                              urllib.parse.parse_qs(query))
            return self._send(200, php_json(reply, php), "application/json",
                              rl)

        except Fail as e:
            err = {"message": e.message}
            if not minimal:
                err["devMessage"] = e.message
                err["source"] = "chat-api"
            err["code"] = e.code
            if e.details:
                err["details"] = e.details
            return self._send(e.status, php_json({"error": err}, php),
                              "application/json", e.headers or rl)

    # -- the operations (called without the lock held) --------------------

    def _path_uid(self, uid):
        if not uid or len(uid) > UID_MAX or not UID_RE.fullmatch(uid):
            raise Fail(400, "ERR_INVALID_UID",
                       "The uid %s is invalid. A uid may contain only "
                       "letters, numbers, dashes and underscores, at most "
                       "100 characters." % uid)
        return uid.lower()

    def _not_found(self, uid):
        return Fail(404, "ERR_UID_NOT_FOUND",
                    "The uid %s not found. Make sure you have created a "
                    "user with uid %s." % (uid, uid))

    def _check_fields(self, data, details, creating):
        for field, limit in (("name", NAME_MAX), ("avatar", URL_MAX),
                             ("link", URL_MAX), ("role", 100),
                             ("statusMessage", 1000)):
            if field not in data or (not creating and data[field] is None):
                continue
            value = data[field]
            if field == "name" and (value is None or
                                    (isinstance(value, str)
                                     and not value.strip())):
                details.setdefault(field, []).append(
                    "The name field is required.")
            elif not isinstance(value, str):
                details.setdefault(field, []).append(
                    "The %s must be a string." % field)
            elif len(value) > limit:
                details.setdefault(field, []).append(
                    "The %s may not be greater than %d characters."
                    % (field, limit))
        if "metadata" in data and not isinstance(data["metadata"], dict):
            details.setdefault("metadata", []).append(
                "The metadata must be an object.")
        if "tags" in data and not (isinstance(data["tags"], list) and all(
                isinstance(t, str) for t in data["tags"])):
            details.setdefault("tags", []).append(
                "The tags must be an array of strings.")

    def _mint(self, st, uid):
        """Create a token for uid; caller holds the lock."""
        t = now()
        token = "%s_%d%s" % (uid, t, secrets.token_hex(16))
        lst = st.tokens.setdefault(uid, [])
        lst.append({"authToken": token, "createdAt": t})
        del lst[:-TOKENS_KEPT]
        return {"uid": uid, "authToken": token, "createdAt": t}

    def op_create_user(self, _uid, data, _q):
        st = self.server.state
        details = {}
        uid = data.get("uid")
        if isinstance(uid, int) and not isinstance(uid, bool):
            uid = str(uid)
        if uid is None or uid == "":
            details["uid"] = ["The uid field is required."]
        elif not isinstance(uid, str):
            details["uid"] = ["The uid must be a string."]
        if "name" not in data:
            details["name"] = ["The name field is required."]
        self._check_fields(data, details, True)
        if not details and (len(uid) > UID_MAX or not UID_RE.fullmatch(uid)):
            msg = []
            if not UID_RE.fullmatch(uid):
                msg.append("The uid may only contain letters, numbers, "
                           "dashes and underscores.")
            if len(uid) > UID_MAX:
                msg.append("The uid may not be greater than 100 characters.")
            raise Fail(400, "ERR_INVALID_UID",
                       "The uid %s is invalid." % uid, {"uid": msg})
        if details:
            raise Fail(400, "ERR_BAD_REQUEST", VALIDATION_MSG, details)
        uid = uid.lower()
        user = {"uid": uid, "name": data["name"]}
        for field in ("link", "avatar", "metadata", "statusMessage"):
            if data.get(field) is not None:
                user[field] = data[field]
        user["status"] = "offline"
        user["role"] = data.get("role") or "default"
        user["createdAt"] = now()
        if data.get("tags"):
            user["tags"] = data["tags"]
        with st.lock:
            if uid in st.users:
                raise Fail(st.b["exists_status"], "ERR_UID_ALREADY_EXISTS",
                           "The uid %s already exists. Please use another "
                           "uid or try after permanently deleting the user."
                           % uid)
            st.users[uid] = user
            reply = dict(user)
            if truthy(data.get("withAuthToken")):
                reply["authToken"] = self._mint(st, uid)["authToken"]
        return {"data": reply}

    def op_update_user(self, uid, data, _q):
        st = self.server.state
        uid = self._path_uid(uid)
        details = {}
        self._check_fields(data, details, False)
        unset = data.get("unset", [])
        if not isinstance(unset, list):
            details.setdefault("unset", []).append(
                "The unset must be an array.")
        if details:
            raise Fail(400, "ERR_BAD_REQUEST", VALIDATION_MSG, details)
        with st.lock:
            user = st.users.get(uid)
            if user is None:
                raise self._not_found(uid)
            for field in ("name", "avatar", "link", "role", "metadata",
                          "tags", "statusMessage"):
                if data.get(field) is not None:
                    user[field] = data[field]
            for field in unset:
                if field in ("avatar", "link", "metadata", "tags",
                             "statusMessage"):
                    user.pop(field, None)
                elif field == "role":
                    user["role"] = "default"
            user["updatedAt"] = now()
            return {"data": dict(user)}

    def op_delete_user(self, uid, _data, _q):
        st = self.server.state
        uid = self._path_uid(uid)
        with st.lock:
            if st.users.pop(uid, None) is None:
                raise self._not_found(uid)
            st.tokens.pop(uid, None)
        return {"data": {"success": True,
                         "message": "User with uid %s has been deleted "
                                    "successfully." % uid}}

    def op_create_token(self, uid, data, _q):
        st = self.server.state
        uid = self._path_uid(uid)
        if "force" in data and not isinstance(data["force"], bool) and \
                data["force"] not in (0, 1, "0", "1", "true", "false"):
            raise Fail(400, "ERR_BAD_REQUEST", VALIDATION_MSG,
                       {"force": ["The force field must be true or false."]})
        with st.lock:
            if uid not in st.users:
                raise self._not_found(uid)
            lst = st.tokens.get(uid)
            if st.b["token_reuse"] and lst and not truthy(data.get("force")):
                last = lst[-1]
                return {"data": {"uid": uid, "authToken": last["authToken"],
                                 "createdAt": last["createdAt"]}}
            return {"data": self._mint(st, uid)}

    # -- control ----------------------------------------------------------

    def _control(self, name, query):
        q = urllib.parse.parse_qs(query, keep_blank_values=True)
        fn = getattr(self, "ctl_" + name, None)
        if fn is None:
            return self._json(404, {"error": "unknown control " + name})
        try:
            return fn(q)
        except (ValueError, KeyError, OSError) as e:
            return self._json(400, {"error": "bad parameter: %s" % e})

    def ctl_ping(self, _q):
        return self._json(200, {"ok": True})

    def ctl_reset(self, _q):
        st = self.server.state
        with st.lock:
            st.reset()
        return self._json(200, {"ok": True})

    def ctl_set(self, q):
        st = self.server.state

        def one(name, default=None):
            return q[name][0] if name in q else default

        def ops(value):
            names = [v.strip() for v in value.split(",") if v.strip()]
            for n in names:
                if n != "any" and n not in OPS:
                    raise ValueError("unknown op %r" % n)
            if not names:
                raise ValueError("empty op list")
            return names

        def times(name):
            v = one(name)
            return None if v in (None, "") else int(v)

        with st.lock:
            # work on a copy so that a bad parameter changes nothing
            b = copy.deepcopy(st.b)
            api_key = st.api_key
            if "delay_ms" in q or "delay_on" in q:
                ms = int(one("delay_ms", "0"))
                for op in ops(one("delay_on", "any")):
                    if ms > 0:
                        b["delay"][op] = ms
                    else:
                        b["delay"].pop(op, None)
            if "fail_on" in q:
                status = int(one("fail_status", "500"))
                code = one("fail_code", "ERR_INTERNAL_SERVER_ERROR")
                msg = one("fail_message",
                          "Injected failure (%s)." % code)
                for op in ops(one("fail_on")):
                    b["fail"][op] = {"status": status, "code": code,
                                     "message": msg,
                                     "times": times("fail_times")}
            if "garbage_on" in q:
                body = one("garbage_body",
                           "<html><body>this is not JSON {</body></html>")
                for op in ops(one("garbage_on")):
                    b["garbage"][op] = {"body": body,
                                        "times": times("garbage_times")}
            if "ratelimit_on" in q:
                retry = int(one("retry_after", "60"))
                for op in ops(one("ratelimit_on")):
                    b["ratelimit"][op] = {"retry_after": retry,
                                          "times": times("ratelimit_times")}
            if "drop_on" in q:
                for op in ops(one("drop_on")):
                    b["drop"][op] = {"times": times("drop_times")}
            if "close_on" in q:
                for op in ops(one("close_on")):
                    b["close"][op] = {"times": times("close_times")}
            if "api_key" in q:
                api_key = one("api_key")
            if "rate_limit" in q:
                b["rate_limit"] = int(one("rate_limit"))
            if "ratelimit_headers" in q:
                v = one("ratelimit_headers")
                if v not in ("old", "new", "both"):
                    raise ValueError("ratelimit_headers: old, new or both")
                b["ratelimit_headers"] = v
            if "exists_status" in q:
                b["exists_status"] = int(one("exists_status"))
            tls_ctx = st.tls_ctx
            if "tls_cert" in q:
                cert = one("tls_cert")
                if cert:
                    tls_ctx = tls_context(cert, one("tls_key"))
                    b["tls_cert"] = cert
                else:
                    tls_ctx = None
                    b["tls_cert"] = None
            if "tls_stall" in q:
                b["tls_stall"] = truthy(one("tls_stall"))
            for flag in ("token_reuse", "minimal_errors", "php_json"):
                if flag in q:
                    b[flag] = truthy(one(flag))
            st.b = b
            st.tls_ctx = tls_ctx
            st.api_key = api_key
            shown = json.loads(json.dumps(b))
        return self._json(200, {"ok": True, "behaviours": shown})

    def ctl_stats(self, _q):
        st = self.server.state
        with st.lock:
            reply = {
                "calls": dict(st.calls),
                "max_concurrency": st.max_concurrency,
                "in_flight": st.in_flight,
                "last_apikey_ok": st.last_apikey_ok,
                "last_headers": dict(st.last_headers),
                "last_request": st.last_request,
                "users": st.users,
                "tokens": {u: [t["authToken"] for t in lst]
                           for u, lst in st.tokens.items()},
                "echo_calls": st.echo_calls,
                "behaviours": st.b,
                "app_id": st.app_id,
                "connections": dict(st.connections),
                "tls": dict(st.tls),
            }
            body = compact(reply)
        return self._send(200, body)

    def ctl_wait(self, q):
        """Until op has been called n times and no call is in flight: for
        calls a client makes after its response (profile sync's update)."""
        st = self.server.state
        op = q.get("op", ["total"])[0]
        if op not in OPS and op != "total":
            raise ValueError("unknown op %r" % op)
        n = int(q.get("n", ["1"])[0])
        deadline = time.time() + int(q.get("timeout_ms", ["10000"])[0]) / 1e3
        while True:
            with st.lock:
                count = st.calls[op]
                done = count >= n and st.in_flight == 0
            if done or time.time() >= deadline:
                break
            time.sleep(0.01)
        return self._json(200, {"ok": done, op: count})

    def ctl_seed_user(self, q):
        st = self.server.state
        uid = q.get("uid", [""])[0]
        if not uid or len(uid) > UID_MAX or not UID_RE.fullmatch(uid):
            return self._json(400, {"error": "invalid uid"})
        uid = uid.lower()
        user = {"uid": uid, "name": q.get("name", [uid])[0]}
        for field in ("avatar", "link"):
            if field in q:
                user[field] = q[field][0]
        user.update({"status": "offline", "role": "default",
                     "createdAt": now()})
        with st.lock:
            st.users[uid] = user
            reply = {"data": dict(user)}
            if truthy(q.get("with_token", ["0"])[0]):
                reply["data"]["authToken"] = self._mint(st, uid)["authToken"]
        return self._json(200, reply)




def redact_path(path):
    """The request line for the log, without key material."""
    parsed = urllib.parse.urlsplit(path)
    if not parsed.query:
        return path
    out = []
    for name, value in urllib.parse.parse_qsl(parsed.query,
                                              keep_blank_values=True):
        low = value.lower()
        if "key" in name.lower() or low.startswith("apikey"):
            value = "<redacted>"
        out.append((name, value))
    return parsed.path + "?" + urllib.parse.urlencode(out)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def get_request(self):
        request, address = self.socket.accept()
        st = self.state
        with st.lock:
            st.connections["http"] += 1
        return request, address


def tls_context(cert, key=None):
    """A server context for a PEM certificate (chain) and its key."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


class TLSServer(Server):
    """The REST API over HTTPS, sharing a State with the plain server.

    The handshake runs in the connection's own thread, so that a failing
    or stalled one holds nothing else up; every accepted connection, and
    every handshake by outcome, is counted (/_fake/stats "connections",
    "tls")."""

    def __init__(self, address, handler, ctx):
        super().__init__(address, handler)
        self.default_ctx = ctx

    def get_request(self):
        request, address = self.socket.accept()
        st = self.state
        with st.lock:
            st.connections["tls"] += 1
        return request, address

    def process_request_thread(self, request, client_address):
        st = self.state
        with st.lock:
            stall = st.b["tls_stall"]
            ctx = st.tls_ctx or self.default_ctx
        request.settimeout(30)
        if stall:
            # read the ClientHello and whatever follows, answer nothing,
            # until the client gives up
            try:
                while request.recv(4096):
                    pass
            except OSError:
                pass
            with st.lock:
                st.tls["stalled"] += 1
            self.shutdown_request(request)
            return
        tls = ctx.wrap_socket(request, server_side=True,
                              do_handshake_on_connect=False)
        try:
            tls.do_handshake()
        except (ssl.SSLError, OSError) as e:
            with st.lock:
                st.tls["failed"] += 1
                st.tls["last_error"] = getattr(e, "reason", None) or str(e)
            tls.close()
            return
        with st.lock:
            st.tls["handshakes"] += 1
            if tls.session_reused:
                st.tls["resumed"] += 1
        tls.settimeout(None)
        super().process_request_thread(tls, client_address)
