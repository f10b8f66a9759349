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
 *   - after sign-out the widget is gone.
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
const TIMEOUT = 15000;
const DEADLINE = 180000;

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

    /* signing out takes the widget away */
    await Promise.all([page.waitForURL(base),
                       page.click("header button[type=submit]")]);
    resp = await page.goto(base);
    html = await resp.text();
    ok(!/CometChatApp/.test(html)
       && await page.locator("#cometchat-standin-button").count() === 0,
       "after sign-out: no widget", html.slice(-600));
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
