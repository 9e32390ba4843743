// NetworkManager's objects (devices, IP4Config/IP6Config, DHCP4Config/DHCP6Config, active
// connections, connection settings) as last read, kept current from their PropertiesChanged
// signals. A device's state event is then built from what NetworkManager had said up to its
// StateChanged, without a round trip to NetworkManager, which is busy activating at that moment.
//
// Ordering: a GetAll reply and the signals come over one connection, in NetworkManager's order,
// but the reply's continuation runs after the signals received with it. Each value keeps the
// receive sequence (SystemBus Signal.seq / callSeq) it came with: an older one never overwrites a
// newer one, whichever callback runs first.

export type Props = Record<string, unknown>;

/** A GetAll: the properties and the reply's place among the messages received. */
export type PropsReader = (path: string, iface: string) => Promise<{ props: Props; seq: number }>;

/** Properties kept per object: NetworkManager's interfaces have fewer; a bound whatever it sends. */
const MAX_PROPS = 128;
const MAX_NAME = 64;

interface Entry {
  iface: string;
  /** null prototype: property names come from the bus */
  props: Props;
  seqs: Map<string, number>;
  /** a GetAll has answered (signals alone may not carry every property) */
  loaded: boolean;
  reading?: Promise<unknown>;
}

export class NmObjectCache {
  private readonly objects = new Map<string, Entry>();

  /**
   * `max` bounds the objects of every interface but `pinned` (devices: as many as NetworkManager
   * has, which the source follows anyway; an event must never miss its device's entry).
   */
  constructor(
    private readonly read: PropsReader,
    readonly max = 512,
    private readonly pinned?: string,
  ) {}

  get size(): number {
    return this.objects.size;
  }

  /** Read the object unless it is read or being read; resolves when that read is in. */
  track(path: string, iface: string): Promise<unknown> {
    const e = this.objects.get(path);
    if (e && e.iface === iface && (e.loaded || e.reading)) return e.reading ?? Promise.resolve();
    return this.refresh(path, iface);
  }

  /** Read the object now (again); resolves when the reply is in, to the error if it failed (it stays unloaded). */
  refresh(path: string, iface: string): Promise<unknown> {
    let e = this.objects.get(path);
    if (!e || e.iface !== iface) {
      e = { iface, props: Object.create(null) as Props, seqs: new Map(), loaded: false };
      this.objects.set(path, e);
      this.bound();
    }
    const entry = e;
    const p: Promise<unknown> = this.read(path, iface)
      .then(
        ({ props, seq }) => {
          if (this.objects.get(path) !== entry) return undefined; // forgotten meanwhile
          this.merge(entry, props, seq);
          entry.loaded = true;
          return undefined;
        },
        (err: unknown) => err /* unloaded: the next track() reads it again */,
      )
      .finally(() => {
        if (entry.reading === p) entry.reading = undefined;
      });
    entry.reading = p;
    return p;
  }

  /** A PropertiesChanged of a tracked object; false when the object is not tracked (ignored). */
  changed(path: string, iface: string, changed: unknown, invalidated: unknown, seq: number): boolean {
    const e = this.objects.get(path);
    if (!e || e.iface !== iface) return false;
    if (changed && typeof changed === "object" && !Array.isArray(changed)) this.merge(e, changed as Props, seq);
    if (Array.isArray(invalidated)) {
      for (const k of invalidated) {
        if (typeof k === "string" && (e.seqs.get(k) ?? -1) < seq) {
          delete e.props[k];
          e.seqs.set(k, seq);
        }
      }
    }
    return true;
  }

  /**
   * The object's properties, once a read of it has answered, or once signals have brought each of
   * `complete` (an object whose every property came in a signal need not wait for its read).
   */
  get(path: string, iface: string, complete?: readonly string[]): Props | undefined {
    const e = this.objects.get(path);
    if (!e || e.iface !== iface) return undefined;
    return e.loaded || (complete?.length && complete.every((k) => e.seqs.has(k))) ? e.props : undefined;
  }

  /** A read of the object is out. */
  pending(path: string): boolean {
    return this.objects.get(path)?.reading !== undefined;
  }

  /** Resolves when the read out for the object (if any) is in. */
  ready(path: string): Promise<unknown> {
    return this.objects.get(path)?.reading ?? Promise.resolve();
  }

  has(path: string): boolean {
    return this.objects.has(path);
  }

  forget(path: string): void {
    this.objects.delete(path);
  }

  /** Forget every object that `keep` does not name. */
  retain(keep: ReadonlySet<string>): void {
    for (const path of this.objects.keys()) if (!keep.has(path)) this.objects.delete(path);
  }

  clear(): void {
    this.objects.clear();
  }

  private merge(e: Entry, props: Props, seq: number): void {
    for (const [k, v] of Object.entries(props)) {
      if (k.length > MAX_NAME) continue;
      if (!(k in e.props) && e.seqs.size >= MAX_PROPS && !e.seqs.has(k)) continue;
      if ((e.seqs.get(k) ?? -1) >= seq) continue; // a newer value is in already
      e.props[k] = v;
      e.seqs.set(k, seq);
    }
  }

  /** Memory stays bounded whatever NetworkManager announces: the oldest objects go first. */
  private bound(): void {
    if (this.objects.size <= this.max) return;
    let pinned = 0;
    for (const e of this.objects.values()) if (e.iface === this.pinned) pinned++;
    let over = this.objects.size - pinned - this.max;
    for (const [path, e] of this.objects) {
      if (over <= 0) break;
      if (e.iface === this.pinned) continue;
      this.objects.delete(path);
      over--;
    }
  }
}
