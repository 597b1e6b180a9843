// river's page: pick a camera, start, and watch the delayed video with each frame's own detections.
//
// `?autostart` starts at once with the first camera; `?sessions=N` opens N peer connections from
// this one page (one tile each, same camera), to see several sessions share the workers; `?probe`
// reads the test clip's frame-index bar code on every displayed frame (scripts/make_pan_clip.py);
// `?audio` turns the microphone on (with `?probe`, the page also measures sound against picture
// at the sync clip's flashes, and the camera as sent, for comparison: sync.js).
import { SessionView, hasFrameCallback } from './view.js';
import { showPanel } from './stats.js';
import { showNotice, showError as showErrorOn, setState as setStateOn } from './page.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const sessionCount = Math.max(1, Math.min(8, Number(params.get('sessions')) || 1));
const ProbeClass = params.has('probe') ? (await import('./probe.js')).FrameProbe : null;
const SyncClass = params.has('probe') && params.has('audio') ? (await import('./sync.js')).SyncProbe : null;
if (params.has('audio')) $('microphone').checked = true;

/** Screens: the first is in the page; more are cloned from it for `?sessions=N`. */
const views = [];
{
  const first = document.querySelector('.screen');
  // Small tiles, so every video stays in view: Chromium stops painting muted videos out of view.
  if (sessionCount > 1) first.parentElement.classList.add('multi');
  for (let i = 0; i < sessionCount; i++) {
    const screen = i === 0 ? first : first.parentElement.insertBefore(first.cloneNode(true), first.nextSibling);
    if (i > 0) screen.classList.add('extra');
    const view = new SessionView(
      screen.querySelector('video'), screen.querySelector('canvas'), ProbeClass ? new ProbeClass() : null,
      SyncClass && i === 0 ? new SyncClass() : null,
    );
    // Every tile pairs the same way (one browser); the first to know says so.
    view.onPairing = (pairing, notice) => showNotice(notice);
    view.onClosed = (why) => sessionEnded(why);
    views.push(view);
  }
}

/**
 * State the page exposes for tests and for curious users (open the console, look at `river`):
 * `frames` holds one entry per displayed frame of the first session (see SessionView); `pairing`
 * how frames are paired with results, 'timestamp' (exact) or 'arrival' (approximate, for browsers
 * that do not give each frame's RTP timestamp), null before the first frame; `error` what went
 * wrong, also shown on the page.
 */
const river = (window.river = {
  state: 'idle', error: null, views,
  get pairing() { return views[0].pairing; },
  /** With `?probe&audio`: sound against picture of the camera as sent (see sync.js). */
  localSync: null,
  get frames() { return views[0].frames; },
  get results() { return views[0].resultCount; },
  get session() { return views[0].session; },
  start, stop,
});
const showError = (text) => showErrorOn(river, text);
const setState = (state) => setStateOn(river, state);

let media = null;

async function listCameras() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  const select = $('camera');
  const current = select.value;
  select.replaceChildren(
    ...devices.filter((d) => d.kind === 'videoinput')
      .map((d, i) => new Option(d.label || `camera ${i + 1}`, d.deviceId)),
  );
  if (current) select.value = current;
}

/**
 * A session ended by itself while the page was live: say so. The other tiles, if any, play on
 * until Stop or the next Start, which hangs everything up first.
 */
function sessionEnded(why) {
  if (river.state !== 'live') return;
  showError(why === 'failed'
    ? 'The connection to river failed: no answer from the server for a while. Press Start to try again.'
    : 'river closed the session (the server ended it, or stopped). Press Start to try again.');
  setState(why);
}

async function start() {
  showError(null);
  showNotice(null);
  setState('starting');
  try {
    await teardown(); // what a session that ended by itself left behind
    const deviceId = $('camera').value || undefined;
    media = await navigator.mediaDevices.getUserMedia({
      video: { deviceId, width: 640, height: 480, frameRate: 30 },
      // The sync check needs the clip's sound as it is: no echo cancelling, no gain control.
      audio: $('microphone').checked
        && (SyncClass ? { echoCancellation: false, noiseSuppression: false, autoGainControl: false } : true),
    });
    await listCameras();
    const track = media.getVideoTracks()[0];
    // One session sends the microphone (and plays it back); more tiles would only echo it again.
    const audio = media.getAudioTracks()[0] ?? null;
    // Every view settles before a failure is reported, so none is left connected behind it.
    const started = await Promise.allSettled(views.map((v, i) => v.start(track, i === 0 ? audio : null)));
    const failure = started.find((s) => s.status === 'rejected');
    if (failure) throw failure.reason;
    if (SyncClass && audio) await watchLocal(media);
    $('watch-link').href = `/watch/${encodeURIComponent(views[0].session.id)}`;
    $('watch-link').hidden = false;
    setState('live');
  } catch (e) {
    console.error(e);
    showError(e instanceof Error ? e.message : String(e));
    // Hung up before 'failed' shows, so whoever watches the state finds nothing left open.
    await teardown().catch((e2) => console.error(e2));
    setState('failed');
  }
}

/** The sync measurement of the camera and microphone as sent, in a small preview. */
async function watchLocal(stream) {
  if (!hasFrameCallback) return;
  const preview = document.createElement('video');
  Object.assign(preview, { muted: true, autoplay: true, playsInline: true, srcObject: stream });
  preview.className = 'local-preview';
  document.body.append(preview);
  river.localSync = new SyncClass();
  await river.localSync.listen(stream);
  const onFrame = (now, md) => {
    river.localSync?.frame(preview, md);
    if (preview.isConnected) preview.requestVideoFrameCallback(onFrame);
  };
  preview.requestVideoFrameCallback(onFrame);
}

async function stop() {
  await teardown();
  setState('idle');
}

/** Hangs up every session and releases the camera, leaving state and error as they are. */
async function teardown() {
  $('watch-link').hidden = true;
  document.querySelector('.local-preview')?.remove();
  river.localSync?.close();
  river.localSync = null;
  media?.getTracks().forEach((t) => t.stop());
  media = null;
  await Promise.all(views.map((v) => v.stop()));
}

async function refreshStats() {
  const view = views[0];
  const now = performance.now();
  if (view.session) {
    const report = await view.session.pc.getStats();
    report.forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video') view.stats.recordFramesIn(now, s.framesEncoded);
    });
    if (view.closed && river.state === 'live') sessionEnded(view.closed);
  }
  showPanel(view, now, $);
}

$('start').onclick = start;
$('stop').onclick = stop;
setInterval(refreshStats, 1000);
listCameras().catch(() => {});
setState('idle');
if (params.has('autostart')) start();
