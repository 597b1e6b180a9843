// What both pages (app.js behind index.html, watch.js behind watch.html) show around the video:
// the notice and error lines and the state beside the Start/Stop buttons. `river` is the page's
// `window.river`, whose `error` and `state` tests read.

const $ = (id) => document.getElementById(id);

/** The line under the controls that says boxes are approximate in this browser (null: hidden). */
export function showNotice(text) {
  $('notice').textContent = text ?? '';
  $('notice').hidden = !text;
}

/** The error line: why a start failed or a session ended (null: hidden). */
export function showError(river, text) {
  river.error = text;
  $('error').textContent = text ?? '';
  $('error').hidden = !text;
}

/** The page's state; Start is enabled only when idle or ended, Stop only otherwise. */
export function setState(river, state) {
  river.state = state;
  $('state').textContent = state;
  $('start').disabled = state !== 'idle' && state !== 'failed' && state !== 'closed';
  $('stop').disabled = !$('start').disabled;
}
