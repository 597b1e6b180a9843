// Test aid, loaded with `?probe&audio`: measures how far sound and picture are apart, with the sync
// clip (scripts/make_pan_clip.py --flash), whose flash frame and beep start together. For a stream
// and the <video> showing it: the time each flash frame is shown (requestVideoFrameCallback's
// expectedDisplayTime) and each beep's onset is played out (an AudioWorklet, its context time
// mapped to performance time with getOutputTimestamp), both on performance.now()'s clock.
// `pairs` pairs each flash with the nearest onset: {flash, offset: onset − flash} in ms (positive:
// sound late).

const BRIGHT = 200, PAIR_WITHIN_MS = 400;

export class SyncProbe {
  constructor() {
    this.canvas = new OffscreenCanvas(16, 8);
    this.ctx2d = this.canvas.getContext('2d', { willReadFrequently: true });
    this.flashes = [];
    this.onsets = [];
    this.bright = false;
    this.audio = null;
  }

  /** Listens to `stream`'s audio; the caller feeds the frames of its video to `frame`. */
  async listen(stream) {
    this.audio = new AudioContext();
    await this.audio.audioWorklet.addModule('onset-worklet.js');
    const source = this.audio.createMediaStreamSource(stream);
    const detector = new AudioWorkletNode(this.audio, 'river-onset');
    detector.port.onmessage = (event) => {
      const now = this.audio.getOutputTimestamp();
      this.onsets.push(now.performanceTime + (event.data - now.contextTime) * 1000);
    };
    // Connected through a silent gain so the graph pulls it.
    const silent = new GainNode(this.audio, { gain: 0 });
    source.connect(detector).connect(silent).connect(this.audio.destination);
    await this.audio.resume();
  }

  /** One displayed frame of `video` (a requestVideoFrameCallback with its metadata). */
  frame(video, metadata) {
    const w = video.videoWidth, h = video.videoHeight;
    if (!w || !h) return;
    // The top quarter: white on the flash frame, grey canvas on every other.
    this.ctx2d.drawImage(video, 0, 0, w, h / 4, 0, 0, 16, 8);
    const data = this.ctx2d.getImageData(0, 0, 16, 8).data;
    let sum = 0;
    for (let i = 0; i < data.length; i += 4) sum += (data[i] + data[i + 1] + data[i + 2]) / 3;
    const bright = sum / (data.length / 4) > BRIGHT;
    if (bright && !this.bright) this.flashes.push(metadata.expectedDisplayTime);
    this.bright = bright;
  }

  get pairs() {
    return this.flashes.flatMap((flash) => {
      let best = null;
      for (const onset of this.onsets) {
        if (Math.abs(onset - flash) <= PAIR_WITHIN_MS && (best === null || Math.abs(onset - flash) < Math.abs(best - flash))) best = onset;
      }
      return best === null ? [] : [{ flash, offset: best - flash }];
    });
  }

  close() { this.audio?.close(); }
}
