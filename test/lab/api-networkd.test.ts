// The API with the systemd-networkd backend: interfaces carry networkd's own view of each link (as
// networkd reports it on the bus), and /health follows networkd's presence.
import { test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { busNamePid, DaemonProcess, hookTree, ip, lab, labFile, repoRoot, sh, waitFor, writeConfig } from "./lab.js";

const SOCKET = "/run/netevd/netevd.sock";

/** A JSON answer: the tests read it as they expect it to be (a wrong shape fails an assertion). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

function get(path: string): Promise<{ status: number; json: Json; text: string }> {
  return new Promise((res, rej) => {
    const req = request({ socketPath: SOCKET, path, agent: false }, (r) => {
      let text = "";
      r.on("data", (c: Buffer) => {
        text += c.toString();
      });
      r.on("end", () => res({ status: r.statusCode ?? 0, json: path === "/metrics" ? null : JSON.parse(text), text }));
    });
    req.on("error", rej);
    req.end();
  });
}

/** A property of networkd's Link object for an ifindex, as networkd itself reports it. */
async function linkProperty(index: number, prop: string): Promise<string> {
  const path = `/org/freedesktop/network1/link/_3${index}`;
  const out = await sh(["busctl", "--system", "get-property", "org.freedesktop.network1", path, "org.freedesktop.network1.Link", prop]);
  return JSON.parse(out.trim().replace(/^s /, "")) as string;
}

const networkdPid = (): Promise<number> => busNamePid("org.freedesktop.network1");

if (labFile(import.meta.url, { backend: "networkd" })) {
  test("interfaces carry networkd's link states; /health and `netevd status` follow networkd's presence", async () => {
    const { base } = hookTree({});
    const d = DaemonProcess.start(["run", "-c", writeConfig(`system:\n  backend: systemd-networkd\n  scripts_dir: ${base}\n`)]);
    try {
      await d.waitRecord((r) => r.msg === "API listening");
      await d.waitRecord((r) => r.msg === "ready");
      const index = JSON.parse(await ip("-j", "link", "show", lab.ifname))[0].ifindex as number;
      const props = ["OperationalState", "AdministrativeState", "CarrierState", "AddressState"];
      await waitFor(
        "the API's backend fields equal networkd's properties",
        async () => {
          const v = (await get(`/api/v1/interfaces/${lab.ifname}`)).json;
          if (v.backend?.backend !== "systemd-networkd") return false;
          for (const p of props) if (v.backend.fields[p] !== (await linkProperty(index, p))) return false;
          return true;
        },
        10_000,
        100,
      );
      const v = (await get(`/api/v1/interfaces/${lab.ifname}`)).json;
      assert.equal(v.backend.fields.OperationalState, "routable");
      assert.equal(v.backend.fields.AdministrativeState, "configured");
      assert.ok(
        v.addresses.some((a: { address: string }) => a.address === "10.77.0.50"),
        "the DHCP address networkd configured",
      );

      // the D-Bus client is bundled apart (scripts/bundle.mjs, src/dbus/connect.ts): its calls still count
      const calls = /^netevd_dbus_calls_total\{service="org\.freedesktop\.network1"\} (\d+)$/m.exec((await get("/metrics")).text);
      assert.ok(calls && Number(calls[1]) > 0, "networkd calls counted in netevd_dbus_calls_total");

      const h = await get("/health");
      assert.equal(h.status, 200);
      assert.deepEqual(h.json.sources["systemd-networkd"], { state: "attached", ok: true });

      // networkd goes away: degraded, with the reason; back: ok
      process.kill(await networkdPid(), "SIGTERM");
      const down = await waitFor(
        "health degraded",
        async () => {
          const r = await get("/health");
          return r.status === 503 ? r : undefined;
        },
        10_000,
        100,
      );
      assert.equal(down.json.status, "degraded");
      assert.equal(down.json.sources["systemd-networkd"].ok, false);
      assert.equal(down.json.sources.kernel.ok, true);
      const st = await sh([process.execPath, resolve(repoRoot, "dist/src/cli/main.js"), "status"]);
      assert.match(st, /^status:\s+degraded$/m);
      assert.match(st, /systemd-networkd:\s+absent \(not ok\): systemd-networkd is not running/);
      const nd = spawn("/lib/systemd/systemd-networkd", [], { stdio: "ignore", detached: true });
      nd.unref();
      await waitFor("health ok again", async () => (await get("/health")).status === 200, 15_000, 100);
    } finally {
      await d.stop();
    }
  });
}
