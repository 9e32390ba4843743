// netevd's read-only page: the API's own endpoints, live through its event stream. No framework,
// no external resource; every string from the daemon goes into the DOM as text, never as markup.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const STRIP_W = 1000;
const STRIP_H = 26;

const WINDOWS = [300, 900, 3600, 10800, 43200];

const state = {
  windowSec: 10800,
  /** the user picked a window: do not pick one from the uptime any more */
  windowChosen: false,
  status: null,
  interfaces: [],
  rules: [],
  routes: [],
  /** id → event (with .hooks) */
  events: new Map(),
  selected: null,
  source: null,
  refreshTimer: null,
};

// ---- small helpers ---------------------------------------------------------------------------
function $(id) {
  return document.getElementById(id);
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "title") e.title = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

const pad = (n) => String(n).padStart(2, "0");
function localTime(iso, withDate) {
  const d = new Date(iso);
  const t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return withDate ? `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${t}` : t;
}

function duration(sec) {
  const d = Math.floor(sec / 86400),
    h = Math.floor((sec % 86400) / 3600),
    m = Math.floor((sec % 3600) / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}min` : `${m}min ${sec % 60}s`;
}

function hookResult(h) {
  return h.ok ? "ok" : h.timedOut ? "timeout" : h.error ? `error: ${h.error}` : h.signal ? `killed by ${h.signal}` : `exit ${h.exitCode}`;
}

async function api(path) {
  const res = await fetch(path, { headers: { accept: "application/json" }, credentials: "same-origin", cache: "no-store" });
  if (res.status === 401) {
    showLogin();
    throw new Error("unauthorized");
  }
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

// ---- login -----------------------------------------------------------------------------------
function showLogin() {
  closeStream();
  $("app").hidden = true;
  $("window").parentElement.hidden = true;
  $("login").hidden = false;
  $("token").focus();
  setLive("off", "signed out");
}

async function login(ev) {
  ev.preventDefault();
  $("login-error").textContent = "";
  const res = await fetch("/api/v1/session", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token: $("token").value }),
  });
  $("token").value = "";
  if (!res.ok) {
    $("login-error").textContent = res.status === 401 ? "Wrong token." : `Sign-in failed (HTTP ${res.status}).`;
    return;
  }
  $("login").hidden = true;
  start();
}

// ---- data ------------------------------------------------------------------------------------
/** Until the user picks one: the shortest window that covers the daemon's uptime (a young daemon's flaps stay visible). */
function pickWindow(uptimeSec) {
  if (state.windowChosen) return;
  state.windowSec = WINDOWS.find((w) => w >= uptimeSec) || WINDOWS[WINDOWS.length - 1];
  $("window").value = String(state.windowSec);
}

async function loadAll() {
  if (!state.windowChosen) pickWindow((await api("/api/v1/status")).uptimeSec);
  const since = new Date(Date.now() - state.windowSec * 1000).toISOString();
  const [status, ifs, rules, routes, events] = await Promise.all([
    api("/api/v1/status"),
    api("/api/v1/interfaces"),
    api("/api/v1/rules"),
    api("/api/v1/routes"),
    api(`/api/v1/events?include=hooks&since=${encodeURIComponent(since)}`),
  ]);
  state.status = status;
  state.interfaces = ifs.interfaces;
  state.rules = rules.rules;
  state.routes = routes.routes;
  // merged, not replaced: what the stream delivered while this was loading stays (and so does a
  // previous daemon run's history after a restart)
  const fresh = new Map(events.events.map((e) => [e.id, e]));
  for (const [id, e] of state.events) if (!fresh.has(id) && Date.parse(e.ts) >= Date.parse(since)) fresh.set(id, e);
  state.events = new Map([...fresh.values()].sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts)).map((e) => [e.id, e]));
  renderAll();
}

/** The model changed: refresh the tables (at most every 300 ms), not on every event. */
function scheduleRefresh() {
  if (state.refreshTimer) return;
  state.refreshTimer = setTimeout(async () => {
    state.refreshTimer = null;
    try {
      const [status, ifs, rules, routes] = await Promise.all([api("/api/v1/status"), api("/api/v1/interfaces"), api("/api/v1/rules"), api("/api/v1/routes")]);
      state.status = status;
      state.interfaces = ifs.interfaces;
      state.rules = rules.rules;
      state.routes = routes.routes;
      renderHeader();
      renderHealth();
      renderReload();
      renderInterfaces();
      renderPolicy();
      renderFailures();
    } catch {
      /* the stream's error handler reports it */
    }
  }, 300);
}

function setLive(cls, text) {
  const l = $("live");
  l.className = `live ${cls}`;
  l.textContent = text;
}

function closeStream() {
  if (state.source) state.source.close();
  state.source = null;
}

function openStream() {
  closeStream();
  const es = new EventSource("/api/v1/events/stream?include=hooks");
  state.source = es;
  es.onopen = () => {
    setLive("on", "live");
    // the stream is open: the history loaded now has everything before it (also after a daemon
    // restart or a network break)
    loadAll().catch(fail);
  };
  es.onerror = () => setLive("off", "reconnecting…");
  es.onmessage = (m) => {
    const e = JSON.parse(m.data);
    const had = state.events.get(e.id);
    e.hooks = had ? had.hooks : [];
    state.events.set(e.id, e);
    // the event carries the link's state: show it now, the full refresh follows
    const l = e.link && state.interfaces.find((x) => x.index === e.index);
    if (l && e.event !== "link-removed") {
      for (const k of ["carrier", "operstate", "up"]) if (k in e.state) l[k] = e.state[k];
      renderInterfaces();
    }
    scheduleTimeline();
    scheduleRefresh();
  };
  es.addEventListener("hook", (m) => {
    const h = JSON.parse(m.data);
    const e = state.events.get(h.eventId);
    if (e) {
      e.hooks = (e.hooks || []).filter((x) => x.script !== h.script || x.startedAt !== h.startedAt).concat([h]);
      scheduleTimeline();
      if (!h.ok) renderFailures();
      if (state.selected === e.id) renderDetail();
    }
    if (!h.ok) scheduleRefresh();
  });
}

// ---- rendering -------------------------------------------------------------------------------
function renderAll() {
  renderHeader();
  renderHealth();
  renderReload();
  renderInterfaces();
  renderTimeline();
  renderFailures();
  renderPolicy();
  if (state.selected) renderDetail();
}

function renderHeader() {
  const s = state.status;
  $("meta").textContent = `${s.version} · ${s.backend} · pid ${s.pid} · up ${duration(s.uptimeSec)} · ${s.events.inHistory} events in history`;
}

function renderHealth() {
  const box = $("health");
  box.replaceChildren();
  for (const [name, h] of Object.entries(state.status.health.sources)) {
    box.append(
      el(
        "div",
        { class: `source ${h.ok ? "ok" : "bad"}`, "data-source": name },
        el("strong", {}, name),
        " ",
        h.state,
        h.detail ? el("span", { class: "reason" }, ` — ${h.detail}`) : null,
      ),
    );
  }
}

function renderReload() {
  const r = state.status.reload;
  const box = $("reload");
  box.replaceChildren();
  if (!r) {
    box.append(el("span", { class: "muted" }, `Configuration loaded at start (${localTime(state.status.startedAt, true)}); not reloaded since.`));
    return;
  }
  box.className = `reload ${r.ok ? "ok" : "bad"}`;
  box.append(el("span", {}, `Last reload ${localTime(r.at, true)}: `), el("strong", {}, r.ok ? "applied" : "rejected, the previous configuration stays in force"));
  if (!r.ok && r.problems) box.append(el("pre", {}, r.problems.join("\n")));
}

function backendText(b) {
  if (!b) return "–";
  const f = b.fields;
  const main = f.OperationalState || f.operational_state || f.state || f.State;
  const admin = f.AdministrativeState || f.administrative_state;
  return [main, admin].filter(Boolean).join(" / ") || b.backend;
}

function renderInterfaces() {
  const body = $("interfaces").tBodies[0];
  body.replaceChildren();
  for (const l of state.interfaces) {
    const addrs = el("td", { class: "addrs" });
    for (const a of l.addresses) {
      addrs.append(
        el(
          "div",
          {},
          `${a.address}/${a.prefixlen}`,
          a.tentative ? el("span", { class: "badge warn", title: "duplicate address detection not finished" }, "tentative") : null,
          a.scope !== "global" ? el("span", { class: "badge" }, a.scope) : null,
        ),
      );
    }
    if (!l.addresses.length) addrs.append("–");
    body.append(
      el(
        "tr",
        { "data-link": l.name },
        el("td", { class: "name" }, l.name, l.kind ? el("span", { class: "muted" }, ` ${l.kind}`) : null),
        el("td", {}, el("span", { class: `state ${l.operstate}` }, l.operstate), l.up ? null : el("span", { class: "muted" }, " (admin down)")),
        el("td", {}, el("span", { class: l.carrier ? "yes" : "no" }, l.carrier ? "yes" : "no")),
        addrs,
        el("td", {}, l.gateway || "–"),
        el("td", { title: l.backend ? JSON.stringify(l.backend.fields, null, 1) : "" }, backendText(l.backend)),
        el("td", {}, l.monitored ? "yes" : el("span", { class: "muted" }, "no")),
        el("td", {}, l.policyRouted ? "yes" : el("span", { class: "muted" }, "no")),
      ),
    );
  }
}

/** Links on the timeline: the monitored ones (not lo) and any with events in the window. */
function timelineLinks(events) {
  const names = new Set(state.interfaces.filter((l) => l.monitored && l.name !== "lo").map((l) => l.name));
  for (const e of events) if (e.link) names.add(e.link);
  return [...names];
}

let timelineFrame = 0;
/** at most one timeline render per frame, however fast events come */
function scheduleTimeline() {
  if (!timelineFrame)
    timelineFrame = requestAnimationFrame(() => {
      timelineFrame = 0;
      renderTimeline();
    });
}

function renderTimeline() {
  const now = Date.now();
  // a daemon younger than the window: the strip spans its life (at least a minute), not mostly nothing
  const from = Math.max(now - state.windowSec * 1000, Math.min(now - 60e3, Date.parse(state.status.startedAt) - 5e3));
  const x = (t) => 4 + ((t - from) / (now - from)) * (STRIP_W - 10);
  const started = Math.max(from, Date.parse(state.status.startedAt));
  const all = [...state.events.values()].filter((e) => Date.parse(e.ts) >= from).sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts));
  $("timeline-range").textContent = `${localTime(new Date(from).toISOString())} – ${localTime(new Date(now).toISOString())}`;
  const box = $("timeline");
  box.replaceChildren();
  box.append(axis(from, now, x));
  for (const link of timelineLinks(all)) {
    const events = all.filter((e) => e.link === link);
    const iface = state.interfaces.find((l) => l.name === link);
    const s = svg("svg", { viewBox: `0 0 ${STRIP_W} ${STRIP_H}`, preserveAspectRatio: "none", class: "strip", "data-link": link, role: "img" });
    // carrier band: the state after each event until the next one
    let carrier = events.length
      ? events[0].previous && typeof events[0].previous.carrier === "boolean"
        ? events[0].previous.carrier
        : events[0].state.carrier
      : iface
        ? iface.carrier
        : undefined;
    // before the daemon started there is no history: drawn as such, not as a state
    if (started > from) s.append(svg("rect", { x: x(from), y: 6, width: x(started) - x(from), height: 2, class: "nodata" }));
    let t0 = started;
    const band = (t1, on) => {
      if (on === undefined) return;
      const x0 = x(t0),
        w = Math.max(x(t1) - x0, on ? 0 : 2); // a short carrier loss stays visible
      s.append(svg("rect", { x: x0, y: 3, width: w, height: 8, class: on ? "up" : "down" }));
    };
    for (const e of events) {
      const t = Date.parse(e.ts);
      if (typeof e.state.carrier === "boolean" && e.state.carrier !== carrier) {
        band(t, carrier);
        t0 = t;
        carrier = e.state.carrier;
      }
    }
    band(now, carrier);
    for (const e of events) {
      const ex = x(Date.parse(e.ts));
      const failed = (e.hooks || []).some((h) => !h.ok);
      const tick = svg("rect", { x: ex - 1, y: 1, width: 2.5, height: 12, class: `tick ${e.event === "no-carrier" ? "loss" : ""}`, "data-event-id": e.id, "data-event": e.event });
      tick.append(Object.assign(svg("title"), { textContent: `${localTime(e.ts)} ${e.event}` }));
      s.append(tick);
      (e.hooks || []).forEach((h, i) => {
        const dot = svg("circle", { cx: ex, cy: 19 + (i % 2) * 0, r: 4, class: `hook ${h.ok ? "ok" : "fail"}`, "data-event-id": e.id, "data-script": h.script });
        dot.append(Object.assign(svg("title"), { textContent: `${localTime(h.startedAt)} ${h.script}: ${hookResult(h)}` }));
        s.append(dot);
      });
      if (failed) s.setAttribute("data-failed", "1");
    }
    s.addEventListener("click", (ev) => {
      const id = ev.target.getAttribute && ev.target.getAttribute("data-event-id");
      if (id) select(id);
    });
    box.append(el("div", { class: "row" }, el("div", { class: "label", title: link }, link), s));
  }
  if (!box.querySelector(".row")) box.append(el("p", { class: "muted" }, "No monitored links."));
}

function axis(from, now, x) {
  const a = svg("svg", { viewBox: `0 0 ${STRIP_W} 16`, preserveAspectRatio: "none", class: "axis" });
  const span = now - from;
  const step = [10e3, 30e3, 60e3, 300e3, 600e3, 1800e3, 3600e3, 7200e3].find((s) => span / s <= 8) || 3 * 3600e3;
  const labels = el("div", { class: "axis-labels" });
  for (let t = Math.ceil(from / step) * step; t <= now; t += step) {
    a.append(svg("line", { x1: x(t), x2: x(t), y1: 10, y2: 16, class: "grid" }));
    const d = new Date(t);
    labels.append(el("span", {}, step < 60e3 ? `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` : `${pad(d.getHours())}:${pad(d.getMinutes())}`));
    labels.lastChild.style.left = `${(x(t) / STRIP_W) * 100}%`;
  }
  return el("div", { class: "row axisrow" }, el("div", { class: "label" }), el("div", { class: "axiswrap" }, labels, a));
}

function select(id) {
  state.selected = id;
  renderDetail();
  $("detail").scrollIntoView({ block: "nearest" });
}

function renderDetail() {
  const box = $("detail");
  const e = state.events.get(state.selected);
  box.replaceChildren();
  if (!e) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const close = el("button", { class: "close", type: "button", title: "close" }, "×");
  close.addEventListener("click", () => {
    state.selected = null;
    box.hidden = true;
  });
  box.append(el("h3", {}, `${localTime(e.ts, true)} · ${e.event} on ${e.link || "(manager)"} · ${e.id}`), close);
  const hooks = e.hooks || [];
  if (hooks.length) {
    for (const h of hooks) {
      box.append(
        el(
          "div",
          { class: `hookrun ${h.ok ? "ok" : "fail"}`, "data-script": h.script },
          el("div", {}, el("strong", {}, h.script), ` ${hookResult(h)} · ${h.durationMs.toFixed(1)} ms · started ${localTime(h.startedAt)}`),
          h.stderrTail.length ? el("pre", { class: "stderr" }, h.stderrTail.join("\n")) : el("div", { class: "muted" }, "no output on stderr"),
        ),
      );
    }
  } else {
    box.append(el("p", { class: "muted" }, "No hook ran for this event (none installed, or its result is not in the history)."));
  }
  const copy = { ...e };
  delete copy.hooks;
  box.append(el("details", { open: true }, el("summary", {}, "event JSON"), el("pre", { class: "json" }, JSON.stringify(copy, null, 2))));
}

function renderFailures() {
  const box = $("failures");
  box.replaceChildren();
  const failures = [];
  for (const e of state.events.values()) for (const h of e.hooks || []) if (!h.ok) failures.push(h);
  // the status keeps the last hour's even if their events left the window
  for (const f of state.status.hooks.recentFailures || []) {
    if (!failures.some((h) => h.eventId === f.eventId && h.script === f.script && h.startedAt === f.startedAt)) {
      failures.push({ ...f, stderrTail: f.lastStderr ? [f.lastStderr] : [], summary: f.result });
    }
  }
  failures.sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt));
  if (!failures.length) {
    box.append(el("p", { class: "muted" }, "No failed hook runs in the history."));
    return;
  }
  const t = el(
    "table",
    { class: "grid failures" },
    el("thead", {}, el("tr", {}, ...["Time", "Link", "Event", "Script", "Result", "stderr (last lines)"].map((h) => el("th", {}, h)))),
  );
  const body = el("tbody");
  for (const h of failures.slice(0, 10)) {
    const tr = el(
      "tr",
      { class: "clickable", "data-event-id": h.eventId },
      el("td", {}, localTime(h.startedAt, true)),
      el("td", {}, h.link || "–"),
      el("td", {}, h.event),
      el("td", {}, h.script),
      el("td", { class: "no" }, h.summary || hookResult(h)),
      el("td", {}, el("pre", { class: "stderr" }, h.stderrTail.slice(-3).join("\n") || "–")),
    );
    tr.addEventListener("click", () => {
      if (state.events.has(h.eventId)) select(h.eventId);
    });
    body.append(tr);
  }
  t.append(body);
  box.append(t);
}

function renderPolicy() {
  const box = $("policy");
  box.replaceChildren();
  const links = state.interfaces.filter((l) => l.policyRouted);
  const ours = state.rules.filter((r) => r.ours);
  if (!links.length && !ours.length) {
    box.append(el("p", { class: "muted" }, "No link is policy-routed (routing.policy_rules is empty)."));
    return;
  }
  for (const l of links) {
    // the link's tables: where its routes are, beyond main/local/default
    const tables = new Set(state.routes.filter((r) => r.dev === l.name && ![253, 254, 255].includes(r.table)).map((r) => r.table));
    for (const r of ours) if (r.oif === l.name || r.iif === l.name) tables.add(r.table);
    const rules = state.rules.filter((r) => tables.has(r.table) || r.oif === l.name || r.iif === l.name);
    const routes = state.routes.filter((r) => tables.has(r.table));
    const card = el(
      "div",
      { class: "card", "data-link": l.name },
      el("h3", {}, l.name, el("span", { class: "muted" }, tables.size ? ` table ${[...tables].join(", ")}` : " (no table yet)")),
    );
    card.append(el("div", { class: "sub" }, "rules"), ruleTable(rules), el("div", { class: "sub" }, "routes"), routeTable(routes));
    box.append(card);
  }
}

function ruleTable(rules) {
  if (!rules.length) return el("p", { class: "muted" }, "none");
  return el(
    "table",
    { class: "grid small" },
    el("thead", {}, el("tr", {}, ...["prio", "from", "to", "iif", "oif", "action", "table", ""].map((h) => el("th", {}, h)))),
    el(
      "tbody",
      {},
      rules.map((r) =>
        el(
          "tr",
          { class: r.ours ? "ours" : "" },
          el("td", {}, r.priority ?? "–"),
          el("td", {}, r.src),
          el("td", {}, r.dst),
          el("td", {}, r.iif || "–"),
          el("td", {}, r.oif || "–"),
          el("td", {}, r.action),
          el("td", {}, r.tableName || r.table),
          el("td", {}, r.ours ? el("span", { class: "badge ours" }, "netevd") : ""),
        ),
      ),
    ),
  );
}

function routeTable(routes) {
  if (!routes.length) return el("p", { class: "muted" }, "none");
  return el(
    "table",
    { class: "grid small" },
    el("thead", {}, el("tr", {}, ...["dst", "gateway", "dev", "table", "proto", "metric", ""].map((h) => el("th", {}, h)))),
    el(
      "tbody",
      {},
      routes.map((r) =>
        el(
          "tr",
          { class: r.ours ? "ours" : "" },
          el("td", {}, r.dst),
          el("td", {}, r.gateway || "–"),
          el("td", {}, r.dev || "–"),
          el("td", {}, r.tableName || r.table),
          el("td", {}, r.protocolName || r.protocol),
          el("td", {}, r.metric ?? "–"),
          el("td", {}, r.ours ? el("span", { class: "badge ours" }, "netevd") : ""),
        ),
      ),
    ),
  );
}

function fail(err) {
  if (err && err.message === "unauthorized") return;
  const f = $("fatal");
  f.hidden = false;
  f.textContent = `Cannot load from the daemon: ${err && err.message ? err.message : err}`;
}

// ---- start -----------------------------------------------------------------------------------
async function start() {
  try {
    const s = await (await fetch("/api/v1/session", { credentials: "same-origin", cache: "no-store" })).json();
    if (s.required && !s.authorized) {
      showLogin();
      return;
    }
    $("logout").hidden = !s.required;
    await loadAll();
    $("fatal").hidden = true;
    $("app").hidden = false;
    $("window").parentElement.hidden = false;
    openStream();
  } catch (err) {
    fail(err);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", (ev) => {
    login(ev).catch(fail);
  });
  $("logout").addEventListener("click", () => {
    fetch("/api/v1/session", { method: "POST", credentials: "same-origin", headers: { "content-type": "application/json" }, body: JSON.stringify({ logout: true }) }).then(() => {
      $("logout").hidden = true;
      showLogin();
    }, fail);
  });
  $("window").addEventListener("change", () => {
    state.windowSec = Number($("window").value);
    state.windowChosen = true;
    loadAll().catch(fail);
  });
  // the strip's right edge is "now": move it along (the page's own timer; the daemon has none)
  // what no event announces (a reload, a source's health) is refreshed now and then while the page is open
  setInterval(() => {
    if (state.status && !document.hidden) {
      renderTimeline();
      scheduleRefresh();
    }
  }, 15000);
  start();
});
