// networkd's Link.Describe() per link, as the events need it: in each link's event order for the
// events that carry it, and in the background (one call out per link) to keep the last answer
// current for kernel carrier events, which do not wait for networkd.
import { logRejection, type Logger } from "../log.js";

export type DescribeCall = (index: number) => Promise<string | undefined>;
/** the answer (undefined when networkd had none), or why there is none */
export type DescribeDelivery = (json: string | undefined, err?: Error) => void;

export class DescribeQueue {
  /** per link: the last in-order request, so the next one starts after it was delivered */
  private readonly chains = new Map<number, Promise<void>>();
  /** per link: the background refresh out now, and whether once more was asked for meanwhile */
  private readonly refreshing = new Map<number, { again: boolean }>();

  constructor(
    private readonly describe: DescribeCall,
    private readonly log: Logger,
    private readonly stopped: () => boolean = () => false,
  ) {}

  /**
   * Ask now, in the link's order: `deliver` runs after every earlier request for the link was
   * delivered (so a link's events stay in order), with the answer or the error.
   */
  inOrder(index: number, deliver: DescribeDelivery): void {
    const prev = this.chains.get(index) ?? Promise.resolve();
    const next = prev.then(async () => {
      let json: string | undefined;
      let failure: Error | undefined;
      try {
        json = await this.describe(index);
      } catch (err) {
        failure = err as Error;
      }
      try {
        deliver(json, failure);
      } catch (err) {
        // the link's later events must still come
        this.log.error("delivering a described event failed", { index, err: (err as Error).message });
      }
    });
    this.chains.set(index, next);
    next
      .finally(() => {
        if (this.chains.get(index) === next) this.chains.delete(index);
      })
      .catch(logRejection(this.log, "Describe chain failed", { index }));
  }

  /**
   * Keep the link's last answer current, off the events' chain (an event must not wait for a
   * refresh): one call out per link, one more when asked meanwhile. A failure ends the refresh;
   * the next one asks again.
   */
  refresh(index: number): void {
    const state = this.refreshing.get(index);
    if (state) {
      state.again = true;
      return;
    }
    const mine = { again: false };
    this.refreshing.set(index, mine);
    (async () => {
      try {
        do {
          mine.again = false;
          await this.describe(index);
        } while (mine.again && !this.stopped());
      } catch (err) {
        this.log.debug("backend Describe failed", { index, err: (err as Error).message });
      } finally {
        this.refreshing.delete(index);
      }
    })().catch(logRejection(this.log, "backend Describe refresh failed", { index }));
  }
}
