// Results keyed by the output RTP timestamp of the frame they belong to. A frame is drawn only with
// the result carrying its own timestamp; anything older is shown as stale, never as this frame's.

const KEEP = 600; // about 20 s of results at 30 fps

export class ResultStore {
  constructor() {
    this.byTimestamp = new Map();
    this.latest = null;
  }

  add(result) {
    this.byTimestamp.set(result.rtpTimestamp >>> 0, result);
    if (this.byTimestamp.size > KEEP) {
      const oldest = this.byTimestamp.keys().next().value;
      this.byTimestamp.delete(oldest);
    }
  }

  /**
   * What to draw on the frame with `rtpTimestamp`: {result, exact: true} for its own result,
   * {result, exact: false} for the newest earlier result with detections (to be drawn as stale),
   * or null.
   */
  lookup(rtpTimestamp) {
    const own = this.byTimestamp.get(rtpTimestamp >>> 0);
    if (own) {
      if (own.status === 'ok') this.latest = own;
      return { result: own, exact: true };
    }
    return this.latest ? { result: this.latest, exact: false } : null;
  }
}
