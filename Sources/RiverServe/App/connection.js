// WebRTC connection to river serve with WHIP-style signalling (RFC 9725), or WHEP to watch a
// session: one POST of the offer, the answer back with the server's candidates (non-trickle),
// DELETE of the resource to hang up.

// A server started with --token wants `Authorization: Bearer <token>` on POST and DELETE (RFC 9725
// §4.5). The page takes it from `#token=` in its URL, or asks once after a 401, and keeps it for
// this tab in sessionStorage (never in the URL it shows, never in localStorage).
const tokenKey = 'river.token';
const fromURL = new URLSearchParams(location.hash.slice(1)).get('token');
if (fromURL) {
  sessionStorage.setItem(tokenKey, fromURL);
  history.replaceState(null, '', location.pathname + location.search);
}

function authHeaders() {
  const token = sessionStorage.getItem(tokenKey);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** POSTs the offer to `path`; on 401 asks for the token once and tries again. */
async function postOffer(path, sdp) {
  const post = () => fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/sdp', ...authHeaders() },
    body: sdp,
  });
  let response = await post();
  if (response.status === 401) {
    const token = prompt('This river server needs its access token:');
    if (token) {
      sessionStorage.setItem(tokenKey, token.trim());
      response = await post();
    }
  }
  return response;
}

/**
 * Connects `track` (and the microphone's `audio` track, if given) to river. river sends both back
 * as one stream, the audio through the same delay as the video. Returns {pc, channel, remoteStream,
 * id, close}, `id` being the session's (what `/watch/{id}` watches). Throws when river refuses the
 * offer, with its status and reason in the message.
 */
export async function connect(track, { audio = null, onResult, onClose } = {}) {
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  const transceiver = pc.addTransceiver(track, { direction: 'sendrecv' });
  if (audio) pc.addTransceiver(audio, { direction: 'sendrecv' });
  const params = transceiver.sender.getParameters();
  // Without it Chromium starts at a low resolution and takes many seconds to ramp up.
  params.degradationPreference = 'maintain-resolution';
  await transceiver.sender.setParameters(params).catch(() => {});
  return negotiate(pc, '/whip', { onResult, onClose });
}

/**
 * Watches the live session `id` (WHEP, draft-ietf-wish-whep): its delayed video and the same
 * result message per frame as its own page gets. Returns what `connect` does, `id` being the
 * viewer's.
 */
export async function watch(id, { onResult, onClose } = {}) {
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  return negotiate(pc, `/whep/${encodeURIComponent(id)}`, { onResult, onClose });
}

/** The offer/answer of either kind of session, and its data channel of results. */
async function negotiate(pc, path, { onResult, onClose }) {
  // Results arrive on this channel, one JSON message per frame, ahead of the delayed video.
  const channel = pc.createDataChannel('river');
  channel.onmessage = (event) => {
    if (typeof event.data !== 'string') return;
    try { onResult?.(JSON.parse(event.data)); } catch (e) { console.warn('bad result message', e); }
  };

  const remoteStream = new Promise((resolve) => {
    pc.ontrack = (event) => resolve(event.streams[0] ?? new MediaStream([event.track]));
  });

  await pc.setLocalDescription(await pc.createOffer());
  const response = await postOffer(path, pc.localDescription.sdp);
  if (response.status !== 201) {
    pc.close();
    const status = `${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
    const reason = (await response.text()).trim();
    throw new Error(`river refused the offer (${status})${reason ? `: ${reason}` : ''}`);
  }
  const resource = new URL(response.headers.get('Location'), location.href);
  await pc.setRemoteDescription({ type: 'answer', sdp: await response.text() });

  // The session ends by itself when the connection fails, or when river closes it (its SCTP ABORT
  // closes the data channel: --max-session-seconds, serve stopping, a watched session ending).
  // Not when we hang up.
  let closing = false;
  let ended = false;
  const end = (why) => {
    if (closing || ended) return;
    ended = true;
    onClose?.(why);
  };
  pc.onconnectionstatechange = () => {
    if (['failed', 'closed'].includes(pc.connectionState)) end(pc.connectionState);
  };
  channel.onclose = () => end('closed');

  const close = async () => {
    closing = true;
    pc.close();
    await fetch(resource, { method: 'DELETE', headers: authHeaders() }).catch(() => {});
  };
  const id = decodeURIComponent(resource.pathname.split('/').pop());
  return { pc, channel, remoteStream: await remoteStream, id, close };
}
