import Dispatch
import Foundation
import Synchronization

@testable import RiverSCTP

/// Two associations (DTLS client and DTLS server) wired back to back through memory, both owned
/// by one serial queue, as a session's event loop would own its association.
///
/// Packets hop through `queue.async` like datagrams through a socket, so no call re-enters an
/// association. The link can drop packets or hold them (a stalled peer), and tests can inject
/// bytes. Everything mutable is touched only on `queue`; that is why the class is
/// `@unchecked Sendable`, and tests reach it through `run`.
final class LoopbackPair: @unchecked Sendable {
    enum Side: Sendable { case client, server }

    struct Received: Sendable, Equatable {
        var channel: UInt16
        var label: String
        var message: DataChannelMessage
    }

    let queue: DispatchQueue
    private let queueKey = DispatchSpecificKey<Bool>()
    var client: SCTPAssociation!
    var server: SCTPAssociation!

    // Recorded events, per side.
    var connected: [Side: Bool] = [:]
    var opened: [Side: [DataChannel]] = [:]
    var received: [Side: [Received]] = [:]
    var lowWater: [Side: [UInt16]] = [:]
    var channelsClosed: [Side: [UInt16]] = [:]
    var closedReasons: [Side: [SCTPAssociation.CloseReason]] = [:]
    /// Set if any callback ran off the owner's queue.
    var offQueueCallbacks = 0
    /// Packets each side emitted, for inspection.
    var packetsFrom: [Side: [[UInt8]]] = [:]

    /// When set, the server echoes every message on its channel the way `serve --reflect` does:
    /// on a full buffer it keeps the message and pauses reading until the low-water event.
    var echoServer = false
    private var echoWaiting: (DataChannel, DataChannelMessage)?

    // Link behaviour.
    var dropRate: [Side: Double] = [:]
    var holding: [Side: Bool] = [:]
    var held: [Side: [[UInt8]]] = [:]
    var rng = SplitMix64(seed: 0x5EED)

    init(
        client clientConfig: SCTPConfiguration = SCTPConfiguration(role: .client),
        server serverConfig: SCTPConfiguration = SCTPConfiguration(role: .server)
    ) throws {
        queue = DispatchQueue(label: "river.sctp.test.\(UUID().uuidString)")
        queue.setSpecific(key: queueKey, value: true)
        try queue.sync {
            client = try SCTPAssociation(configuration: clientConfig, executor: queue) { [unowned self] in
                self.transmit($0, from: .client)
            }
            server = try SCTPAssociation(configuration: serverConfig, executor: queue) { [unowned self] in
                self.transmit($0, from: .server)
            }
            client.onEvent = { [unowned self] in self.record($0, side: .client) }
            server.onEvent = { [unowned self] in self.record($0, side: .server) }
        }
    }

    func association(_ side: Side) -> SCTPAssociation { side == .client ? client : server }

    private func checkQueue() {
        if DispatchQueue.getSpecific(key: queueKey) != true { offQueueCallbacks += 1 }
    }

    private func transmit(_ packet: [UInt8], from side: Side) {
        checkQueue()
        packetsFrom[side, default: []].append(packet)
        if holding[side] == true {
            held[side, default: []].append(packet)
            return
        }
        if let rate = dropRate[side], rate > 0, rng.nextDouble() < rate { return }
        deliver(packet, from: side)
    }

    private func deliver(_ packet: [UInt8], from side: Side) {
        queue.async { [self] in
            let peer = side == .client ? server : client
            peer?.receive(packet)
        }
    }

    private func echo(_ message: DataChannelMessage, on channel: DataChannel) {
        do {
            try channel.send(message)
        } catch DataChannelError.bufferFull {
            echoWaiting = (channel, message)
            server.isReadingPaused = true
        } catch {}
    }

    /// Stops (or resumes, releasing what was held) the link from `side`.
    func hold(_ side: Side, _ on: Bool) {
        holding[side] = on
        if !on {
            for packet in held[side] ?? [] { deliver(packet, from: side) }
            held[side] = []
        }
    }

    private func record(_ event: SCTPAssociation.Event, side: Side) {
        checkQueue()
        switch event {
        case .connected: connected[side] = true
        case .channelOpened(let channel): opened[side, default: []].append(channel)
        case .message(let channel, let message):
            received[side, default: []].append(
                Received(channel: channel.id, label: channel.label, message: message))
            if side == .server && echoServer { echo(message, on: channel) }
        case .bufferedAmountLow(let channel):
            lowWater[side, default: []].append(channel.id)
            if side == .server, let (waitingChannel, message) = echoWaiting, waitingChannel === channel {
                echoWaiting = nil
                echo(message, on: channel)
                if echoWaiting == nil { server.isReadingPaused = false }
            }
        case .channelClosed(let channel): channelsClosed[side, default: []].append(channel.id)
        case .closed(let reason): closedReasons[side, default: []].append(reason)
        }
    }

    /// Runs `body` on the owner queue and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable (LoopbackPair) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body(self) }) }
        }
    }

    /// Polls `condition` on the owner queue until it holds or `seconds` pass (generous: CI is a
    /// loaded 2-core box). Returns whether it held.
    @discardableResult
    func wait(
        seconds: Double = 20, _ condition: @escaping @Sendable (LoopbackPair) -> Bool
    ) async throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if try await run(condition) { return true }
            try await Task.sleep(for: .milliseconds(5))
        }
        return try await run(condition)
    }

    func connect() async throws -> Bool {
        try await wait { $0.connected[.client] == true && $0.connected[.server] == true }
    }

    /// Closes both associations (idempotent); tests call it in `defer`-like cleanup.
    func shutdown() async throws {
        try await run { pair in
            pair.client.close()
            pair.server.close()
        }
    }
}

/// Deterministic random numbers for link loss and garbage (SplitMix64).
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func nextDouble() -> Double { Double(next() >> 11) / Double(1 << 53) }

    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
    }
}
