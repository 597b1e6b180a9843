// One session on the page: its peer connection, the delayed video, the overlay drawn for each
// displayed frame from that frame's own result, the stats, and a log of displayed frames.
//
// Pairing a displayed frame with its result needs two things from the browser:
// `requestVideoFrameCallback` (a callback per frame shown) and, in its metadata, the frame's
// `rtpTimestamp`, which each result carries. With both, pairing is exact ('timestamp'). A browser
// without one of them gets 'arrival' pairing: the n-th frame shown is paired with the n-th result
// received (river sends one result per frame, in the frames' order), and the boxes are drawn in
// their own colour, labelled approximate, since a frame lost or dropped on the way shifts them.
import { connect, watch } from './connection.js';
import { ResultStore } from './results.js';
import { drawOverlay } from './overlay.js';
import { Stats } from './stats.js';

const KEEP_FRAMES = 5_000;

/** Whether this browser calls back for each video frame shown (feature-detected once). */
export const hasFrameCallback = typeof HTMLVideoElement !== 'undefined'
  && 'requestVideoFrameCallback' in HTMLVideoElement.prototype;

/** What the page says, in words, when it falls back to arrival-order pairing. */
export const PAIRING_NOTICES = {
  noTimestamp: 'This browser does not say which RTP timestamp each frame has, so boxes are paired by '
    + 'arrival order and marked approximate.',
  noFrameCallback: 'This browser does not report each video frame as it is shown, so boxes are paired by '
    + 'arrival order and marked approximate.',
  noFrameCount: 'This browser reports neither each video frame as it is shown nor how many it has shown, '
    + 'so no boxes can be drawn.',
};

export class SessionView {
  /**
   * `video` and `overlay` are the elements this session draws into; `probe` (the clip's bar code)
   * and `sync` (sound against picture, see sync.js) are test aids, both optional.
   */
  constructor(video, overlay, probe = null, sync = null) {
    this.video = video;
    this.overlay = overlay;
    this.probe = probe;
    this.sync = sync;
    this.results = new ResultStore();
    this.stats = new Stats();
    /**
     * One entry per displayed frame: {rtpTimestamp, pairing, receivedWall, delay, turnaround, exact,
     * status, drawn, drawnFrom, box, clipFrame}. `pairing`: 'timestamp' (the frame's own result, by
     * its RTP timestamp) or 'arrival' (the result received in the frame's place, see above; then
     * `rtpTimestamp` is null and `shown` is the frame's number, from 1). The paired result is
     * called "own" below. `turnaround`: its `timings.total` (frame received → result ready at the
     * server, ms), or null. `exact`: it is `ok`; `status`: its status (null if none came); `box`:
     * centre of its first detection; `drawn` is 'exact' (its boxes, timestamp pairing),
     * 'approximate' (its boxes, arrival pairing), 'stale' (an older result, dashed and labelled) or
     * 'none'; `drawnFrom` is the RTP timestamp of the result drawn.
     */
    this.frames = [];
    this.resultCount = 0;
    this.session = null;
    this.closed = null;
    /** 'timestamp', 'arrival' or 'none' once known (see above); null before the first frame. */
    this.pairing = null;
    /** Called with (pairing, notice) once the pairing is known; `notice` is null when exact. */
    this.onPairing = null;
    /** Called with 'failed' or 'closed' when the session ends by itself (not by `stop`). */
    this.onClosed = null;
    this.shown = 0;
    this.frameBase = 0;
  }

  /** Connects `track`, and the microphone's `audio` track if given (then this view plays sound). */
  async start(track, audio = null) {
    await this.#attach((callbacks) => connect(track, { audio, ...callbacks }), audio !== null);
  }

  /** Watches the live session `id` (a viewer: no camera of its own). */
  async watch(id) {
    await this.#attach((callbacks) => watch(id, callbacks), false);
  }

  async #attach(open, withSound) {
    this.results = new ResultStore();
    this.closed = null;
    this.pairing = null;
    this.shown = 0;
    const session = await open({
      onResult: (r) => { this.resultCount++; this.results.add(r); },
      onClose: (why) => {
        this.closed = why;
        if (this.session === session) this.onClosed?.(why);
      },
    });
    this.session = session;
    this.video.srcObject = this.session.remoteStream;
    this.video.muted = !withSound;
    // A browser may refuse to play sound before the user has interacted with the page (autostart):
    // the video then plays muted rather than not at all.
    this.video.play().catch(() => { this.video.muted = true; return this.video.play(); }).catch(() => {});
    if (this.sync && withSound) await this.sync.listen(this.session.remoteStream);
    if (hasFrameCallback) {
      this.video.requestVideoFrameCallback((now, md) => this.onFrame(now, md));
    } else {
      this.pollFrames();
    }
  }

  async stop() {
    const session = this.session;
    this.session = null;
    this.video.srcObject = null;
    this.sync?.close();
    this.stats.reset();
    if (session) await session.close();
  }

  setPairing(pairing, notice) {
    this.pairing = pairing;
    this.onPairing?.(pairing, notice);
  }

  /** A frame shown, with requestVideoFrameCallback's metadata. */
  onFrame(now, md) {
    if (!this.session) return;
    if (this.pairing === null) {
      const exact = md.rtpTimestamp !== undefined;
      this.setPairing(exact ? 'timestamp' : 'arrival', exact ? null : PAIRING_NOTICES.noTimestamp);
    }
    if (this.pairing === 'timestamp') {
      this.show(now, md, this.results.lookup(md.rtpTimestamp), null);
    } else {
      // presentedFrames counts every frame shown, also those between two callbacks.
      const shown = md.presentedFrames ?? this.shown + 1;
      this.shown = shown;
      this.show(now, md, this.results.lookupArrival(shown - 1), shown);
    }
    this.video.requestVideoFrameCallback((t, m) => this.onFrame(t, m));
  }

  /**
   * Without requestVideoFrameCallback: once per screen refresh, the frames the video element has
   * taken so far (getVideoPlaybackQuality's totalVideoFrames); a new one is the next frame shown.
   * Rougher than presentedFrames: the count moves when a frame is decoded, and in Chromium the
   * element often shows it a frame later, so a third to most boxes are then the next frame's.
   */
  pollFrames() {
    const count = () => this.video.getVideoPlaybackQuality?.().totalVideoFrames
      ?? this.video.webkitDecodedFrameCount ?? null;
    if (count() === null) {
      this.setPairing('none', PAIRING_NOTICES.noFrameCount);
      return;
    }
    this.setPairing('arrival', PAIRING_NOTICES.noFrameCallback);
    this.frameBase = count();
    const tick = (now) => {
      if (!this.session) return;
      const shown = count() - this.frameBase;
      if (shown > this.shown) {
        this.shown = shown;
        this.show(now, null, this.results.lookupArrival(shown - 1), shown);
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  /**
   * Draws and logs one displayed frame: `match` is its result (ResultStore.lookup or
   * lookupArrival); `shown` its number under arrival pairing, null under timestamp pairing.
   */
  show(now, md, match, shown) {
    const arrival = shown !== null;
    const own = match.own;
    const exact = own?.status === 'ok';
    const receivedWall = performance.timeOrigin + (md?.receiveTime ?? now);
    // Measured on every frame that has a message of its own, result or not.
    const delay = own ? receivedWall - own.receivedAt : NaN;
    const drawn = drawOverlay(this.overlay, match, { approximate: arrival });
    this.stats.frameShown(now, delay, own, exact);
    const entry = {
      rtpTimestamp: md?.rtpTimestamp ?? null,
      pairing: arrival ? 'arrival' : 'timestamp',
      receivedWall,
      delay,
      turnaround: own?.timings?.total ?? null,
      exact,
      status: own ? own.status : null,
      drawn,
      drawnFrom: drawn === 'exact' || drawn === 'approximate' ? own.rtpTimestamp >>> 0
        : drawn === 'stale' ? match.stale.rtpTimestamp >>> 0 : null,
      box: null,
      clipFrame: null,
    };
    if (arrival) entry.shown = shown;
    if (exact && own.detections?.length) {
      const b = own.detections[0].box;
      entry.box = { x: b.x + b.w / 2, y: b.y + b.h / 2 };
    }
    if (this.probe) entry.clipFrame = this.probe.read(this.video);
    this.sync?.frame(this.video, md ?? { expectedDisplayTime: now });
    this.frames.push(entry);
    if (this.frames.length > KEEP_FRAMES) this.frames.splice(0, 1_000);
  }
}
