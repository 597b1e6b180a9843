// The viewer's page, `/watch/{session}`: the session's delayed video over WHEP, each frame drawn
// with its own result, as on the page that sends the camera. No camera or microphone is asked for.
//
// `?autostart` starts at once; `?probe` reads the test clip's frame-index bar code on every
// displayed frame (scripts/make_pan_clip.py). `window.river` has the shape app.js gives it, so
// the same checks read either page.
import { SessionView } from './view.js';
import { showPanel } from './stats.js';
import { showNotice, showError as showErrorOn, setState as setStateOn } from './page.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const ProbeClass = params.has('probe') ? (await import('./probe.js')).FrameProbe : null;
const watched = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() ?? '');

const view = new SessionView($('video'), $('overlay'), ProbeClass ? new ProbeClass() : null);
view.onPairing = (pairing, notice) => showNotice(notice);
view.onClosed = (why) => {
  if (river.state !== 'live') return;
  showError(why === 'failed'
    ? 'The connection to river failed: no answer from the server for a while. Press Watch to try again.'
    : 'The session ended (its camera stopped, or the server ended it).');
  setState(why);
};

const river = (window.river = {
  state: 'idle', error: null, views: [view], watched,
  get pairing() { return view.pairing; },
  get frames() { return view.frames; },
  get results() { return view.resultCount; },
  get session() { return view.session; },
  start, stop,
});
const showError = (text) => showErrorOn(river, text);
const setState = (state) => setStateOn(river, state);

async function start() {
  showError(null);
  showNotice(null);
  setState('starting');
  try {
    await view.stop();
    await view.watch(watched);
    setState('live');
  } catch (e) {
    console.error(e);
    showError(e instanceof Error ? e.message : String(e));
    await view.stop().catch((e2) => console.error(e2));
    setState('failed');
  }
}

async function stop() {
  await view.stop();
  setState('idle');
}

async function refreshStats() {
  const now = performance.now();
  if (view.session) {
    // A viewer sends nothing: "fps in" is what it receives.
    const report = await view.session.pc.getStats();
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') view.stats.recordFramesIn(now, s.framesReceived ?? 0);
    });
  }
  showPanel(view, now, $);
}

$('start').onclick = start;
$('stop').onclick = stop;
setInterval(refreshStats, 1000);
setState('idle');
if (params.has('autostart')) start();
