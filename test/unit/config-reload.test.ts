// What a reload may change at run time (src/config/reload.ts): pure, no daemon.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { defaultConfig, type Config } from "../../src/config/index.js";
import { reloadRefusal } from "../../src/config/reload.js";

/** the config's sections, writable for building test cases */
type Writable = { -readonly [S in keyof Config]: { -readonly [K in keyof Config[S]]: Config[S][K] } };

function changed(edit: (c: Writable) => void, base: (c: Writable) => void = () => {}): string | undefined {
  const running = defaultConfig() as Writable;
  base(running);
  const next = defaultConfig() as Writable;
  base(next);
  edit(next);
  return reloadRefusal(running, next);
}

describe("reload: what may change at run time", () => {
  it("the same config, and keys read at each use (timeouts, log level, the non-root scripts dirs), may change", () => {
    assert.equal(
      changed(() => {}),
      undefined,
    );
    assert.equal(
      changed((c) => {
        c.hooks.timeout_sec = 3;
        c.system.log_level = "debug";
        c.events.history_size = 10;
      }),
      undefined,
    );
    assert.equal(
      changed((c) => {
        c.system.scripts_dirs = ["/srv/hooks"];
      }),
      undefined,
      "unprivileged hooks: the dirs are read at each event",
    );
    assert.equal(
      changed((c) => {
        c.compat.networkd_dispatcher = !c.compat.networkd_dispatcher;
        c.compat.networkd_dispatcher_dirs = ["/srv/nd"];
      }),
      undefined,
    );
  });

  it("hooks.user is fixed at start, both ways", () => {
    assert.match(
      changed((c) => {
        c.hooks.user = "root";
      }) ?? "",
      /hooks\.user .* only at a restart/,
    );
    assert.match(
      changed(
        (c) => {
          c.hooks.user = "netevd";
        },
        (c) => {
          c.hooks.user = "root";
        },
      ) ?? "",
      /only at a restart/,
    );
  });

  it("root hooks: the scripts dirs and the networkd-dispatcher keys are fixed at start too", () => {
    const root = (c: Writable) => {
      c.hooks.user = "root";
    };
    assert.match(
      changed((c) => {
        c.system.scripts_dirs = ["/srv/hooks"];
      }, root) ?? "",
      /system\.scripts_dirs/,
    );
    assert.match(
      changed((c) => {
        c.system.scripts_dirs = [...c.system.scripts_dirs].reverse();
      }, root) ?? "",
      /only at a restart/,
      "the order is the merge order",
    );
    assert.match(
      changed((c) => {
        c.compat.networkd_dispatcher = !c.compat.networkd_dispatcher;
      }, root) ?? "",
      /compat\.networkd_dispatcher/,
    );
    assert.match(
      changed((c) => {
        c.compat.networkd_dispatcher_dirs = ["/srv/nd"];
      }, root) ?? "",
      /compat\.networkd_dispatcher/,
    );
    assert.equal(
      changed((c) => {
        c.hooks.timeout_sec = 3;
      }, root),
      undefined,
    );
  });

  it("the API and metrics listeners are not moved: one line per key, old and new value", () => {
    const msg =
      changed((c) => {
        c.api.listen = "127.0.0.1:9999";
        c.api.enabled = !c.api.enabled;
      }) ?? "";
    const lines = msg.split("\n");
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^api\.enabled: changed from (true|false) to (true|false); .*restart netevd/);
    assert.match(lines[1]!, /^api\.listen: changed from ".*" to "127\.0\.0\.1:9999"; /);
    assert.match(
      changed((c) => {
        c.api.socket = "/run/other.sock";
      }) ?? "",
      /^api\.socket: changed from .* to "\/run\/other\.sock"/,
    );
    assert.match(
      changed((c) => {
        c.metrics.listen = "127.0.0.1:9101";
      }) ?? "",
      /^metrics\.listen: changed from .* to "127\.0\.0\.1:9101"; the metrics listener/,
    );
  });
});
