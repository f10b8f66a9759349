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

    function start(config) {
        var err = validate(config);

        if (err) {
            record("CometChatAuth.start", config, err);
            console.error(PREFIX + err);
            return Promise.reject(new Error(err));
        }

        record("CometChatAuth.start", config, null);
        return new Promise(function (resolve) {
            whenReady(function () {
                render({
                    mount: config.mount,
                    align: config.dockedAlignment,
                    docked: config.isDocked,
                    width: config.width,
                    height: config.height,
                    uid: config.uid || (config.mode === "authToken"
                                        ? tokenUid(config.authToken)
                                        : null)
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
    window.CometChatApp.__standin = true;

    window.CometChatWidget = window.CometChatWidget || {
        init: init,
        login: login,
        launch: launch,
        __standin: true
    };
}());
