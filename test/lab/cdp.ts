// A minimal Chrome DevTools Protocol client over --remote-debugging-pipe (fds 3 and 4, messages
// separated by NUL): headless Debian chromium driven without a WebSocket library or puppeteer's
// browser download. Enough for one page: navigate, evaluate, watch console/network, screenshot.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";

export const CHROMIUM = "/usr/bin/chromium";

type Json = Record<string, unknown>;
interface Pending {
  resolve: (v: Json) => void;
  reject: (e: Error) => void;
  method: string;
}

export class Browser {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(method: string, params: Json, sessionId?: string) => void>();
  private buf = "";
  readonly stderr: string[] = [];

  private constructor(
    private readonly child: ChildProcess,
    private readonly profile: string,
  ) {
    const out = child.stdio[4] as Readable;
    out.setEncoding("utf8");
    out.on("data", (chunk: string) => {
      this.buf += chunk;
      let nul: number;
      while ((nul = this.buf.indexOf("\0")) >= 0) {
        const msg = JSON.parse(this.buf.slice(0, nul)) as { id?: number; result?: Json; error?: { message: string }; method?: string; params?: Json; sessionId?: string };
        this.buf = this.buf.slice(nul + 1);
        if (msg.id !== undefined) {
          const p = this.pending.get(msg.id);
          this.pending.delete(msg.id);
          if (msg.error) p?.reject(new Error(`${p.method}: ${msg.error.message}`));
          else p?.resolve(msg.result ?? {});
        } else if (msg.method) {
          for (const l of this.listeners) l(msg.method, msg.params ?? {}, msg.sessionId);
        }
      }
    });
    child.stderr?.on("data", (d: Buffer) => {
      if (this.stderr.length < 200) this.stderr.push(d.toString());
    });
    this.exited = new Promise((res) =>
      child.on("exit", () => {
        for (const p of this.pending.values()) p.reject(new Error(`${p.method}: chromium exited\n${this.stderr.join("").slice(-2000)}`));
        this.pending.clear();
        res();
      }),
    );
  }

  private readonly exited: Promise<void>;

  static launch(): Browser {
    const profile = mkdtempSync(join(tmpdir(), "netevd-chromium-"));
    const child = spawn(
      CHROMIUM,
      [
        "--headless=new",
        "--no-sandbox",
        "--remote-debugging-pipe",
        `--user-data-dir=${profile}`,
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--mute-audio",
        "--font-render-hinting=none",
        "about:blank",
      ],
      { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] },
    );
    return new Browser(child, profile);
  }

  send(method: string, params: Json = {}, sessionId?: string): Promise<Json> {
    const id = this.nextId++;
    const msg: Json = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      (this.child.stdio[3] as Writable).write(JSON.stringify(msg) + "\0");
    });
  }

  on(fn: (method: string, params: Json, sessionId?: string) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** A new tab, attached (flat session), with the domains the tests watch enabled. */
  async newPage(width = 1280, height = 800): Promise<Page> {
    const { targetId } = (await this.send("Target.createTarget", { url: "about:blank" })) as { targetId: string };
    const { sessionId } = (await this.send("Target.attachToTarget", { targetId, flatten: true })) as { sessionId: string };
    const page = new Page(this, sessionId);
    for (const d of ["Page", "Runtime", "Network", "Log"]) await page.send(`${d}.enable`);
    await page.send("Emulation.setDeviceMetricsOverride", { width, height, deviceScaleFactor: 1, mobile: false });
    return page;
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null) {
      this.send("Browser.close").catch(() => {});
      let t: NodeJS.Timeout | undefined;
      await Promise.race([
        this.exited,
        new Promise((r) => {
          t = setTimeout(r, 3000);
        }),
      ]);
      clearTimeout(t);
      if (this.child.exitCode === null) {
        this.child.kill("SIGKILL");
        await this.exited;
      }
    }
    rmSync(this.profile, { recursive: true, force: true, maxRetries: 3 });
  }
}

export interface PageProblem {
  kind: string;
  text: string;
}

export class Page {
  /** console errors, uncaught exceptions, failed and 4xx/5xx requests, as they happen */
  readonly problems: PageProblem[] = [];
  private loaded: (() => void) | undefined;

  constructor(
    private readonly browser: Browser,
    readonly sessionId: string,
  ) {
    const urls = new Map<string, string>();
    browser.on((method, p, sid) => {
      if (sid !== sessionId) return;
      switch (method) {
        case "Runtime.consoleAPICalled":
          if (p.type === "error" || p.type === "assert") this.problems.push({ kind: "console", text: JSON.stringify(p.args) });
          break;
        case "Runtime.exceptionThrown":
          this.problems.push({ kind: "exception", text: JSON.stringify((p.exceptionDetails as Json | undefined)?.exception ?? p.exceptionDetails) });
          break;
        case "Log.entryAdded": {
          const e = p.entry as { level: string; text: string; url?: string };
          if (e.level === "error") this.problems.push({ kind: "log", text: `${e.text} ${e.url ?? ""}` });
          break;
        }
        case "Network.requestWillBeSent":
          urls.set(p.requestId as string, (p.request as { url: string }).url);
          break;
        case "Network.responseReceived": {
          const r = p.response as { status: number; url: string };
          if (r.status >= 400) this.problems.push({ kind: "http", text: `${r.status} ${r.url}` });
          break;
        }
        case "Network.loadingFailed":
          // an EventSource closed by navigation or teardown reports "canceled": not a failure
          if (!p.canceled) this.problems.push({ kind: "network", text: `${p.errorText} ${urls.get(p.requestId as string) ?? ""}` });
          break;
        case "Page.loadEventFired":
          this.loaded?.();
          break;
      }
    });
  }

  send(method: string, params: Json = {}): Promise<Json> {
    return this.browser.send(method, params, this.sessionId);
  }

  async goto(url: string, timeoutMs = 15_000): Promise<void> {
    const loaded = new Promise<void>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`${url} did not load within ${timeoutMs} ms`)), timeoutMs);
      this.loaded = () => {
        clearTimeout(t);
        res();
      };
    });
    const r = (await this.send("Page.navigate", { url })) as { errorText?: string };
    if (r.errorText) throw new Error(`navigate ${url}: ${r.errorText}`);
    await loaded;
  }

  /** Evaluate an expression in the page; resolves with its (JSON-able) value. */
  async eval<T = unknown>(expression: string): Promise<T> {
    const r = (await this.send("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true })) as { result: { value?: T }; exceptionDetails?: Json };
    if (r.exceptionDetails) throw new Error(`evaluate failed: ${JSON.stringify(r.exceptionDetails)}`);
    return r.result.value as T;
  }

  /** Poll `expression` until it is truthy; resolves with its value. */
  async waitFor<T = unknown>(what: string, expression: string, timeoutMs = 5000, everyMs = 25): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = await this.eval<T>(expression);
      if (v) return v;
      if (Date.now() > end) throw new Error(`page: ${what} not within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }

  async click(selector: string): Promise<void> {
    const ok = await this.eval<boolean>(`(() => { const e = document.querySelector(${JSON.stringify(selector)}); if (!e) return false;
      e.dispatchEvent(new MouseEvent("click", { bubbles: true })); return true; })()`);
    if (!ok) throw new Error(`no element ${selector}`);
  }

  async screenshot(fullPage = false): Promise<Buffer> {
    const params: Json = { format: "png" };
    if (fullPage) params.captureBeyondViewport = true;
    const { data } = (await this.send("Page.captureScreenshot", params)) as { data: string };
    return Buffer.from(data, "base64");
  }
}
