#!/usr/bin/python3
"""The demo's sample application: a site with its own sign-in, that knows
nothing about CometChat.  nginx (with ngx_http_cometchat_module) sits in
front of it and adds the chat widget to its pages.

    tools/demo/app.py --port N [--host 127.0.0.1] [--quiet]

Routes:
    GET  /                 home page (HTML)
    GET  /profile          profile page (HTML; sign-in page when anonymous)
    GET  /signin           sign-in form
    POST /signin           name=ANY  -> session cookie, 303 to / (or ?next=)
    POST /signout, GET /signout      -> cookie cleared, 303 to /
    GET  /api/auth/me      200 {"id","fullName","avatarUrl"} or 401 JSON
    GET  /avatar/ID.svg    a generated avatar (the avatarUrl above)
    GET  /healthz          200 "ok" (the launcher waits for it)

Any user name signs in; the id is the name lowercased with every run of
characters outside [a-z0-9_-] turned into "-" ("Ada Lovelace" ->
"ada-lovelace"), so with `cometchat_uid_prefix user_` the CometChat uid
is "user_ada-lovelace".  Sessions live in memory (a restart signs every
one out).  Python 3 standard library only.
"""

import argparse
import html
import json
import re
import secrets
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COOKIE = "demo_session"
NAME_MAX = 100

SESSIONS = {}           # cookie value -> {"id", "fullName"}
SESSIONS_LOCK = threading.Lock()


def user_id(name):
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-")
    return slug[:60]


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - Demo App</title>
<!-- no favicon: stops the browser asking for /favicon.ico (a 404) -->
<link rel="icon" href="data:,">
<style>
  body {{ font-family: system-ui, sans-serif; margin: 0; background: #f5f6f8;
         color: #1d2330; }}
  header {{ background: #24292f; color: #fff; padding: 12px 24px;
           display: flex; align-items: center; gap: 24px; }}
  header a {{ color: #fff; text-decoration: none; }}
  header .who {{ margin-left: auto; }}
  header form {{ display: inline; }}
  header button {{ background: none; border: 1px solid #888; color: #fff;
                  border-radius: 4px; padding: 3px 10px; cursor: pointer; }}
  main {{ max-width: 720px; margin: 32px auto; background: #fff;
         padding: 24px 32px; border-radius: 8px;
         box-shadow: 0 1px 3px rgba(0,0,0,.12); }}
  input[type=text] {{ font-size: 16px; padding: 6px 8px; width: 260px; }}
  input[type=submit] {{ font-size: 16px; padding: 6px 16px; }}
  .error {{ color: #b00020; }}
  code {{ background: #eef; padding: 1px 4px; border-radius: 3px; }}
  img.avatar {{ border-radius: 50%; vertical-align: middle; }}
</style>
</head>
<body>
<header>
  <strong>Demo App</strong>
  <a href="/">Home</a>
  <a href="/profile">Profile</a>
  <span class="who">{who}</span>
</header>
<main>
{content}
</main>
</body>
</html>
"""


def avatar_svg(uid):
    hue = sum(uid.encode()) * 37 % 360
    letter = html.escape((uid[:1] or "?").upper())
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96">'
            '<circle cx="48" cy="48" r="48" fill="hsl(%d,55%%,45%%)"/>'
            '<text x="48" y="62" font-size="44" text-anchor="middle" '
            'fill="#fff" font-family="sans-serif">%s</text></svg>'
            % (hue, letter)).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "DemoApp/1"

    def log_message(self, fmt, *args):
        if not self.server.quiet:
            sys.stderr.write("app: %s %s\n" % (self.address_string(),
                                               fmt % args))

    # -- helpers ----------------------------------------------------------

    def _session(self):
        raw = self.headers.get("Cookie") or ""
        for part in raw.split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE:
                with SESSIONS_LOCK:
                    user = SESSIONS.get(value)
                if user:
                    return value, user
        return None, None

    def _send(self, status, body, ctype, headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status, obj, headers=()):
        self._send(status, json.dumps(obj), "application/json",
                   [("Cache-Control", "no-store")] + list(headers))

    def _redirect(self, location, headers=()):
        self._send(303, "", "text/plain",
                   [("Location", location)] + list(headers))

    def _page(self, title, content, user, status=200):
        if user:
            who = ('signed in as <strong>%s</strong> '
                   '<form method="post" action="/signout">'
                   '<button type="submit">Sign out</button></form>'
                   % html.escape(user["fullName"]))
        else:
            who = '<a href="/signin">Sign in</a>'
        body = PAGE.format(title=html.escape(title), who=who, content=content)
        # pages differ per user: tell caches so, as a real app would
        self._send(status, body, "text/html; charset=utf-8",
                   [("Cache-Control", "private, no-cache")])

    def _avatar_url(self, uid):
        # absolute, as CometChat wants; the Host is the one the browser used
        host = self.headers.get("X-Forwarded-Host") or self.headers.get("Host")
        return "http://%s/avatar/%s.svg" % (host or "127.0.0.1", uid)

    def _form(self):
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(min(length, 64 * 1024)).decode("utf-8",
                                                              "replace")
        return urllib.parse.parse_qs(data)

    # -- pages ------------------------------------------------------------

    def _home(self, user):
        if user:
            content = (
                "<h1>Welcome, %s</h1>"
                "<p>You are signed in to the demo app. The chat button in "
                "the corner was added by nginx: the app's HTML does not "
                "contain it.</p>"
                "<p>Your app user id is <code>%s</code>; your CometChat "
                "uid is that id with the configured prefix.</p>"
                "<ul><li><a href=\"/profile\">Your profile</a></li>"
                "<li><a href=\"/_cometchat/token\">The token endpoint</a> "
                "(JSON, for single-page apps)</li></ul>"
                % (html.escape(user["fullName"]), html.escape(user["id"])))
        else:
            content = (
                "<h1>Demo App</h1>"
                "<p>You are not signed in, so nginx adds no chat widget.</p>"
                "<p><a href=\"/signin\">Sign in</a> with any name to see "
                "the chat button appear on every page.</p>")
        self._page("Home", content, user)

    def _profile(self, user):
        if not user:
            return self._redirect("/signin?next=/profile")
        content = (
            "<h1>Profile</h1>"
            "<p><img class=\"avatar\" src=\"/avatar/%s.svg\" width=\"48\" "
            "height=\"48\" alt=\"\"> <strong>%s</strong></p>"
            "<table><tr><td>id</td><td><code>%s</code></td></tr>"
            "<tr><td>name</td><td>%s</td></tr></table>"
            % (html.escape(user["id"]), html.escape(user["fullName"]),
               html.escape(user["id"]), html.escape(user["fullName"])))
        self._page("Profile", content, user)

    def _signin_form(self, user, error="", nxt="/", status=200):
        err = '<p class="error">%s</p>' % html.escape(error) if error else ""
        content = (
            "<h1>Sign in</h1>%s"
            "<form method=\"post\" action=\"/signin\">"
            "<input type=\"hidden\" name=\"next\" value=\"%s\">"
            "<p><label>Your name <input type=\"text\" name=\"name\" "
            "id=\"name\" autofocus required maxlength=\"%d\"></label></p>"
            "<p><input type=\"submit\" id=\"signin\" value=\"Sign in\"></p>"
            "</form><p>Any name works: this is a demo, there are no "
            "passwords.</p>" % (err, html.escape(nxt), NAME_MAX))
        self._page("Sign in", content, user, status)

    # -- dispatch ---------------------------------------------------------

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        _, user = self._session()
        if path == "/":
            return self._home(user)
        if path == "/profile":
            return self._profile(user)
        if path == "/signin":
            nxt = urllib.parse.parse_qs(url.query).get("next", ["/"])[0]
            return self._signin_form(user, nxt=nxt)
        if path == "/signout":
            return self._signout()
        if path == "/api/auth/me":
            if not user:
                return self._json(401, {"error": "not signed in"})
            return self._json(200, {
                "id": user["id"], "fullName": user["fullName"],
                "avatarUrl": self._avatar_url(user["id"])})
        m = re.match(r"^/avatar/([a-z0-9_-]+)\.svg$", path)
        if m:
            return self._send(200, avatar_svg(m.group(1)), "image/svg+xml",
                              [("Cache-Control", "max-age=3600")])
        if path == "/healthz":
            return self._send(200, "ok\n", "text/plain")
        self._page("Not found", "<h1>Not found</h1>", user, 404)

    do_HEAD = do_GET

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        # read the body whatever the route: on a keepalive connection,
        # unread bytes would be taken for the next request
        form = self._form()
        if path == "/signin":
            name = " ".join((form.get("name", [""])[0]).split())[:NAME_MAX]
            nxt = form.get("next", ["/"])[0]
            if not nxt.startswith("/") or nxt.startswith("//"):
                nxt = "/"
            uid = user_id(name)
            if not uid:
                _, user = self._session()
                return self._signin_form(
                    user, "Please enter a name with a letter or digit.",
                    nxt, 400)
            sid = secrets.token_urlsafe(24)
            with SESSIONS_LOCK:
                SESSIONS[sid] = {"id": uid, "fullName": name}
            return self._redirect(nxt, [(
                "Set-Cookie",
                "%s=%s; Path=/; HttpOnly; SameSite=Lax" % (COOKIE, sid))])
        if path == "/signout":
            return self._signout()
        self._send(405, "method not allowed\n", "text/plain",
                   [("Allow", "GET, HEAD")])

    def _signout(self):
        sid, _ = self._session()
        if sid:
            with SESSIONS_LOCK:
                SESSIONS.pop(sid, None)
        self._redirect("/", [(
            "Set-Cookie",
            "%s=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax" % COOKIE)])


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    server = Server((args.host, args.port), Handler)
    server.quiet = args.quiet
    sys.stderr.write("app: listening on %s:%d\n"
                     % (args.host, server.server_address[1]))
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
