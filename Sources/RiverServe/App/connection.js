// WebRTC connection to river serve with WHIP-style signalling (RFC 9725): one POST of the offer,
// the answer back with the server's candidates (non-trickle), DELETE of the resource to hang up.

/** Connects `track` to river. Returns {pc, channel, remoteStream, close}. */
export async function connect(track, { onResult, onClose } = {}) {
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  const transceiver = pc.addTransceiver(track, { direction: 'sendrecv' });
  const params = transceiver.sender.getParameters();
  // Without it Chromium starts at a low resolution and takes many seconds to ramp up.
  params.degradationPreference = 'maintain-resolution';
  await transceiver.sender.setParameters(params).catch(() => {});

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
  const response = await fetch('/whip', {
    method: 'POST',
    headers: { 'Content-Type': 'application/sdp' },
    body: pc.localDescription.sdp,
  });
  if (response.status !== 201) {
    pc.close();
    throw new Error(`river refused the offer (${response.status}): ${await response.text()}`);
  }
  const resource = new URL(response.headers.get('Location'), location.href);
  await pc.setRemoteDescription({ type: 'answer', sdp: await response.text() });

  pc.onconnectionstatechange = () => {
    if (['failed', 'closed'].includes(pc.connectionState)) onClose?.(pc.connectionState);
  };

  const close = async () => {
    pc.close();
    await fetch(resource, { method: 'DELETE' }).catch(() => {});
  };
  return { pc, channel, remoteStream: await remoteStream, close };
}
