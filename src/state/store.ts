// The one network model and who writes which part of it: the kernel source its links, addresses,
// routes and rules; the backend sources (through the daemon's sink) their per-link and manager
// state. A kernel re-dump replaces kernel objects only, so backend state never has to be patched
// back in. The model object itself never changes: readers may keep it.
import type { AddressRecord, LinkRecord, RouteRecord, RtMessage, RuleRecord } from "../netlink/types.js";
import { applyBackendState, applyManagerState, applyMessage, diffModels, dropBackendState, modelFrom, emptyModel, type Fact, type NetworkModel } from "./model.js";

export type KernelMaps = Pick<NetworkModel, "links" | "addrs" | "routes" | "rules">;

export class ModelStore {
  readonly model: NetworkModel = emptyModel();

  /** The kernel's full dump: its objects replace the kernel part; no facts (the start of the model). */
  loadKernel(dump: { links: LinkRecord[]; addrs: AddressRecord[]; routes: RouteRecord[]; rules: RuleRecord[] }): void {
    const { links, addrs, routes, rules } = modelFrom(dump);
    Object.assign(this.model, { links, addrs, routes, rules });
  }

  /** One kernel notification. */
  applyKernel(msg: RtMessage): Fact[] {
    return applyMessage(this.model, msg);
  }

  /** A re-dump of some kinds: those maps are replaced, and the facts are what really changed. */
  replaceKernel(fresh: Partial<KernelMaps>): Fact[] {
    const facts = diffModels(this.model, { ...this.model, ...fresh });
    Object.assign(this.model, fresh);
    return facts;
  }

  /** A backend's fields of a link; only changes are facts. */
  backendState(backend: string, index: number, fields: Record<string, string>, name?: string): Fact[] {
    return applyBackendState(this.model, backend, index, fields, name);
  }

  /** The backend manager's own fields; only changes are facts. */
  managerState(backend: string, fields: Record<string, string>): Fact[] {
    return applyManagerState(this.model, backend, fields);
  }

  /** A backend's fields of a link are gone (all of them, or `keys`); no facts. */
  dropBackend(index: number, keys?: string[]): void {
    dropBackendState(this.model, index, keys);
  }

  /** The backend changed: what the old one said about the kernel's links is dropped. */
  dropBackendOfLinks(): void {
    for (const index of this.model.links.keys()) dropBackendState(this.model, index);
  }
}
