// One-way data-channel throughput of RiverSCTP (usrsctp in AF_CONN mode), client → server, two
// associations wired back to back through memory on one serial queue, as a session's event loop
// runs them. No DTLS or UDP: this is the ceiling SCTP itself puts on a session, to compare with the
// Chromium → river figure of DataChannelEndToEndTests. Prints MB/s per case and the ratio to the
// first case, all from one run.
//
//     swift run -c release SCTPBenchmark [megabytes]

import Dispatch
import Foundation
import RiverSCTP

/// Everything is touched on `queue` only; the class crosses into its jobs, hence unchecked.
final class Transfer: @unchecked Sendable {
    let queue = DispatchQueue(label: "river.sctp.benchmark")
    var client: SCTPAssociation!
    var server: SCTPAssociation!
    var channel: DataChannel?
    var receivedBytes = 0
    var sentMessages = 0
    var started = ContinuousClock.now
    let done = DispatchSemaphore(value: 0)
    let total: Int
    let message: DataChannelMessage
    let parameters: DataChannelParameters

    init(total: Int, messageSize: Int, parameters: DataChannelParameters) throws {
        self.total = total
        self.message = .binary([UInt8](repeating: 0xA5, count: messageSize))
        self.parameters = parameters
        try queue.sync {
            client = try SCTPAssociation(configuration: .init(role: .client), executor: queue) {
                [unowned self] p in
                queue.async { self.server.receive(p) }
            }
            server = try SCTPAssociation(configuration: .init(role: .server), executor: queue) {
                [unowned self] p in
                queue.async { self.client.receive(p) }
            }
            client.onEvent = { [unowned self] event in
                switch event {
                case .connected:
                    channel = try! client.openChannel(parameters)
                    started = .now
                    pump()
                case .bufferedAmountLow: pump()
                default: break
                }
            }
            server.onEvent = { [unowned self] event in
                if case .message(_, let m) = event {
                    receivedBytes += m.payload.count
                    if receivedBytes >= total { done.signal() }
                }
            }
        }
    }

    /// Sends until the channel's buffer is full or everything is queued.
    func pump() {
        guard let channel else { return }
        while sentMessages * message.payload.count < total {
            do {
                try channel.send(message)
                sentMessages += 1
            } catch {
                return  // buffer full: bufferedAmountLow brings us back
            }
        }
    }

    func run() -> Double {
        guard done.wait(timeout: .now() + 120) == .success else { return 0 }
        let elapsed = queue.sync { ContinuousClock.now - started }
        queue.sync {
            client.close()
            server.close()
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Double(total) / 1e6 / seconds
    }
}

let megabytes = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 64
let cases: [(String, Int, DataChannelParameters)] = [
    ("64 KiB messages, ordered, reliable", 64 << 10, .init(label: "b")),
    ("64 KiB messages, unordered, reliable", 64 << 10, .init(label: "b", ordered: false)),
    ("256 KiB messages, ordered, reliable", 256 << 10, .init(label: "b")),
    ("1 KiB messages, ordered, reliable", 1 << 10, .init(label: "b")),
    (
        "1 KiB messages, unordered, maxRetransmits 0", 1 << 10,
        .init(label: "b", ordered: false, reliability: .maxRetransmits(0))
    ),
]
print("RiverSCTP one-way throughput through memory, \(megabytes) MB per case (MB = 10^6 bytes)")
var baseline: Double?
var finished: [Transfer] = []  // kept alive: their queues may still hold jobs for them
for (name, size, parameters) in cases {
    let transfer = try Transfer(total: megabytes * 1_000_000, messageSize: size, parameters: parameters)
    finished.append(transfer)
    let rate = transfer.run()
    baseline = baseline ?? rate
    let padded = name.padding(toLength: 48, withPad: " ", startingAt: 0)
    print(padded + String(format: " %8.1f MB/s  ×%.2f", rate, rate / baseline!))
}
