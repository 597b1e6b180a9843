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
   * What belongs to the frame with `rtpTimestamp`: `own`, the message carrying its timestamp (a
   * result, or why there is none), and `stale`, the result of the newest earlier displayed frame
   * with detections when `own` is missing or not `ok` (to be drawn dashed and labelled stale).
   */
  lookup(rtpTimestamp) {
    const own = this.byTimestamp.get(rtpTimestamp >>> 0) ?? null;
    if (own?.status === 'ok') {
      this.latest = own;
      return { own, stale: null };
    }
    return { own, stale: this.latest };
  }
}
