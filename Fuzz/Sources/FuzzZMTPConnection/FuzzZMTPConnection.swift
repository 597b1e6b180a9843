import FuzzDriver
import NIOCore

/// libFuzzer entry for the proxy's ZMTP codec (the two codec files are linked into this module).
///
/// Input: one byte choosing a chunk size, then the stream a peer sends. The stream is fed once
/// whole and once in chunks of that size; both must give the same events, the same protocol
/// replies and the same error (a parser that depends on how TCP happened to split the bytes is
/// the bug this looks for), and no frame may hold more bytes than arrived.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzZMTPConnection(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let chunk = Int(data[0]) + 1
    let stream = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let whole = feed(stream, chunk: max(1, stream.count))
    let split = feed(stream, chunk: chunk)
    precondition(whole == split, "chunks of \(chunk) changed the outcome: \(whole) vs \(split)")
    precondition(whole.frameBytes <= stream.count, "frames hold more bytes than arrived")
    return 0
}

struct Outcome: Equatable, CustomStringConvertible {
    var events: [String] = []
    var frames: [[UInt8]] = []
    var replies: [UInt8] = []
    var error: ZMTPError?

    var frameBytes: Int { frames.reduce(0) { $0 + $1.count } }
    var description: String {
        "\(events.count) events, \(frames.count) frames, error \(String(describing: error))"
    }
}

func feed(_ stream: [UInt8], chunk: Int) -> Outcome {
    // Small limits, so the fuzzer reaches them.
    var connection = ZMTPConnection(socketType: "ROUTER", maxFrameBytes: 4096, maxFrames: 4)
    var outcome = Outcome()
    var events: [ZMTPConnection.Event] = []
    var replies = ByteBuffer()
    var offset = 0
    while offset < stream.count, outcome.error == nil {
        let end = min(stream.count, offset + chunk)
        do {
            try connection.receive(
                ByteBuffer(bytes: stream[offset..<end]), events: &events, replies: &replies)
        } catch {
            outcome.error = error
        }
        offset = end
    }
    for event in events {
        switch event {
        case .ready(let type): outcome.events.append("ready \(type)")
        case .message(let frames):
            outcome.events.append("message \(frames.count)")
            outcome.frames += frames.map { Array($0.readableBytesView) }
        }
    }
    outcome.replies = Array(replies.readableBytesView)
    return outcome
}

/// The executable's entry point (see `runLibFuzzer`).
@_cdecl("FuzzZMTPConnection_main")
public func FuzzZMTPConnectionMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?)
    -> Int32
{
    runLibFuzzer(argc, argv) { data, size in fuzzZMTPConnection(data!, size) }
}
