import Testing

@testable import RiverSCTP

@Suite struct MessageReassemblerTests {
    private func append(
        _ r: inout MessageReassembler, _ stream: UInt16, _ bytes: [UInt8], end: Bool, ppid: UInt32 = 53
    ) -> MessageReassembler.Output? {
        bytes.withUnsafeBytes { r.append(stream: stream, ppid: ppid, piece: $0, end: end) }
    }

    @Test func wholeMessagePassesThrough() {
        var r = MessageReassembler(maxMessageSize: 10)
        #expect(append(&r, 3, [1, 2, 3], end: true) == .message(stream: 3, ppid: 53, payload: [1, 2, 3]))
        #expect(r.bufferedBytes == 0)
    }

    @Test func piecesOfInterleavedStreamsJoinPerStream() {
        var r = MessageReassembler(maxMessageSize: 100)
        #expect(append(&r, 1, [1, 2], end: false, ppid: 51) == nil)
        #expect(append(&r, 2, [9], end: false) == nil)
        #expect(append(&r, 1, [3], end: false, ppid: 51) == nil)
        #expect(r.bufferedBytes == 4)
        #expect(append(&r, 2, [8], end: true) == .message(stream: 2, ppid: 53, payload: [9, 8]))
        #expect(
            append(&r, 1, [4], end: true, ppid: 51) == .message(stream: 1, ppid: 51, payload: [1, 2, 3, 4]))
        #expect(r.bufferedBytes == 0)
    }

    @Test func oversizedMessageIsReportedOnceAndDroppedToItsEnd() {
        var r = MessageReassembler(maxMessageSize: 4)
        #expect(append(&r, 0, [1, 2, 3], end: false) == nil)
        #expect(append(&r, 0, [4, 5], end: false) == .oversized(stream: 0, ppid: 53))
        #expect(r.bufferedBytes == 0)
        #expect(append(&r, 0, [6, 7, 8, 9], end: false) == nil)
        #expect(append(&r, 0, [10], end: true) == nil)
        // The stream is usable again afterwards.
        #expect(
            append(&r, 0, [1, 2, 3, 4], end: true) == .message(stream: 0, ppid: 53, payload: [1, 2, 3, 4]))
        #expect(append(&r, 0, [1, 2, 3, 4, 5], end: true) == .oversized(stream: 0, ppid: 53))
    }

    @Test func discardForgetsAPartialMessage() {
        var r = MessageReassembler(maxMessageSize: 100)
        #expect(append(&r, 5, [1, 2], end: false) == nil)
        r.discard(stream: 5)
        #expect(append(&r, 5, [7], end: true) == .message(stream: 5, ppid: 53, payload: [7]))
    }
}

@Suite struct OutgoingMessageQueueTests {
    private func message(_ stream: UInt16) -> OutgoingMessage {
        OutgoingMessage(
            stream: stream, ppid: 53, payload: [UInt8(truncatingIfNeeded: stream)], countedBytes: 1,
            reliability: .reliable,
            unordered: false, enqueued: .now)
    }

    @Test func keepsFIFOOrderAcrossCompaction() {
        var q = OutgoingMessageQueue()
        var expected: UInt16 = 0
        for i in 0..<500 {
            q.append(message(UInt16(i)))
            if i % 3 == 0 {
                #expect(q.popFirst()?.stream == expected)
                expected += 1
            }
        }
        while let m = q.popFirst() {
            #expect(m.stream == expected)
            expected += 1
        }
        #expect(expected == 500)
        #expect(q.isEmpty)
    }

    @Test func replacingTheHeadKeepsPartialProgress() {
        var q = OutgoingMessageQueue()
        q.append(message(1))
        q.append(message(2))
        var head = q.first!
        head.sent = 1
        q.first = head
        #expect(q.first?.sent == 1)
        #expect(q.first?.remaining == 0)
        #expect(q.count == 2)
    }
}
