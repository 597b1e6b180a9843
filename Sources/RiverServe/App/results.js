// Results keyed by the output RTP timestamp of the frame they belong to. A frame is drawn only with
// the result carrying its own timestamp; anything older is shown as stale, never as this frame's.
//
// They are also kept in the order they arrived, for browsers that do not say which RTP timestamp a
// displayed frame has: there the n-th frame shown is paired with the n-th result received (see
// SessionView, "arrival" pairing), and its boxes are drawn marked approximate.

const KEEP = 600; // about 20 s of results at 30 fps

export class ResultStore {
  constructor() {
    this.byTimestamp = new Map();
    this.latest = null;
    /** Results in arrival order; `arrivals[i]` is result number `dropped + i` (0-based). */
    this.arrivals = [];
    this.dropped = 0;
  }

  /** Results received so far. */
  get count() { return this.dropped + this.arrivals.length; }

  add(result) {
    this.byTimestamp.set(result.rtpTimestamp >>> 0, result);
    if (this.byTimestamp.size > KEEP) {
      const oldest = this.byTimestamp.keys().next().value;
      this.byTimestamp.delete(oldest);
    }
    this.arrivals.push(result);
    if (this.arrivals.length > KEEP + 100) {
      this.arrivals.splice(0, 100);
      this.dropped += 100;
    }
  }

  /**
   * What belongs to the frame with `rtpTimestamp`: `own`, the message carrying its timestamp (a
   * result, or why there is none), and `stale`, the result of the newest earlier displayed frame
   * with detections when `own` is missing or not `ok` (to be drawn dashed and labelled stale).
   */
  lookup(rtpTimestamp) {
    return this.#match(this.byTimestamp.get(rtpTimestamp >>> 0) ?? null);
  }

  /**
   * The same for the `index`-th message received (0-based), the one arrival-order pairing gives the
   * `index`-th frame shown: `own` is that message (null when it has not come, or is no longer kept).
   */
  lookupArrival(index) {
    const i = index - this.dropped;
    return this.#match(i >= 0 && i < this.arrivals.length ? this.arrivals[i] : null);
  }

  #match(own) {
    if (own?.status === 'ok') {
      this.latest = own;
      return { own, stale: null };
    }
    return { own, stale: this.latest };
  }
}
