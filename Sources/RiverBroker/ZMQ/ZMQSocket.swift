import CZMQ

#if canImport(Glibc)
    import Glibc
#endif

/// A libzmq failure: which call, and libzmq's own explanation.
public struct ZMQError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var code: Int32

    init(_ operation: String) {
        self.operation = operation
        self.code = zmq_errno()
    }

    public var description: String { "\(operation): \(String(cString: zmq_strerror(code)))" }
}

/// A libzmq context. Contexts are thread-safe; sockets made from one are not.
final class ZMQContext: @unchecked Sendable {
    // @unchecked: libzmq documents zmq_ctx_* as thread-safe, and the pointer is never reassigned.
    let handle: UnsafeMutableRawPointer

    /// - Parameter threadNamePrefix: shown before libzmq's I/O thread names (`1/ZMQbg/IO/0`), so
    ///   `top -H` and the benchmark can tell the proxy's I/O thread from a client's.
    init(threadNamePrefix: Int32? = nil) {
        handle = zmq_ctx_new()!
        // Ending the process must not wait for unsent messages to peers that are gone.
        zmq_ctx_set(handle, ZMQ_BLOCKY, 0)
        if let threadNamePrefix { zmq_ctx_set(handle, ZMQ_THREAD_NAME_PREFIX, threadNamePrefix) }
    }

    deinit { zmq_ctx_term(handle) }
}

/// One libzmq socket. Not thread-safe: it lives on one I/O thread from creation to `close`.
final class ZMQSocket {
    /// The largest message any broker socket takes (`ZMQ_MAXMSGSIZE`; a larger one closes the
    /// connection it came on): a 4096×4096 RGB24 frame is 48 MiB. Set on every socket, proxy,
    /// workers and clients alike, so no peer makes another buffer more.
    static let maxMessageBytes: Int64 = 64 << 20

    let handle: UnsafeMutableRawPointer
    private var closed = false

    init(_ context: ZMQContext, type: Int32) throws(ZMQError) {
        guard let handle = zmq_socket(context.handle, type) else { throw ZMQError("zmq_socket") }
        self.handle = handle
        setOption(ZMQ_LINGER, 0)
        var maxSize = Self.maxMessageBytes
        zmq_setsockopt(handle, ZMQ_MAXMSGSIZE, &maxSize, MemoryLayout<Int64>.size)
    }

    deinit {
        close()
    }

    func close() {
        guard !closed else { return }
        closed = true
        zmq_close(handle)
    }

    func setOption(_ option: Int32, _ value: Int32) {
        var value = value
        zmq_setsockopt(handle, option, &value, MemoryLayout<Int32>.size)
    }

    func bind(_ endpoint: String) throws(ZMQError) {
        guard zmq_bind(handle, endpoint) == 0 else { throw ZMQError("bind \(endpoint)") }
    }

    func connect(_ endpoint: String) throws(ZMQError) {
        guard zmq_connect(handle, endpoint) == 0 else { throw ZMQError("connect \(endpoint)") }
    }

    /// The endpoint actually bound (resolves `tcp://127.0.0.1:*` to a port).
    var lastEndpoint: String {
        var buffer = [CChar](repeating: 0, count: 256)
        var size = buffer.count
        zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: Sending (never blocks: a full or absent peer is reported, not waited for)

    /// Sends a copy of `bytes` as one frame. False when it could not be queued.
    @discardableResult
    func send(_ bytes: [UInt8], more: Bool) -> Bool {
        bytes.withUnsafeBytes { send(raw: $0, more: more) }
    }

    @discardableResult
    func send(raw: UnsafeRawBufferPointer, more: Bool) -> Bool {
        let flags = ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)
        return zmq_send(handle, raw.baseAddress, raw.count, flags) >= 0
    }

    /// Sends `message`'s bytes as one frame without copying them: libzmq shares the buffer by
    /// reference count, so `message` stays valid for sending again.
    @discardableResult
    func send(sharing message: ZMQMessage, more: Bool) -> Bool {
        var copy = zmq_msg_t()
        zmq_msg_init(&copy)
        zmq_msg_copy(&copy, message.pointer)
        let sent = zmq_msg_send(&copy, handle, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)) >= 0
        if !sent { zmq_msg_close(&copy) }
        return sent
    }

    /// Sends `bytes` as one frame. Large buffers are handed to libzmq without copying: the frame
    /// points into the array's storage and keeps the array alive until libzmq's I/O thread is done
    /// with it. Small ones are copied, which is cheaper than the bookkeeping.
    @discardableResult
    func send(retaining bytes: [UInt8], more: Bool) -> Bool {
        guard bytes.count >= 16 * 1024 else { return send(bytes, more: more) }
        let box = RetainedBytes(bytes)
        let hint = Unmanaged.passRetained(box).toOpaque()
        var message = zmq_msg_t()
        let data = UnsafeMutableRawPointer(mutating: box.baseAddress)
        zmq_msg_init_data(&message, data, bytes.count, releaseRetainedBytes, hint)
        let sent = zmq_msg_send(&message, handle, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)) >= 0
        // On failure the message (and with it the retain) is still ours to release.
        if !sent { zmq_msg_close(&message) }
        return sent
    }

    // MARK: Receiving

    /// Receives one whole multipart message without waiting, or returns false when none is ready.
    /// Each frame stays a libzmq message, so pixels and documents are never copied here.
    func receive(into frames: inout [Frame]) -> Bool {
        frames.removeAll(keepingCapacity: true)
        var more = true
        while more {
            let message = ZMQMessage()
            guard zmq_msg_recv(message.pointer, handle, frames.isEmpty ? ZMQ_DONTWAIT : 0) >= 0 else {
                return false
            }
            more = zmq_msg_more(message.pointer) != 0
            frames.append(Frame(message))
        }
        return true
    }
}

/// One received frame.
struct Frame {
    let message: ZMQMessage
    init(_ message: ZMQMessage) { self.message = message }
    var count: Int { message.count }
    var bytes: [UInt8] { Array(message.bytes) }
}

/// A received ZeroMQ frame, owned; its bytes live as long as this object.
final class ZMQMessage {
    let pointer = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)

    init() { zmq_msg_init(pointer) }

    deinit {
        zmq_msg_close(pointer)
        pointer.deallocate()
    }

    var count: Int { zmq_msg_size(pointer) }
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: zmq_msg_data(pointer), count: count) }
}

/// Keeps an array alive while libzmq sends it.
///
/// The array is a `let`: never mutated, so its storage is never reallocated and the base address
/// taken at init stays valid for as long as this object holds the array.
private final class RetainedBytes {
    let bytes: [UInt8]
    let baseAddress: UnsafeRawPointer

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.baseAddress = bytes.withUnsafeBytes { $0.baseAddress! }
    }
}

/// libzmq calls this (from its I/O thread) when the last reference to a zero-copy frame is gone.
private let releaseRetainedBytes:
    @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void = {
        _, hint in
        guard let hint else { return }
        Unmanaged<RetainedBytes>.fromOpaque(hint).release()
    }
