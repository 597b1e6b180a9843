import NIOCore

/// One ZMTP 3.x connection as a ROUTER sees it (RFC 23/ZMTP and 37/ZMTP 3.1, NULL mechanism),
/// sans-IO: bytes in, events and bytes to send out.
///
/// The proxy speaks ZMTP itself instead of going through libzmq so that a request crosses one
/// thread (the proxy's event loop) instead of three (libzmq's I/O thread, the proxy loop, the I/O
/// thread again); libzmq clients and workers cannot tell the difference.
///
/// Only ZMTP 3.0 and 3.1 peers are accepted (libzmq 4.x and every current implementation). The
/// connection sends its whole greeting and its READY at once: RFC 23 §"Version negotiation" only
/// needs the first 11 bytes to arrive before the peer commits to 3.x, and the NULL mechanism's
/// READY needs no answer to wait for (RFC 23 §"The NULL Security Mechanism").
struct ZMTPConnection {
    enum Event {
        /// The peer's READY arrived: from now on messages flow. `socketType` is its Socket-Type.
        case ready(socketType: String)
        /// One whole multipart message, its frames in order (slices of what was received).
        case message([ByteBuffer])
    }

    private enum Phase {
        case greeting
        case handshake
        case traffic
    }

    /// A frame larger than this ends the connection: a peer cannot make the proxy buffer
    /// gigabytes by announcing them. 64 MiB holds an uncompressed 4K RGB frame.
    let maxFrameBytes: Int
    /// A message of more frames than this ends the connection (river's messages have at most 2).
    let maxFrames: Int
    private let socketType: String
    private var phase = Phase.greeting
    private var pending: ByteBuffer?
    /// Large buffers given up after frames were sliced from them, for `assemblyBuffer`.
    private var recycled: [ByteBuffer] = []
    private static let recycleLimit = 8
    private var parts: [ByteBuffer] = []

    init(socketType: String, maxFrameBytes: Int = 64 << 20, maxFrames: Int = 16) {
        self.socketType = socketType
        self.maxFrameBytes = maxFrameBytes
        self.maxFrames = maxFrames
    }

    /// What to send as soon as the TCP connection is up: the 64-byte greeting, then READY.
    func opening(allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 96)
        ZMTPWire.writeGreeting(into: &buffer)
        ZMTPWire.writeCommand(
            name: "READY", body: ZMTPWire.properties(["Socket-Type": socketType]), into: &buffer)
        return buffer
    }

    /// Feeds received bytes. Events are appended to `events`; bytes the protocol itself must send
    /// back (PONG) are appended to `replies`. A throw means the peer broke the protocol: close.
    mutating func receive(
        _ incoming: ByteBuffer, events: inout [Event], replies: inout ByteBuffer
    ) throws(ZMTPError) {
        var buffer: ByteBuffer
        let ours: Bool
        if var pending = pending.take() {
            var incoming = incoming
            pending.writeBuffer(&incoming)
            buffer = pending
            ours = true
        } else {
            buffer = incoming
            ours = false
        }
        var sliced = false
        while case .consumed = try step(&buffer, events: &events, replies: &replies, sliced: &sliced) {}
        keep(&buffer, ours: ours, sliced: sliced)
    }

    private enum Progress {
        case consumed
        /// The next unit has not all arrived, or nothing is left.
        case waiting
    }

    /// Parses one unit: the greeting, a command or a frame.
    private mutating func step(
        _ buffer: inout ByteBuffer, events: inout [Event], replies: inout ByteBuffer, sliced: inout Bool
    ) throws(ZMTPError) -> Progress {
        guard buffer.readableBytes > 0 else { return .waiting }
        if phase == .greeting {
            try ZMTPWire.checkGreeting(buffer)
            guard buffer.readableBytes >= ZMTPWire.greetingLength else { return .waiting }
            buffer.moveReaderIndex(forwardBy: ZMTPWire.greetingLength)
            phase = .handshake
            return .consumed
        }
        guard let header = try ZMTPWire.frameHeader(buffer) else { return .waiting }
        guard header.size <= maxFrameBytes else { throw .frameTooLarge(header.size, limit: maxFrameBytes) }
        let total = header.headerLength + header.size
        guard buffer.readableBytes >= total else { return .waiting }
        buffer.moveReaderIndex(forwardBy: header.headerLength)
        let body = buffer.readSlice(length: header.size)!
        sliced = true
        if header.isCommand {
            try command(body, events: &events, replies: &replies)
            return .consumed
        }
        guard phase == .traffic else { throw .messageBeforeReady }
        parts.append(body)
        if header.more {
            guard parts.count < maxFrames else { throw .tooManyFrames(limit: maxFrames) }
        } else {
            events.append(.message(parts))
            parts.removeAll(keepingCapacity: true)
        }
        return .consumed
    }

    /// Keeps the unparsed rest for the next `receive`.
    ///
    /// A unit that spans reads (a video frame, typically) is assembled in a buffer of our own,
    /// sized for the whole unit, so it is copied once as it trickles in. Once frames were sliced
    /// from a buffer, writing to it would copy it (the slices share its storage), so the rest moves
    /// to another. NIO's read buffer is never kept, so NIO can reuse it for the next read.
    private mutating func keep(_ buffer: inout ByteBuffer, ours: Bool, sliced: Bool) {
        if ours, !sliced, buffer.readableBytes > 0 {
            pending = buffer
            return
        }
        if buffer.readableBytes > 0 {
            var fresh = assemblyBuffer(capacity: max(needs(buffer), buffer.readableBytes))
            fresh.writeBuffer(&buffer)
            pending = fresh
        }
        if ours, buffer.capacity >= 64 << 10 {
            if recycled.count == Self.recycleLimit { recycled.removeFirst() }
            recycled.append(buffer)
        }
    }

    /// A buffer for assembling a unit: a recycled one whose slices have all been written out, if
    /// any. Fresh memory for every video frame would cost a page fault per 4 KiB (glibc returns
    /// freed large blocks to the kernel), which doubled the proxy's CPU time per frame.
    private mutating func assemblyBuffer(capacity: Int) -> ByteBuffer {
        for index in recycled.indices
        where recycled[index].modifyIfUniquelyOwned({ $0.clear(minimumCapacity: capacity) }) != nil {
            return recycled.remove(at: index)
        }
        return ByteBufferAllocator().buffer(capacity: capacity)
    }

    /// How many bytes the unit at the start of `buffer` takes in all, as far as its header tells.
    private func needs(_ buffer: ByteBuffer) -> Int {
        if phase == .greeting { return ZMTPWire.greetingLength }
        guard let header = try? ZMTPWire.frameHeader(buffer) else { return 9 }
        return header.headerLength + min(header.size, maxFrameBytes)
    }

    private mutating func command(
        _ body: ByteBuffer, events: inout [Event], replies: inout ByteBuffer
    ) throws(ZMTPError) {
        var body = body
        guard let nameLength = body.readInteger(as: UInt8.self),
            let name = body.readString(length: Int(nameLength))
        else { throw .malformedCommand }
        switch (phase, name) {
        case (.handshake, "READY"):
            let properties = try ZMTPWire.parseProperties(body)
            let peerType = properties["socket-type"].map { String(decoding: $0, as: UTF8.self) } ?? ""
            guard ["DEALER", "REQ", "ROUTER"].contains(peerType) else {
                throw .incompatibleSocketType(peerType)
            }
            phase = .traffic
            events.append(.ready(socketType: peerType))
        case (.handshake, "ERROR"):
            let length = Int(body.readInteger(as: UInt8.self) ?? 0)
            throw .peerError(body.readString(length: min(length, body.readableBytes)) ?? "")
        case (.handshake, _):
            throw .unexpectedCommand(name)
        case (.traffic, "PING"):
            // RFC 37 §"Connection heartbeating": answer with PONG carrying the ping's context.
            guard body.readInteger(as: UInt16.self) != nil else { throw .malformedCommand }
            var context = body
            var pong = ByteBufferAllocator().buffer(capacity: context.readableBytes)
            pong.writeBuffer(&context)
            ZMTPWire.writeCommand(name: "PONG", body: pong, into: &replies)
        default:
            // PONG, SUBSCRIBE, CANCEL and future commands mean nothing to a ROUTER.
            break
        }
    }
}

/// A peer that broke ZMTP; the connection is closed and counted.
enum ZMTPError: Error, Equatable, CustomStringConvertible {
    case badSignature
    case unsupportedVersion(UInt8)
    case unsupportedMechanism(String)
    case reservedFlags(UInt8)
    case frameTooLarge(Int, limit: Int)
    case tooManyFrames(limit: Int)
    case malformedCommand
    case unexpectedCommand(String)
    case messageBeforeReady
    case incompatibleSocketType(String)
    case peerError(String)

    var description: String {
        switch self {
        case .badSignature: "not a ZMTP peer (bad greeting signature)"
        case .unsupportedVersion(let major): "ZMTP \(major).x peer; 3.0 or later is required"
        case .unsupportedMechanism(let name): "security mechanism \(name) is not supported (NULL only)"
        case .reservedFlags(let flags): "frame flags \(flags) set reserved bits"
        case .frameTooLarge(let size, let limit): "frame of \(size) bytes is over the \(limit)-byte limit"
        case .tooManyFrames(let limit): "message of more than \(limit) frames"
        case .malformedCommand: "malformed command"
        case .unexpectedCommand(let name): "command \(name) before READY"
        case .messageBeforeReady: "message before the handshake ended"
        case .incompatibleSocketType(let type): "socket type '\(type)' cannot talk to a ROUTER"
        case .peerError(let reason): "peer refused the handshake: \(reason)"
        }
    }
}
