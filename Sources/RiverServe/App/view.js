// One session on the page: its peer connection, the delayed video, the overlay drawn for each
// displayed frame from that frame's own result, the stats, and a log of displayed frames.
import { connect } from './connection.js';
import { ResultStore } from './results.js';
import { drawOverlay } from './overlay.js';
import { Stats } from './stats.js';

const KEEP_FRAMES = 5_000;

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
     * One entry per displayed frame: {rtpTimestamp, receivedWall, delay, turnaround, exact, status,
     * drawn, drawnFrom, box, clipFrame}. `turnaround`: the own result's `timings.total` (frame
     * received → result ready at the server, ms), or null. `exact`: the frame's own result is `ok`; `status`: the status of
     * the frame's own message (null if none came); `box`: centre of the first detection; `drawn` is 'exact' (the frame's own result), 'stale' (an older
     * result, dashed and labelled) or 'none'; `drawnFrom` is the RTP timestamp of the result drawn.
     */
    this.frames = [];
    this.resultCount = 0;
    this.session = null;
    this.closed = null;
  }

  /** Connects `track`, and the microphone's `audio` track if given (then this view plays sound). */
  async start(track, audio = null) {
    this.session = await connect(track, {
      audio,
      onResult: (r) => { this.resultCount++; this.results.add(r); },
      onClose: (why) => { this.closed = why; },
    });
    this.video.srcObject = this.session.remoteStream;
    this.video.muted = !audio;
    // A browser may refuse to play sound before the user has interacted with the page (autostart):
    // the video then plays muted rather than not at all.
    this.video.play().catch(() => { this.video.muted = true; return this.video.play(); }).catch(() => {});
    if (this.sync && audio) await this.sync.listen(this.session.remoteStream);
    this.video.requestVideoFrameCallback((now, md) => this.onFrame(now, md));
  }

  async stop() {
    const session = this.session;
    this.session = null;
    this.video.srcObject = null;
    this.sync?.close();
    this.stats.reset();
    if (session) await session.close();
  }

  onFrame(now, md) {
    if (!this.session) return;
    const match = this.results.lookup(md.rtpTimestamp);
    const own = match.own;
    const exact = own?.status === 'ok';
    const receivedWall = performance.timeOrigin + md.receiveTime;
    // Measured on every frame that has a message of its own, result or not.
    const delay = own ? receivedWall - own.receivedAt : NaN;
    const drawn = drawOverlay(this.overlay, match);
    this.stats.frameShown(now, delay, own, exact);
    const entry = {
      rtpTimestamp: md.rtpTimestamp,
      receivedWall,
      delay,
      turnaround: own?.timings?.total ?? null,
      exact,
      status: own ? own.status : null,
      drawn,
      drawnFrom: drawn === 'exact' ? own.rtpTimestamp >>> 0 : drawn === 'stale' ? match.stale.rtpTimestamp >>> 0 : null,
      box: null,
      clipFrame: null,
    };
    if (exact && own.detections?.length) {
      const b = own.detections[0].box;
      entry.box = { x: b.x + b.w / 2, y: b.y + b.h / 2 };
    }
    if (this.probe) entry.clipFrame = this.probe.read(this.video);
    this.sync?.frame(this.video, md);
    this.frames.push(entry);
    if (this.frames.length > KEEP_FRAMES) this.frames.splice(0, 1_000);
    this.video.requestVideoFrameCallback((t, m) => this.onFrame(t, m));
  }
}
