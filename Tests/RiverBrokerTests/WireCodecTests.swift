import Foundation
import RiverCore
import Testing

@testable import RiverBroker

private func decode(_ header: [UInt8], frames: Int = 1, body: Int = 0) throws(ProtocolError) -> WireMessage {
    let result = header.withUnsafeBytes { raw in
        Result { () throws(ProtocolError) in
            try WireCodec.decode(header: raw, frameCount: frames, bodyCount: body)
        }
    }
    return try result.get()
}

private func sampleRequest() -> RequestHeader {
    RequestHeader(
        requestID: 0x0102_0304_0506_0708, streamID: 42, rtpTimestamp: 90_000, budgetMicros: 250_000,
        width: 640,
        height: 480, format: .i420, strides: [640, 320, 320], offsets: [0, 307_200, 384_000],
        byteCount: 460_800)
}

@Suite struct WireCodecTests {
    @Test func everyMessageRoundTrips() throws {
        let messages: [(WireMessage, Int, Int)] = [
            (.ready(slots: 3, name: "gpu-0"), 1, 0),
            (.ready(slots: 1, name: "cpu", input: FrameSize(width: 256, height: 192)), 1, 0),
            (.heartbeat, 1, 0),
            (.disconnect, 1, 0),
            (.request(sampleRequest()), 2, 460_800),
            (
                .reply(
                    ReplyHeader(
                        requestID: 9, status: .failed,
                        timings: ReplyTimings(proxyQueueMicros: 1, workerQueueMicros: 2, computeMicros: 3))),
                2, 17
            ),
            (.error(ErrorHeader(requestID: 5, code: .workerLost)), 2, 4),
            (.capacity(ProxyCapacity(workers: 2, totalSlots: 5, freeSlots: 3)), 1, 0),
            (
                .capacity(
                    ProxyCapacity(
                        workers: 1, totalSlots: 1, freeSlots: 1, input: FrameSize(width: 640, height: 640))),
                1, 0
            ),
        ]
        for (message, frames, body) in messages {
            let bytes = WireCodec.encode(message)
            #expect(try decode(bytes, frames: frames, body: body) == message)
        }
    }

    @Test func capacityLayoutAndChecks() throws {
        let bytes = WireCodec.encode(.capacity(ProxyCapacity(workers: 2, totalSlots: 5, freeSlots: 3)))
        #expect(bytes == [0x52, 0x56, 3, 7, 0, 2, 0, 0, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0, 0])
        let sized = ProxyCapacity(
            workers: 1, totalSlots: 1, freeSlots: 0, input: FrameSize(width: 256, height: 192))
        #expect(WireCodec.encode(.capacity(sized))[16...] == [1, 0, 0, 192])
        let queued = ProxyCapacity(workers: 1, totalSlots: 1, freeSlots: 0, queued: 0x0102)
        #expect(WireCodec.encode(.capacity(queued))[4..<8] == [0, 1, 1, 2])
        #expect(try decode(WireCodec.encode(.capacity(queued))) == .capacity(queued))
        #expect(throws: ProtocolError.badField("CAPACITY has 6 free of 5 slots")) {
            try decode([0x52, 0x56, 3, 7, 0, 2, 0, 0, 0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 0])
        }
        #expect(throws: ProtocolError.badField("CAPACITY input size 256x0")) {
            try decode([0x52, 0x56, 3, 7, 0, 2, 0, 0, 0, 0, 0, 5, 0, 0, 0, 5, 1, 0, 0, 0])
        }
        #expect(throws: ProtocolError.truncated(field: "CAPACITY header", need: 20, got: 12)) {
            try decode(Array(bytes.prefix(12)))
        }
    }

    /// Version 3 moved READY's name to make room for the input size; every message of an older
    /// version, whatever its type, is refused by version rather than misread.
    @Test func olderVersionsAreRefused() {
        for message in [WireMessage.heartbeat, .ready(slots: 1, name: "old"), .disconnect] {
            for old: UInt8 in [1, 2] {
                var bytes = WireCodec.encode(message)
                #expect(bytes[2] == 3)
                bytes[2] = old
                #expect(throws: ProtocolError.unsupportedVersion(old)) { try decode(bytes) }
            }
        }
    }

    /// READY: slots, then the input size (0×0: any size), then the name, and nothing after it.
    @Test func readyLayoutAndChecks() throws {
        let bytes = WireCodec.encode(.ready(slots: 2, name: "w", input: FrameSize(width: 320, height: 240)))
        #expect(bytes == [0x52, 0x56, 3, 1, 0, 2, 1, 64, 0, 240, 1, 0x77])
        #expect(WireCodec.encode(.ready(slots: 2, name: "w"))[6..<10] == [0, 0, 0, 0])
        #expect(throws: ProtocolError.badField("READY input size 0x240")) {
            try decode([0x52, 0x56, 3, 1, 0, 2, 0, 0, 0, 240, 1, 0x77])
        }
        #expect(throws: ProtocolError.badField("READY has 1 bytes after its name")) {
            try decode(bytes + [0])
        }
        // A size the field cannot hold goes as none: that worker then takes frames of any size.
        let huge = WireCodec.encode(.ready(slots: 1, name: "w", input: FrameSize(width: 70_000, height: 10)))
        #expect(try decode(huge) == .ready(slots: 1, name: "w"))
    }

    @Test func requestHeaderDescribesAFrame() throws {
        let frame = VideoFrame(packedWidth: 64, height: 48, format: .rgb24, rtpTimestamp: 7)
        let header = try RequestHeader(frame: frame, requestID: 1, streamID: 2, budgetMicros: 3)
        #expect(header.strides == [192])
        #expect(header.byteCount == UInt32(64 * 48 * 3))
        let bytes = WireCodec.encode(.request(header))
        #expect(bytes.count == WireCodec.requestLength)
        #expect(try decode(bytes, frames: 2, body: frame.data.count) == .request(header))
    }

    @Test func wrongFrameCountIsRefused() {
        #expect(throws: ProtocolError.wrongFrameCount(type: .request, expected: 2, got: 1)) {
            try decode(WireCodec.encode(.request(sampleRequest())), frames: 1)
        }
        #expect(throws: ProtocolError.wrongFrameCount(type: .heartbeat, expected: 1, got: 3)) {
            try decode(WireCodec.encode(.heartbeat), frames: 3)
        }
    }

    @Test func otherVersionsAreRefusedWithBadVersion() {
        var bytes = WireCodec.encode(.heartbeat)
        bytes[2] = 4
        #expect(throws: ProtocolError.unsupportedVersion(4)) { try decode(bytes) }
        #expect(ProtocolError.unsupportedVersion(4).errorCode == .badVersion)
    }

    @Test func truncatedHeadersNameTheField() {
        let full = WireCodec.encode(.request(sampleRequest()))
        for length in [0, 3, 4, 20, 63] {
            #expect(throws: ProtocolError.self) {
                try decode(Array(full.prefix(length)), frames: 2, body: 460_800)
            }
        }
        #expect(throws: ProtocolError.truncated(field: "REQUEST header", need: 64, got: 20)) {
            try decode(Array(full.prefix(20)), frames: 2, body: 460_800)
        }
    }

    @Test func headerClaimingMoreBytesThanSentIsRefused() {
        let bytes = WireCodec.encode(.request(sampleRequest()))
        #expect(throws: ProtocolError.bodySizeMismatch(type: .request, declared: 460_800, actual: 1000)) {
            try decode(bytes, frames: 2, body: 1000)
        }
        // Geometry that does not fit the declared buffer.
        var header = sampleRequest()
        header.byteCount = 1000
        #expect(throws: ProtocolError.self) {
            try decode(WireCodec.encode(.request(header)), frames: 2, body: 1000)
        }
        header = sampleRequest()
        header.strides[0] = 100
        #expect(throws: ProtocolError.self) {
            try decode(WireCodec.encode(.request(header)), frames: 2, body: 460_800)
        }
    }

    @Test func badFieldsAreRefused() {
        #expect(throws: ProtocolError.badField("READY announces 0 slots")) {
            try decode(WireCodec.encode(.ready(slots: 0, name: "x")))
        }
        var bytes = WireCodec.encode(.request(sampleRequest()))
        bytes[32] = 9  // pixel format
        #expect(throws: ProtocolError.self) { try decode(bytes, frames: 2, body: 460_800) }
        bytes = WireCodec.encode(.heartbeat)
        bytes[3] = 77
        #expect(throws: ProtocolError.unknownType(77)) { try decode(bytes) }
        #expect(throws: ProtocolError.badSignature) { try decode([0x47, 0x45, 0x54, 0x20]) }
    }

    /// FuzzBrokerWire's first finding (kept as Fuzz/make_seeds.py's `ready-bad-utf8` seed): a READY
    /// name of invalid UTF-8 decoded with U+FFFD replacements, which re-encoded longer and to
    /// another name. It is now refused; and a long name is cut on a scalar boundary, not inside one.
    @Test func readyNameMustBeUTF8() throws {
        let finding = [UInt8](
            Data(
                base64Encoded: "wAAAAABSVgIBJCQkJCQkJCQkJCQkJCQkJCQk+/v7+/skJCQkJCQkJCQkJCQkIQAECHdvcmtlci0x")!
        )
        // Found in version 2; the same slots and name in version 3's layout (no input size).
        let fields = Array(finding[9...])
        let name = fields[3..<(3 + Int(fields[2]))]
        let header3: [UInt8] = [0x52, 0x56, 3, 1] + fields[0..<2] + [0, 0, 0, 0] + [fields[2]] + name
        #expect(throws: ProtocolError.badField("READY name is not UTF-8")) { try decode(header3) }
        let long = String(repeating: "\u{E9}", count: 200)  // 400 bytes of UTF-8, 2 per scalar
        let header = WireCodec.encode(.ready(slots: 1, name: long))
        #expect(header[10] == 254)
        #expect(try decode(header) == .ready(slots: 1, name: String(repeating: "\u{E9}", count: 127)))
    }

    /// Random headers must only ever decode or throw, never trap.
    @Test func randomBytesNeverCrash() {
        var generator = SystemRandomNumberGenerator()
        var refused = 0
        for round in 0..<20_000 {
            let length = Int.random(in: 0...80, using: &generator)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // Half the time keep a valid prefix so the type-specific parsers are reached.
            if round % 2 == 0, length >= 4 {
                bytes[0] = 0x52
                bytes[1] = 0x56
                bytes[2] = 1
                bytes[3] = UInt8.random(in: 1...6, using: &generator)
            }
            do {
                _ = try decode(bytes, frames: Int.random(in: 1...3), body: Int.random(in: 0...2000))
            } catch {
                refused += 1
                #expect(!error.description.isEmpty)
            }
        }
        #expect(refused > 10_000)
    }

    @Test func requestIDOfUndecodableRequestIsRecovered() {
        var bytes = WireCodec.encode(.request(sampleRequest()))
        bytes[32] = 9
        let id = bytes.withUnsafeBytes { WireCodec.requestID(ofUndecodable: $0) }
        #expect(id == 0x0102_0304_0506_0708)
        let none = [UInt8]([1, 2, 3]).withUnsafeBytes { WireCodec.requestID(ofUndecodable: $0) }
        #expect(none == 0)
    }
}
