/// The data-channel half of the reflect page: `window.riverData`, driven by tests through the
/// DevTools protocol (scripts/e2e/datachannel_check.py). `river.start({dataChannels: true})`
/// creates the page's channel "river" before the offer, so the offer has an m=application section.
enum DataChannelPage {
    static let script = """
        const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
        const fnv1a = (bytes) => {
          let h = 0x811c9dc5;
          for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
          return {length: bytes.length, fnv1a: h};
        };
        const riverData = {
          pc: null, river: null, serverChannel: null, serverMessages: [], serverClosed: false,
          attach(pc) {
            this.pc = pc;
            this.river = pc.createDataChannel('river');
            this.river.binaryType = 'arraybuffer';
            pc.ondatachannel = (e) => {
              const ch = e.channel;
              ch.binaryType = 'arraybuffer';
              if (ch.label !== 'river-server') return;
              this.serverChannel = ch;
              // Binary messages are reported as length and FNV-1a hash, to keep the JSON small.
              ch.onmessage = (m) => this.serverMessages.push(
                typeof m.data === 'string' ? m.data : fnv1a(new Uint8Array(m.data)));
              ch.onclose = () => { this.serverClosed = true; };
            };
          },
          opened(ch) {
            if (ch.readyState === 'open') return Promise.resolve();
            return new Promise((resolve, reject) => {
              ch.addEventListener('open', resolve, {once: true});
              ch.addEventListener('error', reject, {once: true});
            });
          },
          drained(ch, high) {
            if (ch.bufferedAmount <= high) return Promise.resolve();
            return new Promise((r) => ch.addEventListener('bufferedamountlow', r, {once: true}));
          },
          // count messages of 0 B to maxSize, alternately text (with multi-byte characters) and binary.
          makeMessages(count, maxSize) {
            let s = 12345;
            const rand = () => { s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff; return s; };
            const chars = [['a', 1], ['\\u00e9', 2], ['\\u20ac', 3], ['\\u{1F600}', 4], ['z', 1]];
            const out = [];
            for (let i = 0; i < count; i++) {
              let size;
              switch (i % 10) {
                case 0: size = 0; break;
                case 1: size = maxSize; break;
                case 2: case 3: size = rand() % (maxSize + 1); break;
                default: size = rand() % 1500;
              }
              if (i % 2 === 0) {
                const parts = []; let bytes = 0;
                while (bytes < size) {
                  let [c, n] = chars[rand() % chars.length];
                  if (bytes + n > size) { c = 'x'; n = 1; }
                  parts.push(c); bytes += n;
                }
                out.push(parts.join(''));
              } else {
                const b = new Uint8Array(size);
                for (let k = 0; k < size; k++) b[k] = rand() & 255;
                out.push(b);
              }
            }
            return out;
          },
          async echo({count = 1000, maxSize = 65536, timeoutMs = 120000} = {}) {
            const ch = this.river;
            await this.opened(ch);
            const sent = this.makeMessages(count, maxSize);
            const received = [];
            const done = new Promise((resolve) => {
              ch.onmessage = (m) => { received.push(m.data); if (received.length >= count) resolve(); };
            });
            ch.bufferedAmountLowThreshold = 1 << 20;
            const t0 = performance.now();
            for (const m of sent) { await this.drained(ch, 4 << 20); ch.send(m); }
            await Promise.race([done, sleep(timeoutMs)]);
            const ms = performance.now() - t0;
            let mismatches = 0, firstMismatch = -1, bytes = 0, empty = 0, text = 0;
            const encoder = new TextEncoder();
            for (let i = 0; i < count; i++) {
              const a = sent[i], b = received[i];
              let same;
              if (typeof a === 'string') {
                text++; bytes += encoder.encode(a).length; if (a.length === 0) empty++;
                same = typeof b === 'string' && a === b;
              } else {
                bytes += a.length; if (a.length === 0) empty++;
                same = b instanceof ArrayBuffer && b.byteLength === a.length;
                if (same) { const v = new Uint8Array(b); for (let k = 0; k < a.length; k++) if (v[k] !== a[k]) { same = false; break; } }
              }
              if (!same) { mismatches++; if (firstMismatch < 0) firstMismatch = i; }
            }
            return {sent: count, received: received.length, mismatches, firstMismatch, bytes, empty, text, ms,
                    channelId: ch.id, maxMessageSize: this.pc.sctp ? this.pc.sctp.maxMessageSize : null};
          },
          // Waits for river's `count` messages, answers "bye" (river then closes its channel) and
          // waits for the close.
          async serverChannelResult(count = 20, timeoutMs = 20000) {
            const t0 = performance.now();
            while (this.serverMessages.length < count && performance.now() - t0 < timeoutMs) await sleep(50);
            if (this.serverChannel && this.serverChannel.readyState === 'open') this.serverChannel.send('bye');
            while (!this.serverClosed && performance.now() - t0 < timeoutMs) await sleep(50);
            return {id: this.serverChannel ? this.serverChannel.id : null,
                    label: this.serverChannel ? this.serverChannel.label : null,
                    messages: this.serverMessages, closed: this.serverClosed};
          },
          async closeRiver(timeoutMs = 20000) {
            const ch = this.river;
            const closed = new Promise((r) => ch.addEventListener('close', r, {once: true}));
            ch.close();
            await Promise.race([closed, sleep(timeoutMs)]);
            return ch.readyState;
          },
          // One-way throughput to river: binary messages on a 'river-sink' channel, which river
          // counts instead of echoing; its reply to "done" ends the clock.
          async throughput({megabytes = 32, chunk = 65536, timeoutMs = 180000} = {}) {
            const ch = this.pc.createDataChannel('sink', {protocol: 'river-sink'});
            ch.binaryType = 'arraybuffer';
            await this.opened(ch);
            const payload = new Uint8Array(chunk);
            for (let k = 0; k < chunk; k++) payload[k] = (k * 31) & 255;
            const n = Math.ceil(megabytes * 1048576 / chunk);
            ch.bufferedAmountLowThreshold = 1 << 20;
            const reply = new Promise((r) => { ch.onmessage = (m) => r(m.data); });
            const t0 = performance.now();
            for (let i = 0; i < n; i++) { await this.drained(ch, 8 << 20); ch.send(payload); }
            ch.send('done');
            const text = await Promise.race([reply, sleep(timeoutMs).then(() => '{}')]);
            const ms = performance.now() - t0;
            const counted = JSON.parse(text);
            const closed = new Promise((r) => ch.addEventListener('close', r, {once: true}));
            ch.close();
            await Promise.race([closed, sleep(20000)]);
            return {bytesSent: n * chunk, messagesSent: n, bytes: counted.bytes, messages: counted.messages, ms,
                    megabytesPerSecond: counted.bytes / 1e6 / (ms / 1000), state: ch.readyState};
          },
        };
        window.riverData = riverData;
        """
}
