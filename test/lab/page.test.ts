// The web page at / in a real browser (Debian's headless chromium over the DevTools protocol)
// against a running daemon: it loads cleanly, shows a carrier flap on the link's timeline within a
// second, a failing hook's stderr, and works beyond loopback with the token (session cookie).
// Screenshots land in test-artifacts/ (not in git) to be looked at.
import { test } from "node:test";
import assert from "node:assert/strict";
import { request, type IncomingHttpHeaders } from "node:http";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { DaemonProcess, hookTree, ip, ipSrv, lab, labFile, repoRoot, waitFor, writeConfig } from "./lab.js";
import { Browser, CHROMIUM, type Page } from "./cdp.js";

const PORT = 9090;
const TOKEN = "page-token-0123456789";
const ARTIFACTS = resolve(repoRoot, "test-artifacts");
const PAGE_ADDR = "10.88.0.2";

interface Res {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}
function http(path: string, o: { method?: string; host?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Res> {
  return new Promise((res, rej) => {
    const req = request({ host: o.host ?? "127.0.0.1", port: PORT, path, method: o.method ?? "GET", headers: o.headers, agent: false }, (r) => {
      const chunks: Buffer[] = [];
      r.on("data", (c: Buffer) => chunks.push(c));
      r.on("end", () => res({ status: r.statusCode ?? 0, headers: r.headers, text: Buffer.concat(chunks).toString() }));
    });
    req.on("error", rej);
    req.end(o.body);
  });
}

// hooks get argv=[path] only: they read the environment
const failing = `#!/bin/sh
echo "checking uplink $LINK" >&2
echo "uplink check failed for $LINK: gateway unreachable (state $STATE)" >&2
exit 3
`;
const passing = `#!/bin/sh
echo "$LINK lost carrier" >> $OUT/ok.log
`;

async function lab0Up(): Promise<void> {
  await ip("link", "set", lab.ifname, "up");
  await ipSrv("link", "set", lab.peer, "up");
  await waitFor("lab0 carrier", async () => (await ip("-o", "link", "show", lab.ifname)).includes("LOWER_UP"), 5000);
}
const carrier = (on: boolean) => ipSrv("link", "set", lab.peer, on ? "up" : "down");

function saveShot(name: string, png: Buffer): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, name);
  writeFileSync(path, png);
  return path;
}

/** Signs in through the page's form if it asks (as a person would). */
async function signIn(page: Page): Promise<void> {
  await page.waitFor("login form", `!document.getElementById("login").hidden`);
  await page.eval(`(() => { document.getElementById("token").value = ${JSON.stringify(TOKEN)};
    document.getElementById("login").requestSubmit(); })()`);
}

/** The ids of the events drawn on a link's strip. */
const stripIds = (page: Page, link: string) =>
  page.eval<string[]>(`[...document.querySelectorAll('svg.strip[data-link="${link}"] rect.tick')].map((r) => r.getAttribute("data-event-id"))`);

if (labFile(import.meta.url)) {
  test.before(async () => {
    await lab0Up();
    await ip("addr", "add", `${PAGE_ADDR}/24`, "dev", lab.ifname);
    await ipSrv("addr", "add", "10.88.0.1/24", "dev", lab.peer);
  });

  test(
    "the page: clean load, live carrier flap on the timeline, a failing hook's stderr, beyond loopback with the token",
    { skip: !existsSync(CHROMIUM) && "chromium is not installed (scripts/setup.sh installs it for tests)" },
    async () => {
      const { base, out } = hookTree({ "carrier.d": { "50-uplink-check": failing }, "no-carrier.d": { "10-log": passing } });
      const cfg = writeConfig(
        `system:\n  backend: none\n  scripts_dir: ${base}\nhooks:\n  replay_on_start: false\n` +
          `routing:\n  policy_rules: [${lab.ifname}]\napi:\n  listen: "0.0.0.0:${PORT}"\n  token: ${TOKEN}\n`,
      );
      const d = DaemonProcess.start(["run", "-c", cfg]);
      const browser = Browser.launch();
      try {
        await d.waitRecord((r) => r.msg === "ready", 10_000);

        // headers of the page itself, and what the cookie may and may not do
        const index = await http("/", { host: PAGE_ADDR });
        assert.equal(index.status, 200);
        assert.match(
          String(index.headers["content-security-policy"]),
          /^default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'$/,
        );
        assert.doesNotMatch(index.text, /<script>|<style>|\son[a-z]+=|style="|https?:\/\//i, "no inline script or style, no external resource");
        assert.equal((await http("/api/v1/status", { host: PAGE_ADDR })).status, 401, "reads need the token beyond loopback");
        const badLogin = await http("/api/v1/session", {
          method: "POST",
          host: PAGE_ADDR,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ token: "nope-nope-nope" }),
        });
        assert.equal(badLogin.status, 401);
        const tooFast = await http("/api/v1/session", { method: "POST", host: PAGE_ADDR, headers: { "content-type": "application/json" }, body: JSON.stringify({ token: TOKEN }) });
        assert.equal(tooFast.status, 429, "one sign-in attempt per second, even with the right token");
        await new Promise((r) => setTimeout(r, 1100));
        const crossSite = await http("/api/v1/session", {
          method: "POST",
          host: PAGE_ADDR,
          headers: { "content-type": "application/json", origin: "http://evil.example" },
          body: JSON.stringify({ token: TOKEN }),
        });
        assert.equal(crossSite.status, 403, "a login from another origin is refused");
        const login = await http("/api/v1/session", { method: "POST", host: PAGE_ADDR, headers: { "content-type": "application/json" }, body: JSON.stringify({ token: TOKEN }) });
        assert.equal(login.status, 200);
        const setCookie = String(login.headers["set-cookie"]);
        assert.match(setCookie, /^netevd_session=\d+\.[A-Za-z0-9_-]{43}; Path=\/; Max-Age=43200; HttpOnly; SameSite=Strict$/);
        assert.ok(!setCookie.includes(TOKEN), "the cookie is derived from the token, not the token");
        const cookie = setCookie.split(";")[0]!;
        assert.equal((await http("/api/v1/status", { host: PAGE_ADDR, headers: { cookie } })).status, 200, "the session cookie authorizes reads");
        assert.equal((await http("/api/v1/status", { host: PAGE_ADDR, headers: { cookie: `${cookie.slice(0, -2)}AA` } })).status, 401, "a forged cookie does not");
        const csrf = await http("/api/v1/trigger", {
          method: "POST",
          host: PAGE_ADDR,
          headers: { cookie, "content-type": "application/json" },
          body: JSON.stringify({ link: lab.ifname, event: "carrier" }),
        });
        assert.equal(csrf.status, 401, "the cookie never authorizes a mutating endpoint");

        // the page, as a person sees it
        await new Promise((r) => setTimeout(r, 1100));
        const page = await browser.newPage(1280, 800);
        await page.goto(`http://${PAGE_ADDR}:${PORT}/`);
        await page.waitFor("login form", `!document.getElementById("login").hidden`);
        saveShot("page-login.png", await page.screenshot());
        assert.ok(!(await page.eval<string>("location.href")).includes(TOKEN));
        await signIn(page);
        await page.waitFor("app shown", `!document.getElementById("app").hidden && document.querySelector('#interfaces tr[data-link="${lab.ifname}"]')`);
        await page.waitFor("live stream", `document.getElementById("live").textContent === "live"`);
        const row = await page.eval<string>(`document.querySelector('#interfaces tr[data-link="${lab.ifname}"]').innerText`);
        assert.match(row, new RegExp(`${PAGE_ADDR}/24`), "the link's address in the interface table");
        const health = await page.eval<string>(`document.getElementById("health").innerText`);
        assert.match(health, /kernel\s+synced/);
        await page.waitFor("policy routing of lab0 with our rule", `document.querySelector('#policy .card[data-link="${lab.ifname}"] tr.ours')`, 5000);

        // a carrier flap appears on lab0's strip within a second of each change
        const before = new Set(await stripIds(page, lab.ifname));
        await carrier(false);
        const downAt = Date.now();
        await page.waitFor("no-carrier on the timeline", `document.querySelector('svg.strip[data-link="${lab.ifname}"] rect.tick[data-event="no-carrier"]')`, 1000, 10);
        const downMs = Date.now() - downAt;
        await carrier(true);
        const upAt = Date.now();
        await page.waitFor("carrier on the timeline", `document.querySelector('svg.strip[data-link="${lab.ifname}"] rect.tick[data-event="carrier"]')`, 1000, 10);
        const upMs = Date.now() - upAt;
        // two more flaps a few seconds apart, for the picture
        for (let i = 0; i < 2; i++) {
          await new Promise((r) => setTimeout(r, 2500));
          await carrier(false);
          await new Promise((r) => setTimeout(r, 800));
          await carrier(true);
        }
        await page.waitFor("all flaps drawn", `document.querySelectorAll('svg.strip[data-link="${lab.ifname}"] rect.tick[data-event="carrier"]').length >= 3`, 3000);
        const drawn = (await stripIds(page, lab.ifname)).filter((id) => !before.has(id));
        const events = JSON.parse((await http(`/api/v1/events?link=${lab.ifname}`, { headers: { authorization: `Bearer ${TOKEN}` } })).text).events as Array<{
          id: string;
          event: string;
        }>;
        const flap = events.filter((e) => e.event === "no-carrier" || e.event === "carrier").map((e) => e.id);
        assert.deepEqual(
          drawn.filter((id) => flap.includes(id)),
          flap,
          "exactly the daemon's flap events are drawn",
        );
        assert.ok(await page.eval(`!!document.querySelector('svg.strip[data-link="${lab.ifname}"] rect.down')`), "the carrier loss is drawn on the band");

        // the failing hook: red on the strip, its stderr in the failures list and in the detail
        await page.waitFor("3 failed hook marks", `document.querySelectorAll('svg.strip[data-link="${lab.ifname}"] circle.hook.fail').length >= 3`, 5000);
        await page.waitFor("failed hook mark", `document.querySelector('svg.strip[data-link="${lab.ifname}"] circle.hook.fail[data-script="50-uplink-check"]')`, 5000);
        await page.waitFor("failure listed with its stderr", `document.getElementById("failures").innerText.includes("gateway unreachable (state carrier)")`, 5000);
        await page.waitFor("ok hook mark", `document.querySelector('svg.strip[data-link="${lab.ifname}"] circle.hook.ok[data-script="10-log"]')`, 5000);
        assert.ok(existsSync(join(out, "ok.log")));
        await page.waitFor("three failures listed", `document.querySelectorAll("#failures tbody tr").length === 3`, 3000);
        await page.waitFor("the table shows the carrier back", `document.querySelector('#interfaces tr[data-link="${lab.ifname}"] td:nth-child(3)').innerText === "yes"`, 3000);
        const overview = await page.screenshot();
        saveShot("page-overview.png", overview);
        await page.click(`svg.strip[data-link="${lab.ifname}"] circle.hook.fail[data-script="50-uplink-check"]`);
        const detail = await page.waitFor<string>(
          "detail with stderr and the event JSON",
          `(() => { const d = document.getElementById("detail");
        return !d.hidden && d.innerText.includes("uplink check failed for ${lab.ifname}") && d.querySelector("pre.json") ? d.innerText : ""; })()`,
        );
        assert.match(detail, /exit 3/);
        assert.match(detail, /"schema": "netevd.event.v1"/);
        await page.eval(`document.getElementById("detail").scrollIntoView({ block: "center" })`);
        saveShot("page-detail.png", await page.screenshot());
        saveShot("page-full.png", await page.screenshot(true));

        assert.deepEqual(page.problems, [], "no console error and no failed request");
        assert.equal(await page.eval("document.cookie"), "", "the session cookie is HttpOnly: the page's script cannot read it");
        // signing out ends the session: the form is back, the stream closed
        await page.click("#logout");
        await page.waitFor("login form after sign-out", `!document.getElementById("login").hidden && document.getElementById("app").hidden`);
        assert.equal(await page.eval(`fetch("/api/v1/status").then((r) => r.status)`), 401);
        assert.ok(!d.records.some((r) => typeof r.path === "string" && r.path.includes(TOKEN)), "the token is in no logged URL");
        process.stdout.write(`# flap drawn after ${downMs} ms (down) and ${upMs} ms (up)\n`);

        // a rejected reload: the page says so, with the reasons
        await page.goto(`http://${PAGE_ADDR}:${PORT}/`);
        await new Promise((r) => setTimeout(r, 1100));
        await signIn(page);
        await page.waitFor("app back", `!document.getElementById("app").hidden`);
        writeFileSync(cfg, `system:\n  backend: none\n  scripts_dir: ${base}\nhooks:\n  timeout_sec: -3\napi:\n  listen: "0.0.0.0:${PORT}"\n  token: ${TOKEN}\n`);
        assert.equal((await http("/api/v1/reload", { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } })).status, 422);
        await page.eval(`document.getElementById("window").dispatchEvent(new Event("change"))`);
        const rejected = await page.waitFor<string>("rejected reload shown", `document.querySelector("#reload.bad")?.innerText`, 5000);
        assert.match(rejected, /rejected, the previous configuration stays in force/);
        assert.match(rejected, /hooks\.timeout_sec/);
        saveShot("page-reload-rejected.png", await page.screenshot());

        // api.dashboard: false turns the page off (reloaded, no restart)
        writeFileSync(cfg, `system:\n  backend: none\n  scripts_dir: ${base}\napi:\n  listen: "0.0.0.0:${PORT}"\n  token: ${TOKEN}\n  dashboard: false\n`);
        const reload = await http("/api/v1/reload", { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
        assert.equal(reload.status, 200, reload.text);
        assert.equal((await http("/")).status, 404);
        assert.equal((await http("/page/app.js")).status, 404);
      } finally {
        await browser.close();
        await d.stop();
      }
    },
  );
}

if (process.env.NETEVD_IN_LAB === "1") {
  test(
    "the page on loopback needs no sign-in; a degraded source shows its reason; it reconnects by itself after a daemon restart",
    { skip: !existsSync(CHROMIUM) && "chromium is not installed" },
    async () => {
      const { base } = hookTree({});
      // no networkd runs in this lab: the backend source is degraded, with a reason
      const cfg = writeConfig(`system:\n  backend: systemd-networkd\n  scripts_dir: ${base}\nhooks:\n  replay_on_start: false\n`);
      const d = DaemonProcess.start(["run", "-c", cfg]);
      let d2: DaemonProcess | undefined;
      const browser = Browser.launch();
      try {
        await d.waitRecord((r) => r.msg === "ready", 10_000);
        const health = JSON.parse((await http("/health")).text) as { sources: Record<string, { ok: boolean; detail?: string; state: string }> };
        const nd = health.sources["systemd-networkd"]!;
        assert.equal(nd.ok, false);
        const page = await browser.newPage(1280, 800);
        await page.goto(`http://127.0.0.1:${PORT}/`);
        await page.waitFor("app shown without a login", `!document.getElementById("app").hidden && document.getElementById("login").hidden`);
        const banner = await page.waitFor<string>("degraded banner", `document.querySelector('#health .source.bad[data-source="systemd-networkd"]')?.innerText`);
        assert.ok(banner.includes(nd.state), banner);
        if (nd.detail) assert.ok(banner.includes(nd.detail), `${banner} shows the reason ${nd.detail}`);
        assert.equal(await page.eval(`document.getElementById("logout").hidden`), true, "no sign-out where there is no sign-in");
        saveShot("page-degraded.png", await page.screenshot());
        assert.deepEqual(page.problems, []);

        // the daemon restarts: the page says so, reconnects by itself and is live again
        await d.stop();
        await page.waitFor("reconnecting shown", `document.getElementById("live").textContent.startsWith("reconnecting")`, 5000);
        d2 = DaemonProcess.start(["run", "-c", cfg]);
        await d2.waitRecord((r) => r.msg === "ready", 10_000);
        await page.waitFor("live again", `document.getElementById("live").textContent === "live"`, 15_000);
        await ipSrv("link", "set", lab.peer, "down");
        await page.waitFor("an event of the new run on the timeline", `document.querySelector('svg.strip[data-link="${lab.ifname}"] rect.tick[data-event="no-carrier"]')`, 3000);
        await ipSrv("link", "set", lab.peer, "up");
      } finally {
        await browser.close();
        await d.stop();
        await d2?.stop();
      }
    },
  );
}
