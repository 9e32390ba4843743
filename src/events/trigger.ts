// A hook dir fired by hand (API/CLI trigger): the event a real one would be, flagged in `changed`.
import type { Backend, NetworkModel } from "../state/model.js";
import { linkByName } from "../state/model.js";
import { hookDirName } from "../hook-dirs.js";
import type { HookJob } from "./types.js";
import { snapshotOf, type DeriveContext, type EventFactory } from "./factory.js";

export type TriggerResult = { ok: true; job: HookJob } | { ok: false; status: 400 | 404; error: string };

/** The job for `event` on `linkName`: the event name must be on the allow-list and the link must exist. */
export function triggerJob(m: NetworkModel, linkName: string, event: string, source: Backend, ctx: DeriveContext, f: EventFactory): TriggerResult {
  if (!hookDirName(event)) return { ok: false, status: 400, error: `unknown event "${event}"` };
  const l = linkByName(m, linkName);
  if (!l) return { ok: false, status: 404, error: `no such interface "${linkName}"` };
  const snap = snapshotOf(m, l, ctx.extraState?.(l.index));
  const e = f.make({ event, link: l.name, index: l.index, source, snap, changed: ["trigger"] });
  return { ok: true, job: { event: e, state: event, env: {} } };
}
