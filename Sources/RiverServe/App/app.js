// river's page: pick a camera, start, and watch the delayed video with each frame's own detections.
import { connect } from './connection.js';
import { ResultStore } from './results.js';
import { drawOverlay } from './overlay.js';
import { Stats } from './stats.js';

const $ = (id) => document.getElementById(id);
const video = $('video'), overlay = $('overlay'), plot = $('plot');
const params = new URLSearchParams(location.search);

/**
 * State the page exposes for tests and for curious users (open the console, look at `river`):
 * `frames` holds one entry per displayed frame.
 */
const river = (window.river = { frames: [], results: 0, state: 'idle', error: null, session: null });

let session = null;
const results = new ResultStore();
const stats = new Stats();
let probe = null;
if (params.has('probe')) probe = new (await import('./probe.js')).FrameProbe();

async function listCameras() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  const select = $('camera');
  select.replaceChildren(
    ...devices.filter((d) => d.kind === 'videoinput')
      .map((d, i) => new Option(d.label || `camera ${i + 1}`, d.deviceId)),
  );
}

function setState(state) {
  river.state = state;
  $('state').textContent = state;
  $('start').disabled = state !== 'idle' && state !== 'failed';
  $('stop').disabled = !$('start').disabled;
}

async function start() {
  setState('starting');
  try {
    const deviceId = $('camera').value || undefined;
    const media = await navigator.mediaDevices.getUserMedia({
      video: { deviceId, width: 640, height: 480, frameRate: 30 },
    });
    await listCameras();
    session = await connect(media.getVideoTracks()[0], {
      onResult: (r) => { river.results++; results.add(r); },
      onClose: (why) => { setState(why); },
    });
    session.media = media;
    river.session = session;
    video.srcObject = session.remoteStream;
    video.requestVideoFrameCallback(onFrame);
    setState('live');
  } catch (e) {
    river.error = String(e);
    setState('failed');
    console.error(e);
  }
}

async function stop() {
  if (!session) return;
  session.media.getTracks().forEach((t) => t.stop());
  await session.close();
  session = null;
  river.session = null;
  video.srcObject = null;
  stats.reset();
  setState('idle');
}

function onFrame(now, md) {
  const match = results.lookup(md.rtpTimestamp);
  const exact = match?.exact === true;
  const receivedWall = performance.timeOrigin + md.receiveTime;
  const delay = exact ? receivedWall - match.result.receivedAt : NaN;
  drawOverlay(overlay, match);
  stats.frameShown(now, delay, match?.result, exact);
  const entry = { rtpTimestamp: md.rtpTimestamp, receivedWall, delay, exact, status: match?.result?.status };
  if (exact && match.result.detections?.length) {
    const b = match.result.detections[0].box;
    entry.box = { x: b.x + b.w / 2, y: b.y + b.h / 2 };
  }
  if (probe) entry.clipFrame = probe.read(video);
  river.frames.push(entry);
  if (river.frames.length > 5_000) river.frames.splice(0, 1_000);
  if (session) video.requestVideoFrameCallback(onFrame);
}

async function refreshStats() {
  const now = performance.now();
  if (session) {
    const report = await session.pc.getStats();
    report.forEach((s) => { if (s.type === 'outbound-rtp' && s.kind === 'video') stats.framesEncoded(now, s.framesEncoded); });
  }
  const s = stats.summary(now);
  const ms = (v) => (Number.isFinite(v) ? `${v.toFixed(0)} ms` : '–');
  $('stat-delay').textContent = ms(s.delay);
  $('stat-fps').textContent = `${s.fpsIn.toFixed(0)} / ${s.fpsOut.toFixed(0)}`;
  $('stat-infer').textContent = `${ms(s.inferenceP50)} / ${ms(s.inferenceP95)}`;
  $('stat-coverage').textContent = Number.isFinite(s.coverage) ? `${(s.coverage * 100).toFixed(1)} %` : '–';
  const last = river.frames[river.frames.length - 1];
  $('stat-status').textContent = last?.status ?? '–';
  stats.plot(plot, now);
}

$('start').onclick = start;
$('stop').onclick = stop;
setInterval(refreshStats, 1000);
listCameras().catch(() => {});
setState('idle');
if (params.has('autostart')) start();
