// Test aid for the audio sync check (sync.js): posts the context time of every sound onset to the
// main thread: the first sample at or above ONSET of a burst of sound that followed at least
// QUIET_SECONDS without a sample at or above SILENCE. A burst ends after GAP_SECONDS below SILENCE
// (a tone crosses zero every half period, so one quiet sample does not end it).
const ONSET = 0.2, SILENCE = 0.02, QUIET_SECONDS = 0.2, GAP_SECONDS = 0.02;

class OnsetDetector extends AudioWorkletProcessor {
  constructor() {
    super();
    this.lastSound = -Infinity;
    this.burstQualifies = false;
    this.reported = false;
  }

  process(inputs) {
    const channel = inputs[0]?.[0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      const level = Math.abs(channel[i]);
      if (level < SILENCE) continue;
      const t = currentTime + i / sampleRate;
      if (t - this.lastSound > GAP_SECONDS) {
        // A new burst.
        this.burstQualifies = t - this.lastSound >= QUIET_SECONDS;
        this.reported = false;
      }
      this.lastSound = t;
      if (level >= ONSET && this.burstQualifies && !this.reported) {
        this.reported = true;
        this.port.postMessage(t);
      }
    }
    return true;
  }
}

registerProcessor('river-onset', OnsetDetector);
