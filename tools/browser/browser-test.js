#!/usr/bin/env node
/*
 * Browser test of the demo stack, in headless Chromium (Debian's
 * /usr/bin/chromium, driven by playwright-core). Prints TAP.
 *
 *   node tools/browser/browser-test.js      (or: t/400-browser.t)
 *
 * It starts the demo (tools/demo/run --background, always with the local
 * CometChat fake), then, as a person would: loads a page anonymously (no
 * widget), signs in through the app's form, loads pages through nginx and
 * checks that
 *   - the chat button is visible at the configured corner (bottom-right);
 *   - the widget script received appID, region, the user's uid (through
 *     the token) and authToken, with mode "authToken" and no authKey;
 *   - neither the REST API key nor an Auth Key is anywhere in the HTML;
 *   - the console shows the snippet's success line and no error;
 *   - the token endpoint answers for the same user with the same token;
 *   - the widget's session is stored as CometChat's SDK stores it, the
 *     page marked the browser (cometchat_chat cookie) and no global holds
 *     the token once the widget started;
 *   - B signing in where Ada was gets B's widget, not Ada's stored
 *     session; after sign-out the next page carries the sign-out snippet,
 *     expires the cookie and leaves nothing of the user's in storage; the
 *     page after that is the app's own, byte for byte;
 *   - CometChat's REAL JS SDK (@cometchat/chat-sdk-javascript, in a
 *     cometchat_snippet_file page, its calls to CometChat answered here
 *     with page.route from the fake's tokens, its WebSocket closed):
 *     A, sign-out (getLoggedinUser() null), B, then A over B;
 *   - values in a template's URL attribute run no script in Chromium
 *     (issue 16).
 * Screenshots: build/browser/signed-in.png (the signed-in page) and
 * build/browser/chat-open.png (the stand-in's panel opened).
 *
 * THE WIDGET SCRIPT IS A STAND-IN: this machine has no internet, so the
 * demo points `cometchat_widget script=` at tools/browser/
 * chat-embed-standin.js, served by nginx. It implements the global API of
 * CometChat's widget script (CometChatApp.CometChatAuth.start(config)),
 * validates the config like the real one, records each call in
 * window.__cometchatCalls and draws a floating button. The test therefore
 * proves what nginx puts in the page and that the page's snippet drives
 * the widget API correctly; it does not prove CometChat's own widget.
 *
 * Environment: DEMO_MODULE, DEMO_NGINX (passed to tools/demo/run),
 * BROWSER_OUT (default build/browser), CHROMIUM (default /usr/bin/chromium).
 */
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const { execFileSync } = require("child_process");

const TOP = path.resolve(__dirname, "..", "..");
const OUT = path.resolve(process.env.BROWSER_OUT
                         || path.join(TOP, "build", "browser"));
const STACK = path.join(OUT, "stack");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const RUN = path.join(TOP, "tools", "demo", "run");
const USER_NAME = "Ada Lovelace";
const APP_USER_ID = "ada-lovelace";
const USER_NAME_B = "Grace Hopper";
const APP_USER_ID_B = "grace-hopper";
const TIMEOUT = 15000;
const DEADLINE = 300000;

/* what the module's built-in snippet logs once the widget has started */
const SUCCESS_LINE = "[cometchat] widget started for uid ";

let n = 0;
let failed = 0;

function ok(cond, what, detail) {
    n++;
    if (cond) {
        console.log(`ok ${n} - ${what}`);
    } else {
        failed++;
        console.log(`not ok ${n} - ${what}`);
        if (detail !== undefined) {
            const text = typeof detail === "string"
                         ? detail : JSON.stringify(detail, null, 2);
            for (const line of text.split("\n").slice(0, 30)) {
                console.log(`#   ${line}`);
            }
        }
    }
    return !!cond;
}

function note(msg) {
    for (const line of String(msg).split("\n")) {
        console.log(`# ${line}`);
    }
}

function demo(args) {
    const env = Object.assign({}, process.env);
    /* always the fake and the stand-in: never the real service */
    delete env.COMETCHAT_APP_ID;
    delete env.COMETCHAT_REGION;
    delete env.COMETCHAT_API_KEY;
    delete env.DEMO_PORT;
    delete env.DEMO_WIDGET;
    return execFileSync(RUN, args.concat(["--dir", STACK]),
                        { env, encoding: "utf8",
                          stdio: ["ignore", "pipe", "pipe"],
                          timeout: 60000 });
}

function stopStack() {
    try {
        demo(["--stop"]);
    } catch (e) {
        note(`stopping the stack failed: ${e.message}`);
    }
}

async function main() {
    let chromium;
    try {
        ({ chromium } = require("playwright-core"));
    } catch (e) {
        console.log("1..0 # SKIP playwright-core is not installed "
                    + "(tools/deps-browser)");
        return 0;
    }

    fs.mkdirSync(OUT, { recursive: true });
    stopStack();    /* a stack left by an interrupted run */

    try {
        note(demo(["--background"]).trim());
    } catch (e) {
        ok(false, "demo stack starts", `${e.stdout || ""}${e.stderr || ""}`);
        console.log(`1..${n}`);
        return 1;
    }
    ok(true, "demo stack starts");

    const state = JSON.parse(fs.readFileSync(path.join(STACK, "demo.json"),
                                             "utf8"));
    const apiKey = fs.readFileSync(path.join(STACK, "cometchat.key"),
                                   "utf8").trim();
    const base = state.url;
    const uid = state.uid_prefix + APP_USER_ID;
    const wantAlign = (state.widget.position || "bottom-right")
                      .replace(/^bottom-/, "");

    const profile = fs.mkdtempSync(path.join(os.tmpdir(), "cc-chromium-"));
    let context;
    try {
        context = await chromium.launchPersistentContext(profile, {
            executablePath: CHROMIUM,
            headless: true,
            args: ["--headless", "--no-sandbox", "--disable-gpu",
                   "--disable-quic", "--no-first-run",
                   "--disable-background-networking",
                   "--disable-component-update", "--disable-sync"],
            viewport: { width: 1280, height: 800 },
            timeout: 60000,
        });
        context.setDefaultTimeout(TIMEOUT);
        await run(context, { state, apiKey, base, uid, wantAlign });
    } catch (e) {
        ok(false, "browser run completes", e.stack || String(e));
    } finally {
        if (context) {
            await context.close().catch(() => {});
        }
        fs.rmSync(profile, { recursive: true, force: true });
        stopStack();
    }
    console.log(`1..${n}`);
    return failed ? 1 : 0;
}

/*
 * The stand-in itself: it must reject what the real widget rejects, with
 * the same console errors, and put the button where it is told.  Without
 * this, a snippet that passes a bad config could still "pass" the test.
 */
async function standinSelfCheck(context) {
    const page = await context.newPage();
    const errors = [];
    page.on("console", (m) => {
        if (m.type() === "error") {
            errors.push(m.text());
        }
    });
    await page.setContent("<!DOCTYPE html><html><body>"
                          + "<div id=\"cometChatMount\"></div></body></html>");
    await page.addScriptTag({
        path: path.join(__dirname, "chat-embed-standin.js") });
    const start = (cfg) => page.evaluate((c) =>
        window.CometChatApp.CometChatAuth.start(c).then(
            () => "resolved", (e) => "rejected: " + e.message), cfg);

    const base = { appID: "a1", region: "eu", mode: "authToken",
                   authToken: "u1_123abc", mount: "#cometChatMount",
                   isDocked: true, dockedAlignment: "left" };
    const noApp = Object.assign({}, base);
    delete noApp.appID;
    const noToken = Object.assign({}, base);
    delete noToken.authToken;

    const r1 = await start(noApp);
    const r2 = await start(noToken);
    ok(r1.startsWith("rejected") && r2.startsWith("rejected")
       && errors[0] === "[CometChatAuth] Failed to start widget: "
                        + "Missing required config: appID"
       && errors[1] === "[CometChatAuth] Failed to start widget: "
                        + "Auth token login requires 'authToken' in "
                        + "COMETCHAT_WIDGET_CONFIG"
       && await page.locator("#cometchat-standin-button").count() === 0,
       "stand-in: rejects a config without appID or authToken, "
       + "with the widget's console errors", { r1, r2, errors });

    const r3 = await start(base);
    const button = page.locator("#cometchat-standin-button");
    const box = await button.boundingBox();
    const vp = page.viewportSize();
    const calls = await page.evaluate(() => window.__cometchatCalls);
    ok(r3 === "resolved" && box && box.x < 80
       && vp.height - (box.y + box.height) < 80
       && calls.length === 3 && calls[2].ok
       && calls[2].args.authToken === "u1_123abc",
       "stand-in: a good config draws the button (bottom-left here) and "
       + "is recorded", { r3, box, calls });
    await page.close();
}

async function run(context, { state, apiKey, base, uid, wantAlign }) {
    await standinSelfCheck(context);

    const page = context.pages()[0] || await context.newPage();
    const consoleLines = [];
    const pageErrors = [];
    page.on("console", (m) => consoleLines.push({ type: m.type(),
                                                  text: m.text() }));
    page.on("pageerror", (e) => pageErrors.push(String(e)));

    const calls = () => page.evaluate(() => window.__cometchatCalls || null);

    /* anonymous: the pipeline runs, nobody to log in, no widget */
    let resp = await page.goto(base);
    let html = await resp.text();
    ok(resp.status() === 200 && !/CometChatApp/.test(html)
       && await page.locator("#cometchat-standin-button").count() === 0,
       "anonymous page: 200, no widget snippet, no button",
       html.slice(-600));

    /* sign in through the app's form */
    await page.goto(base + "signin");
    await page.fill("#name", USER_NAME);
    await Promise.all([page.waitForURL(base), page.click("#signin")]);
    ok(/signed in as/.test(await page.content()),
       `signed in through the form as "${USER_NAME}"`);

    /* a page through nginx, signed in */
    consoleLines.length = 0;
    resp = await page.goto(base + "profile");
    html = await resp.text();
    ok(resp.status() === 200, "profile page: 200", resp.status());

    const button = page.locator("#cometchat-standin-button");
    let visible = false;
    try {
        await button.waitFor({ state: "visible", timeout: TIMEOUT });
        visible = true;
    } catch (e) {
        /* reported below */
    }
    ok(visible, "chat button is visible", html.slice(-1200));

    if (visible) {
        const box = await button.boundingBox();
        const vp = page.viewportSize();
        const right = vp.width - (box.x + box.width);
        const bottom = vp.height - (box.y + box.height);
        const left = box.x;
        const atCorner = bottom >= 0 && bottom < 80
            && (wantAlign === "left" ? left >= 0 && left < 80
                                     : right >= 0 && right < 80);
        ok(atCorner, `chat button is at the bottom-${wantAlign} corner`,
           { box, viewport: vp });
        ok(await button.getAttribute("data-align") === wantAlign,
           `widget got dockedAlignment "${wantAlign}"`);
    } else {
        ok(false, `chat button is at the bottom-${wantAlign} corner`);
        ok(false, `widget got dockedAlignment "${wantAlign}"`);
    }

    const recorded = await calls();
    const starts = (recorded || []).filter(
        (c) => c.name === "CometChatAuth.start");
    ok(starts.length === 1 && starts[0].ok,
       "the snippet called CometChatApp.CometChatAuth.start once, "
       + "and the config passed the widget's checks", recorded);
    const cfg = (starts[0] || {}).args || {};
    ok(cfg.appID === state.app_id, `appID is "${state.app_id}"`, cfg);
    ok(cfg.region === state.region, `region is "${state.region}"`, cfg);
    ok(cfg.mode === "authToken" && typeof cfg.authToken === "string"
       && cfg.authToken.length > 0,
       "mode is authToken, with a token", cfg);
    ok(starts.length === 1 && !("authKey" in cfg),
       "no authKey in the widget config", cfg);
    /* the embed config has no uid: the widget learns it from the token,
       and the fake's tokens begin with their uid */
    ok(starts.length === 1 && (cfg.uid === undefined || cfg.uid === uid)
       && typeof cfg.authToken === "string"
       && cfg.authToken.startsWith(uid + "_"),
       `the token handed to the widget is ${uid}'s`, cfg);
    ok(cfg.isDocked === true && cfg.dockedAlignment === wantAlign,
       `docked, aligned ${wantAlign}`, cfg);

    ok(/CometChatApp/.test(html) && !html.includes(apiKey)
       && !(await page.content()).includes(apiKey),
       "the page has the snippet; the REST API key is nowhere in it");
    ok(/CometChatApp/.test(html) && !/authKey/.test(html),
       "no Auth Key in the page HTML", html.slice(-1200));
    ok(html.includes(state.widget.script),
       "the page loads the widget script from the configured URL",
       state.widget.script);

    const success = consoleLines.filter(
        (l) => l.text.startsWith(SUCCESS_LINE));
    ok(success.length === 1 && success[0].text === SUCCESS_LINE + uid,
       `the console shows the snippet's success line for ${uid}`,
       consoleLines);
    if (success.length) {
        note(`console: ${success[0].text}`);
    }
    const errors = consoleLines.filter((l) => l.type === "error")
                               .concat(pageErrors.map((e) => ({ text: e })));
    ok(errors.length === 0, "no console errors", errors);

    /* the token endpoint, same browser session */
    const tr = await page.request.get(base + "_cometchat/token");
    let reply = null;
    try {
        reply = await tr.json();
    } catch (e) {
        /* reported below */
    }
    ok(tr.status() === 200 && reply && reply.uid === uid,
       `token endpoint answers 200 for ${uid}`,
       { status: tr.status(), reply });
    ok(reply && reply.authToken === cfg.authToken && reply.authToken,
       "token endpoint gives the same token as the page",
       { endpoint: reply && reply.authToken, page: cfg.authToken });
    ok(reply && reply.appId === state.app_id
       && reply.region === state.region,
       "token endpoint names the same app and region", reply);

    /* the user CometChat got: name and avatar from the app's session */
    const fr = await page.request.get(
        `http://127.0.0.1:${state.fake_port}/_fake/stats`);
    const fake = await fr.json();
    const user = (fake.users || {})[uid] || {};
    ok(user.name === USER_NAME
       && user.avatar === `${base}avatar/${APP_USER_ID}.svg`,
       "CometChat user created with the app's name and avatar", user);

    const shot = path.join(OUT, "signed-in.png");
    await page.screenshot({ path: shot });
    ok(fs.statSync(shot).size > 1000, `screenshot saved: ${shot}`);

    /* the stand-in's button opens its panel, naming the uid */
    if (visible) {
        await button.click();
        const panel = page.locator("#cometchat-standin-panel");
        ok(await panel.isVisible()
           && (await panel.textContent()).includes(uid),
           "clicking the button opens the (stand-in) chat panel");
        const open = path.join(OUT, "chat-open.png");
        await page.screenshot({ path: open });
        note(`screenshot: ${open}`);
    }

    /* the home page too: every page gets the widget */
    await page.goto(base);
    ok(await page.locator("#cometchat-standin-button").isVisible(),
       "home page, signed in: chat button visible");

    await switchAndSignOut(context, page, consoleLines,
                           { state, base, uid, cfg });
    await realSdk(context, { state, base, uid });
    await linkEscaping(context, { base });
}

/* what the app's pages leave in the browser, for state.app_id */
function storage(page, appId) {
    return page.evaluate((prefix) => {
        const dump = (s) => {
            const o = {};
            for (let i = 0; i < s.length; i++) {
                o[s.key(i)] = s.getItem(s.key(i));
            }
            return o;
        };
        let user = localStorage.getItem(prefix + "common_store/user");
        try {
            user = JSON.parse(JSON.parse(user));
        } catch (e) {
            /* as it is */
        }
        return { local: dump(localStorage), session: dump(sessionStorage),
                 ours: Object.keys(localStorage).concat(
                         Object.keys(sessionStorage)).filter(
                         (k) => k.startsWith(prefix) || k === "sessionId"),
                 user };
    }, appId + ":");
}

function holds(st, what) {
    return JSON.stringify([st.local, st.session]).includes(what);
}

async function signIn(page, base, name, next) {
    await page.goto(base + "signin"
                    + (next ? "?next=" + encodeURIComponent(next) : ""));
    await page.fill("#name", name);
    await Promise.all([page.waitForURL(base + (next || "").replace(/^\//, "")),
                       page.click("#signin")]);
}

async function markerCookie(context, base) {
    return (await context.cookies(base)).find(
        (c) => c.name === "cometchat_chat");
}

/*
 * Shared browser, with the built-in snippet and the stand-in (which, like
 * CometChat's embed, stays logged in as the user its storage holds):
 * Ada's session is stored and the browser marked; B signs in where Ada
 * was and gets a widget of B's own; B signs out and the next page leaves
 * nothing of B's; the page after that has no snippet bytes at all.
 */
async function switchAndSignOut(context, page, consoleLines,
                                { state, base, uid, cfg }) {
    const appId = state.app_id;
    const uidB = state.uid_prefix + APP_USER_ID_B;
    const button = page.locator("#cometchat-standin-button");

    let st = await storage(page, appId);
    ok(st.user && st.user.uid === uid && st.user.authToken === cfg.authToken
       && st.local[appId + ":common_store/appId"] !== undefined
       && /^WEB-/.test(st.session.sessionId || ""),
       `the widget's session is stored as CometChat's SDK stores it `
       + `(${appId}:common_store/user, double-JSON; sessionId)`, st);

    const marker = await markerCookie(context, base);
    ok(marker && marker.value === "1" && marker.httpOnly
       && marker.sameSite === "Lax" && marker.path === "/"
       && marker.expires > Date.now() / 1000 + 300 * 86400,
       "the injected page marked the browser: cometchat_chat=1, HttpOnly, "
       + "SameSite=Lax, Path=/, a year", marker);

    const exposed = await page.evaluate((token) => {
        const found = [];
        for (const k of Object.getOwnPropertyNames(window)) {
            if (k.startsWith("__cometchat") || k === "localStorage"
                || k === "sessionStorage") {
                /* the stand-in's test records; the SDK's own storage */
                continue;
            }
            try {
                const v = window[k];
                if ((typeof v === "string" && v.includes(token))
                    || (v && typeof v === "object"
                        && JSON.stringify(v).includes(token))) {
                    found.push(k);
                }
            } catch (e) {
                /* not serialisable: not a config object */
            }
        }
        return { found, global: typeof window.COMETCHAT_WIDGET_CONFIG,
                 kept: window.CometChatApp.CometChatAuth._config.authToken };
    }, cfg.authToken);
    ok(exposed.found.length === 0 && exposed.global === "undefined"
       && exposed.kept === "",
       "once started, the token is not readable on window outside the "
       + "SDK's storage (no global config; the config the widget keeps "
       + "has authToken blanked)",
       exposed);

    /* the stand-in is faithful: a stored user wins over a new token */
    const kept = await page.evaluate((c) => {
        const cfg2 = Object.assign({}, c, { authToken: "someone_1abc" });
        return window.CometChatApp.CometChatAuth.start(cfg2).then(
            () => window.__cometchatSession);
    }, cfg);
    ok(kept && kept.uid === uid && kept.source === "stored",
       "stand-in: with a user stored, start() stays logged in as that "
       + "user and ignores the new token (as the embed does)", kept);

    /* B signs in where Ada was, Ada never signed out */
    consoleLines.length = 0;
    await signIn(page, base, USER_NAME_B, "/profile");
    let visible = true;
    try {
        await button.waitFor({ state: "visible", timeout: TIMEOUT });
    } catch (e) {
        visible = false;
    }
    const sess = await page.evaluate(() => window.__cometchatSession);
    ok(visible && sess && sess.uid === uidB && sess.source === "token"
       && sess.authToken.startsWith(uidB + "_")
       && await button.getAttribute("data-uid") === uidB,
       `B signs in where Ada was: the widget is B's (${uidB}), logged in `
       + "with B's token, not Ada's stored session", sess);
    ok(consoleLines.some((l) => l.text === "[cometchat] another user's "
                                + "chat session was stored here: removed"),
       "the snippet said it removed the other user's session",
       consoleLines);
    st = await storage(page, appId);
    ok(st.user && st.user.uid === uidB && !holds(st, cfg.authToken)
       && !holds(st, uid),
       "storage now holds B's session and nothing of Ada's", st);

    /* B signs out: the page the app redirects to signs the browser out */
    consoleLines.length = 0;
    const [soResp] = await Promise.all([
        page.waitForResponse((r) => r.url() === base
                             && r.request().method() === "GET"),
        page.click("header button[type=submit]")]);
    await page.waitForURL(base);
    await page.waitForLoadState("load");
    const soHtml = await soResp.text();
    const soCookie = await soResp.headerValue("set-cookie");
    ok(soHtml.includes("[cometchat] signed out: chat session removed")
       && !soHtml.includes("CometChatAuth.start")
       && await button.count() === 0,
       "after sign-out, the next page has the sign-out snippet, no widget",
       soHtml.slice(-900));
    ok(soCookie === "cometchat_chat=; Max-Age=0; Path=/; HttpOnly; "
                    + "SameSite=Lax"
       && /private, no-cache/.test(await soResp.headerValue("cache-control")
                                   || ""),
       "... which expires the marker cookie and is private, no-cache",
       { soCookie });
    st = await storage(page, appId);
    ok(st.ours.length === 0 && !holds(st, uidB) && !holds(st, uid),
       "... and leaves nothing of B's (or Ada's) in localStorage or "
       + "sessionStorage", st);
    ok(!await markerCookie(context, base)
       && consoleLines.some((l) => l.text === "[cometchat] signed out: "
                                              + "chat session removed"),
       "the marker cookie is gone; the console shows the sign-out line",
       consoleLines);

    /* from now on an anonymous visitor: not one byte of ours */
    const resp = await page.goto(base);
    const html = await resp.text();
    const direct = await (await page.request.get(
        `http://127.0.0.1:${state.app_port}/`)).text();
    ok(html === direct && (await resp.headerValue("set-cookie")) === null,
       "the page after that, without the cookie: byte for byte the app's "
       + "own page, no Set-Cookie", { html: html.slice(-400),
                                      direct: direct.slice(-400) });
}

/*
 * CometChat's real JS SDK (@cometchat/chat-sdk-javascript, installed by
 * tools/deps-browser, served by nginx at /_test/lib/) in a
 * cometchat_snippet_file page (tools/browser/sdk-snippet.html). Its calls
 * to CometChat's servers are answered here, from the fake's tokens; its
 * WebSocket is closed at once.
 */
async function realSdk(context, { state, base, uid }) {
    const appId = state.app_id;
    const uidB = state.uid_prefix + APP_USER_ID_B;
    const fake = `http://127.0.0.1:${state.fake_port}`;
    const settings = {
        CLIENT_API_HOST: `${appId}.apiclient-${state.region}.cometchat.io`,
        ADMIN_API_HOST: `${appId}.api-${state.region}.cometchat.io`,
        CHAT_API_VERSION: "v3.0", APP_VERSION: 4,
        CHAT_HOST: "ws.cometchat.invalid", CHAT_WSS_PORT: "443",
        ANALYTICS_PING_DISABLED: true, MODE: "DEFAULT",
        settingsHash: "h1", settingsHashReceivedAt: 1,
    };
    const calls = [];
    let sockets = 0;

    async function uidOfToken(token) {
        const stats = await (await fetch(fake + "/_fake/stats")).json();
        for (const [u, list] of Object.entries(stats.tokens || {})) {
            if (token && list.includes(token)) {
                return u;
            }
        }
        return null;
    }

    await context.route(
        /^https:\/\/[^/]+\.(cometchat\.io|cc-cluster-2\.io)\//,
        async (route) => {
            const req = route.request();
            const url = new URL(req.url());
            const token = req.headers().authtoken || "";
            const cors = { "Access-Control-Allow-Origin": "*",
                           "Access-Control-Allow-Headers": "*",
                           "Access-Control-Allow-Methods": "*" };
            if (req.method() === "OPTIONS") {
                return route.fulfill({ status: 204, headers: cors });
            }
            const who = await uidOfToken(token);
            calls.push({ method: req.method(), path: url.pathname,
                         uid: who });
            let body = { data: [], meta: {} };
            if (url.pathname === "/v3.0/me" && req.method() === "PUT") {
                body = who
                    ? { data: { uid: who, name: who, authToken: token,
                                status: "available", role: "default",
                                settings } }
                    : { error: { code: "AUTH_ERR_AUTH_TOKEN_NOT_FOUND",
                                 message: "unknown auth token" } };
            } else if (url.pathname === "/v3.0/me") {
                body = { data: { success: true } };
            } else if (url.pathname === "/v3.0/settings") {
                body = { data: settings };
            } else if (url.pathname === "/v3.0/user_sessions") {
                body = { data: {} };
            }
            return route.fulfill({ status: 200, headers: cors,
                                   contentType: "application/json",
                                   body: JSON.stringify(body) });
        });
    await context.routeWebSocket(/.*/, (ws) => {
        sockets++;
        ws.close();
    });

    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    const result = async () => {
        const h = await page.waitForFunction(() => window.__sdkResult,
                                             null, { timeout: TIMEOUT });
        return h.jsonValue();
    };
    const loggedIn = () => page.evaluate(
        () => CometChat.getLoggedinUser().then((u) => u && u.getUid()));

    /* A */
    await signIn(page, base, USER_NAME, "/_test/sdk/profile");
    let r = await result();
    let who = await loggedIn();
    const putsA = calls.filter((c) => c.method === "PUT"
                                      && c.path === "/v3.0/me");
    ok(r.ok && r.uid === uid && who === uid && putsA.length >= 1
       && putsA.every((c) => c.uid === uid),
       `real SDK ${require("@cometchat/chat-sdk-javascript/package.json")
                   .version}: A signs in, login() with the module's token: `
       + `getLoggedinUser() is ${uid}`, { r, who, calls });
    let st = await storage(page, appId);
    const tokenA = st.user && st.user.authToken;
    ok(st.user && st.user.uid === uid && tokenA
       && tokenA.startsWith(uid + "_"),
       `the SDK stored A's session in ${appId}:common_store/user`, st);

    /* A signs out: the app's redirect lands on a page with the sign-out
       snippet; then the SDK on that page finds no one */
    await page.goto(base + "signout");
    await page.waitForLoadState("load");
    st = await storage(page, appId);
    ok(st.ours.length === 0 && !holds(st, tokenA) && !holds(st, uid),
       "real SDK: A signs out: nothing of A's in localStorage or "
       + "sessionStorage on the next page", st);
    await page.addScriptTag({ url: "/_test/lib/CometChat.js" });
    who = await page.evaluate(([app, region]) => CometChat.init(
        app, new CometChat.AppSettingsBuilder().setRegion(region).build())
        .then(() => CometChat.getLoggedinUser())
        .then((u) => u && u.getUid()), [appId, state.region]);
    ok(who === null,
       "... and CometChat.getLoggedinUser() there is null", who);

    /* B */
    await signIn(page, base, USER_NAME_B, "/_test/sdk/profile");
    r = await result();
    who = await loggedIn();
    ok(r.ok && r.uid === uidB && who === uidB,
       `real SDK: B signs in: getLoggedinUser() is ${uidB}`, { r, who });

    /* A signs in over B, B never signed out: the template logs B out */
    calls.length = 0;
    await signIn(page, base, USER_NAME, "/_test/sdk/profile");
    r = await result();
    who = await loggedIn();
    const del = calls.filter((c) => c.method === "DELETE"
                                    && c.path === "/v3.0/me");
    ok(r.ok && r.uid === uid && who === uid && del.length === 1
       && del[0].uid === uidB,
       "real SDK: A signs in where B was: B logged out (DELETE /v3.0/me "
       + "with B's token), then A logged in", { r, who, calls });
    ok(sockets > 0 && errors.length === 0,
       "the SDK's WebSocket was closed by the test; no page errors",
       { sockets, errors });
    await page.close();
}

/*
 * Issue 16: values in a URL attribute (allowed after a scheme) cannot
 * run script or break out of the attribute or the element. The link's
 * attribute and text are the raw value: the template escaped it for HTML
 * and the browser decoded it back.
 */
async function linkEscaping(context, { base }) {
    const payloads = ["x');document.body.setAttribute('data-pwned','yes');//",
                      "%27", "&#x27;", "</a>"];
    const page = await context.newPage();
    for (const p of payloads) {
        const url = base + "_test/link?room=" + p.replace(/#/g, "%23");
        /* what $arg_room gets: the WHATWG URL's query (as Chromium sends
           it) up to the next "&" */
        const sent = new URL(url).search.replace(/^\?room=/, "")
                                        .split("&")[0];
        await page.setExtraHTTPHeaders({ "X-Room": p });
        await page.goto(url);
        const got = await page.evaluate(() => {
            const a = document.getElementById("openchat");
            const h = document.getElementById("openchat-h");
            return {
                pwned: document.querySelectorAll("[data-pwned]").length,
                links: document.querySelectorAll("a[id^=openchat]").length,
                href: a && a.getAttribute("href"), text: a && a.textContent,
                hrefH: h && h.getAttribute("href"),
                textH: h && h.textContent, resolved: h && h.href,
            };
        });
        let clicked = null;
        if (got.resolved) {
            await Promise.all([page.waitForURL(got.resolved),
                               page.click("#openchat-h")]);
            clicked = page.url();
        }
        const after = await page.evaluate(
            () => document.querySelectorAll("[data-pwned]").length);
        ok(got.pwned === 0 && after === 0 && got.links === 2
           && got.href === "/chat?room=" + sent && got.text === sent
           && got.hrefH === "/chat?room=" + p && got.textH === p
           && clicked === got.resolved,
           `template URL attribute, payload ${JSON.stringify(p)}: no script `
           + "ran, href and text are the value as sent, the click "
           + "navigates to it", { sent, got, clicked });
    }
    await page.close();
}

const timer = setTimeout(() => {
    console.log(`not ok ${n + 1} - browser test finished within `
                + `${DEADLINE / 1000}s`);
    stopStack();
    process.exit(1);
}, DEADLINE);

main().then((rc) => {
    clearTimeout(timer);
    process.exitCode = rc;
}, (e) => {
    clearTimeout(timer);
    console.log(`not ok ${n + 1} - browser test crashed`);
    note(e.stack || String(e));
    console.log(`1..${n + 1}`);
    stopStack();
    process.exitCode = 1;
});
