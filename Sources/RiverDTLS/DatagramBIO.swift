import COpenSSL

/// Collects what OpenSSL writes, one datagram per `BIO_write`.
///
/// OpenSSL 3.0 has no datagram memory BIO: a plain memory BIO would merge the flights' records
/// into one byte stream and lose the datagram boundaries DTLS relies on (RFC 6347 §4.1.1). DTLS
/// writes each datagram with a single `BIO_write`, so recording each call keeps the boundaries.
final class DatagramSink {
    var datagrams: [[UInt8]] = []
}

/// The MTU we tell DTLS to fragment for: leaves room for IP/UDP headers and TURN/VPN overhead.
let dtlsMTU = 1200

/// One `BIO_METHOD` for the process; BIO method tables are immutable after set-up, so the
/// write-once global is safe to read from any thread.
nonisolated(unsafe) let datagramBIOMethod: OpaquePointer = {
    let type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK
    guard let method = BIO_meth_new(type, "river datagram sink") else { fatalError("BIO_meth_new failed") }
    _ = BIO_meth_set_write(method) { bio, data, length in
        guard let bio, let data, length >= 0, let context = BIO_get_data(bio) else { return -1 }
        let sink = Unmanaged<DatagramSink>.fromOpaque(context).takeUnretainedValue()
        sink.datagrams.append(Array(UnsafeRawBufferPointer(start: data, count: Int(length))))
        return length
    }
    _ = BIO_meth_set_ctrl(method) { _, command, _, _ in
        switch command {
        case BIO_CTRL_FLUSH: 1
        case BIO_CTRL_DGRAM_QUERY_MTU, BIO_CTRL_DGRAM_GET_FALLBACK_MTU: dtlsMTU
        case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD: 28
        default: 0
        }
    }
    _ = BIO_meth_set_create(method) { bio in
        BIO_set_init(bio, 1)
        return 1
    }
    _ = BIO_meth_set_destroy(method) { bio in
        BIO_set_data(bio, nil)
        return 1
    }
    return method
}()

/// A new write BIO that appends to `sink`; the caller keeps `sink` alive longer than the BIO.
func makeDatagramBIO(sink: DatagramSink) -> OpaquePointer? {
    guard let bio = BIO_new(datagramBIOMethod) else { return nil }
    BIO_set_data(bio, Unmanaged.passUnretained(sink).toOpaque())
    return bio
}
