/*
 * STAND-IN for CometChat's widget script. This is NOT CometChat's code.
 *
 * The demo and the browser test run where there is no internet, so the
 * real script (@cometchat/chat-embed, loaded from a CDN) cannot load. This
 * file takes its place at the `script=` URL of `cometchat_widget`. It
 * implements the same global API that the module's snippet calls:
 *
 *   CometChatApp.CometChatAuth.start(config)   Widget Builder embed (v1)
 *   CometChatApp.init / login / launch         the embed's older 1.0 API
 *   CometChatWidget.init / login / launch      the legacy widget
 *
 * and checks the config the way the real script does, with the same
 * console errors ("[CometChatAuth] Failed to start widget: Missing required
 * config: appID", "... Auth token login requires 'authToken' in
 * COMETCHAT_WIDGET_CONFIG"). Instead of logging in to CometChat it:
 *
 *   - records every call in window.__cometchatCalls (name, a copy of the
 *     arguments, ok/error), for tests to read;
 *   - draws a floating round chat button in the mount element (docked,
 *     at dockedAlignment "right" or "left"), with id
 *     "cometchat-standin-button" and data-uid / data-align attributes;
 *     clicking it opens a small panel that says which uid is "logged in".
 *
 * It never contacts anything. It resolves start()'s promise with
 * {uid, mode} on success and rejects it (after logging) on a bad config.
 *
 * The session, as CometChat's SDK keeps it (docs/cometchat-api.md): the
 * logged-in user is stored in localStorage under
 * "{appID}:common_store/user", its value JSON encoded twice, next to
 * "{appID}:common_store/appId" and "{appID}:keys_store/deviceId", and
 * sessionStorage "sessionId" = "WEB-...". Like the real embed, start()
 * in authToken mode first looks there: if a user is stored it stays
 * logged in as that user ("Already logged-in") and ignores the token it
 * was given. Only with nothing stored does it log in with the token
 * (whose uid, for the fake's tokens, is the part before the last "_")
 * and store the user. CometChatApp.logout() removes the stored session
 * (every common_store key but appId, and sessionId), as the SDK's
 * logout() does after its DELETE /v3.0/me. window.__cometchatSession
 * tells tests who is logged in and how ("stored" or "token"). Like the
 * real embed, CometChatAuth keeps the config object it was given
 * (CometChatAuth._config).
 */
(function () {
    "use strict";

    var PREFIX = "[CometChatAuth] Failed to start widget: ";
    var calls = window.__cometchatCalls = window.__cometchatCalls || [];

    function copy(v) {
        try {
            return JSON.parse(JSON.stringify(v === undefined ? null : v));
        } catch (e) {
            return String(v);
        }
    }

    function record(name, args, error) {
        var entry = {
            name: name,
            args: copy(args),
            ok: !error,
            error: error || null,
            at: Date.now()
        };
        calls.push(entry);
        return entry;
    }

    function empty(v) {
        return v === undefined || v === null || String(v).trim() === "";
    }

    /* The checks the real start() makes, in its order. */
    function validate(cfg) {
        var mode;

        if (!cfg || typeof cfg !== "object") {
            return "Missing required config: appID";
        }
        if (empty(cfg.appID)) {
            return "Missing required config: appID";
        }
        if (empty(cfg.region)) {
            return "Missing required config: region";
        }
        mode = cfg.mode || "guest";
        if (mode === "authToken") {
            if (empty(cfg.authToken)) {
                return "Auth token login requires 'authToken' in "
                       + "COMETCHAT_WIDGET_CONFIG";
            }
        } else if (mode === "uid") {
            if (empty(cfg.uid)) {
                return "UID login requires 'uid' in COMETCHAT_WIDGET_CONFIG";
            }
            if (empty(cfg.authKey)) {
                return "UID login requires 'authKey' in "
                       + "COMETCHAT_WIDGET_CONFIG";
            }
        } else if (mode === "guest") {
            if (empty(cfg.authKey)) {
                return "Guest login requires 'authKey' in "
                       + "COMETCHAT_WIDGET_CONFIG";
            }
        } else {
            return "Unknown mode: " + mode;
        }
        return null;
    }

    function mountElement(sel) {
        var el = null;

        if (typeof sel === "string" && sel !== "") {
            try {
                el = document.querySelector(sel)
                     || document.getElementById(sel.replace(/^#/, ""));
            } catch (e) {
                el = document.getElementById(sel.replace(/^#/, ""));
            }
        }
        if (!el) {
            el = document.createElement("div");
            el.id = "cometchat-standin-mount";
            document.body.appendChild(el);
        }
        return el;
    }

    function render(opts) {
        var mount = mountElement(opts.mount);
        var align = opts.align === "left" ? "left" : "right";
        var docked = opts.docked !== false;
        var btn, panel, side;

        mount.innerHTML = "";
        side = align === "left" ? "left" : "right";

        panel = document.createElement("div");
        panel.id = "cometchat-standin-panel";
        panel.style.cssText = [
            "position:fixed", "bottom:96px", side + ":24px",
            "width:" + (opts.width || "320px"), "max-width:90vw",
            "height:" + (opts.height || "240px"), "max-height:70vh",
            "background:#fff", "border-radius:12px",
            "box-shadow:0 8px 28px rgba(0,0,0,.25)",
            "font:14px system-ui,sans-serif", "color:#222",
            "padding:16px", "box-sizing:border-box", "display:none",
            "z-index:2147483646"
        ].join(";");
        panel.textContent = "CometChat widget stand-in: logged in as "
                            + (opts.uid || "?") + " (no real chat here)";

        btn = document.createElement("button");
        btn.id = "cometchat-standin-button";
        btn.type = "button";
        btn.title = "Chat (CometChat widget stand-in)";
        btn.setAttribute("aria-label", "Open chat");
        btn.setAttribute("data-uid", opts.uid || "");
        btn.setAttribute("data-align", align);
        btn.style.cssText = [
            docked ? "position:fixed" : "position:relative",
            "bottom:24px", side + ":24px",
            "width:60px", "height:60px", "border-radius:50%", "border:0",
            "background:#6852d6", "color:#fff", "cursor:pointer",
            "box-shadow:0 4px 14px rgba(0,0,0,.3)", "z-index:2147483647",
            "display:flex", "align-items:center", "justify-content:center",
            "padding:0"
        ].join(";");
        btn.innerHTML =
            '<svg width="30" height="30" viewBox="0 0 24 24" aria-hidden="true">'
            + '<path fill="#fff" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8'
            + 'l-4 4V6a2 2 0 0 1 2-2z"/></svg>';
        btn.addEventListener("click", function () {
            panel.style.display =
                panel.style.display === "none" ? "block" : "none";
        });

        mount.appendChild(panel);
        mount.appendChild(btn);
        return btn;
    }

    /* CometChat's tokens look like UID_DIGITSHEX; only for the label */
    function tokenUid(token) {
        var t = String(token);
        var i = t.lastIndexOf("_");
        return i > 0 ? t.slice(0, i) : "?";
    }

    function whenReady(fn) {
        if (document.body) {
            fn();
        } else {
            document.addEventListener("DOMContentLoaded", fn);
        }
    }

    /* the SDK's storage: localforage over localStorage, "{appID}:..." */
    var appID = null;

    function enc(v) {
        return JSON.stringify(JSON.stringify(v));
    }

    function storedUser() {
        var v;
        try {
            v = window.localStorage.getItem(appID + ":common_store/user");
            return v === null ? null : JSON.parse(JSON.parse(v));
        } catch (e) {
            return null;    /* no storage here (about:blank) */
        }
    }

    function storeSession(user) {
        try {
            var ls = window.localStorage;
            ls.setItem(appID + ":common_store/appId", enc(appID));
            ls.setItem(appID + ":keys_store/deviceId",
                       enc(appID + "_standin_" + Date.now()));
            ls.setItem(appID + ":common_store/user", enc(user));
            window.sessionStorage.setItem("sessionId",
                                          "WEB-4_2_0-standin-" + Date.now());
        } catch (e) {
            /* no storage here (about:blank) */
        }
    }

    function clearSession() {
        var ls, i, k;
        try {
            ls = window.localStorage;
            for (i = ls.length - 1; i >= 0; i--) {
                k = ls.key(i);
                if (k.indexOf(appID + ":common_store/") === 0
                    && k !== appID + ":common_store/appId")
                {
                    ls.removeItem(k);
                }
            }
            window.sessionStorage.removeItem("sessionId");
        } catch (e) {
            /* no storage here */
        }
    }

    /* the embed's login(): "Already logged-in" wins over the token */
    function sessionFor(config) {
        var stored = storedUser();
        var session;

        if (stored && stored.uid) {
            session = { uid: stored.uid, source: "stored",
                        authToken: stored.authToken };
        } else {
            session = { uid: tokenUid(config.authToken), source: "token",
                        authToken: config.authToken };
            storeSession({ uid: session.uid, name: session.uid,
                           authToken: config.authToken,
                           status: "available", role: "default" });
        }
        window.__cometchatSession = session;
        return session;
    }

    function logout() {
        record("logout", null, appID ? null : "not initialised");
        if (!appID) {
            return Promise.reject(new Error("CometChat is not initialised"));
        }
        clearSession();
        window.__cometchatSession = null;
        return Promise.resolve();
    }

    function start(config) {
        var err = validate(config);
        var session;

        if (err) {
            record("CometChatAuth.start", config, err);
            console.error(PREFIX + err);
            return Promise.reject(new Error(err));
        }

        record("CometChatAuth.start", config, null);
        window.CometChatApp.CometChatAuth._config = config;
        appID = String(config.appID);
        session = config.mode === "authToken" ? sessionFor(config) : null;
        return new Promise(function (resolve) {
            whenReady(function () {
                render({
                    mount: config.mount,
                    align: config.dockedAlignment,
                    docked: config.isDocked,
                    width: config.width,
                    height: config.height,
                    uid: config.uid || (session ? session.uid : null)
                });
                resolve({ uid: config.uid || null, mode: config.mode });
            });
        });
    }

    /* the embed's older three-step API */
    var creds = null;
    var loggedIn = null;

    function init(c) {
        var err = !c || empty(c.appID) ? "Missing required config: appID"
                  : empty(c.appRegion || c.region)
                  ? "Missing required config: region" : null;
        record("init", c, err);
        if (err) {
            console.error(PREFIX + err);
            return Promise.reject(new Error(err));
        }
        creds = c;
        appID = String(c.appID);
        return Promise.resolve(true);
    }

    function login(c) {
        var err = !creds ? "init() must be called first"
                  : !c || (empty(c.authToken) && empty(c.uid))
                  ? "login requires 'authToken' or 'uid'" : null;
        record("login", c, err);
        if (err) {
            console.error(PREFIX + err);
            return Promise.reject(new Error(err));
        }
        loggedIn = c.uid || tokenUid(c.authToken);
        return Promise.resolve({ uid: loggedIn });
    }

    function launch(o) {
        var err = !loggedIn ? "login() must succeed first" : null;
        record("launch", o, err);
        if (err) {
            console.error(PREFIX + err);
            return Promise.reject(new Error(err));
        }
        o = o || {};
        whenReady(function () {
            render({
                mount: o.target || (o.targetElementID
                                    ? "#" + o.targetElementID : null),
                align: o.dockedAlignment || o.alignment,
                docked: !(o.isDocked === false || o.docked === "false"
                          || (o.docked === undefined
                              && o.isDocked === undefined && o.target)),
                width: o.width,
                height: o.height,
                uid: loggedIn
            });
        });
        return Promise.resolve(true);
    }

    window.CometChatApp = window.CometChatApp || {};
    window.CometChatApp.CometChatAuth = { start: start };
    window.CometChatApp.init = init;
    window.CometChatApp.login = login;
    window.CometChatApp.launch = launch;
    window.CometChatApp.logout = logout;
    window.CometChatApp.__standin = true;

    window.CometChatWidget = window.CometChatWidget || {
        init: init,
        login: login,
        launch: launch,
        logout: logout,
        __standin: true
    };
}());
