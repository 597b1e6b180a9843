// Test aid, loaded with `?probe`: reads the frame index that the test clip (scripts/make_pan_clip.py)
// prints as a bar code along the bottom edge of each frame.

const BITS = 8, BAR_HEIGHT = 16;

export class FrameProbe {
  constructor() {
    this.canvas = new OffscreenCanvas(BITS * 8, 1);
    this.ctx = this.canvas.getContext('2d', { willReadFrequently: true });
  }

  /** The clip frame index shown by `video` now, or null when the bar code cannot be read. */
  read(video) {
    const w = video.videoWidth, h = video.videoHeight;
    if (!w || !h) return null;
    // One row through the middle of the bar code, scaled to 8 samples per block.
    const y = h - (BAR_HEIGHT / 2) * (h / 480);
    this.ctx.drawImage(video, 0, y, w, 1, 0, 0, BITS * 8, 1);
    const row = this.ctx.getImageData(0, 0, BITS * 8, 1).data;
    let index = 0;
    for (let bit = 0; bit < BITS; bit++) {
      const p = (bit * 8 + 4) * 4; // centre sample of the block
      const luma = (row[p] + row[p + 1] + row[p + 2]) / 3;
      if (luma > 64 && luma < 192) return null; // between black and white: not readable
      if (luma <= 64) index |= 1 << bit;
    }
    return index;
  }
}
