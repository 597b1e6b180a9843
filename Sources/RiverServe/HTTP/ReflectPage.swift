/// A minimal page for reflect: sends the camera with WHIP and shows what comes back. Tests drive
/// it through `window.river` (start, stats, stop).
enum ReflectPage {
    static let html = """
        <!doctype html>
        <meta charset="utf-8">
        <title>river reflect</title>
        <style>video { width: 45%; background: #000; margin: 4px; }</style>
        <video id="local" autoplay muted playsinline></video>
        <video id="remote" autoplay muted playsinline></video>
        <pre id="log"></pre>
        <script type="module">
        const log = (m) => { document.getElementById('log').textContent += m + '\\n'; };
        let pc, location_;
        \(DataChannelPage.script)
        window.river = {
          async start({audio = false, dataChannels = false} = {}) {
            const stream = await navigator.mediaDevices.getUserMedia({
              video: {width: 640, height: 480, frameRate: 30}, audio});
            document.getElementById('local').srcObject = stream;
            pc = new RTCPeerConnection();
            if (dataChannels) riverData.attach(pc);
            const video = pc.addTransceiver(stream.getVideoTracks()[0], {direction: 'sendrecv', streams: [stream]});
            if (audio) pc.addTransceiver(stream.getAudioTracks()[0], {direction: 'sendonly', streams: [stream]});
            const params = video.sender.getParameters();
            params.degradationPreference = 'maintain-resolution';
            await video.sender.setParameters(params);
            pc.ontrack = (e) => {
              document.getElementById('remote').srcObject = e.streams[0] || new MediaStream([e.track]);
            };
            await pc.setLocalDescription(await pc.createOffer());
            const response = await fetch('/whip', {method: 'POST', headers: {'Content-Type': 'application/sdp'},
                                                   body: pc.localDescription.sdp});
            const answer = await response.text();
            if (response.status !== 201) { log('rejected: ' + answer); return {status: response.status, answer}; }
            location_ = response.headers.get('Location');
            await pc.setRemoteDescription({type: 'answer', sdp: answer});
            log('answered ' + location_);
            return {status: response.status, location: location_, answer, offer: pc.localDescription.sdp};
          },
          async stats() {
            const out = {connectionState: pc ? pc.connectionState : 'none'};
            if (!pc) return out;
            const report = await pc.getStats();
            report.forEach((s) => {
              if (s.type === 'outbound-rtp' && s.kind === 'video') {
                out.framesEncoded = s.framesEncoded; out.bytesSent = s.bytesSent; out.targetBitrate = s.targetBitrate;
                out.frameWidth = s.frameWidth; out.sentTimestamp = s.timestamp;
              }
              if (s.type === 'inbound-rtp' && s.kind === 'video') {
                out.framesDecoded = s.framesDecoded; out.bytesReceived = s.bytesReceived;
                out.inboundCodec = report.get(s.codecId)?.mimeType;
              }
              if (s.type === 'outbound-rtp' && s.kind === 'audio') out.audioPacketsSent = s.packetsSent;
              if (s.type === 'candidate-pair' && s.nominated) out.availableOutgoingBitrate = s.availableOutgoingBitrate;
            });
            out.transceivers = pc.getTransceivers().map((t) => ({mid: t.mid, kind: t.receiver.track.kind,
                                                                  currentDirection: t.currentDirection, stopped: t.stopped}));
            return out;
          },
          async stop() {
            if (location_) await fetch(location_, {method: 'DELETE'});
            pc?.close();
            return true;
          },
        };
        </script>
        """
}
