/// Reads the two fields the benchmark needs from a result message (docs/results.md) without a
/// JSON decoder: `rtpTimestamp` and `status`. Hundreds arrive per second on the load
/// generator's cores; a byte scan is all it takes to match them to frames.
enum ResultScan {
    private static let timestampKey = Array("\"rtpTimestamp\"".utf8)
    private static let statusKey = Array("\"status\"".utf8)

    static func fields(_ payload: [UInt8]) -> (rtpTimestamp: UInt32, status: String)? {
        guard var i = valueStart(of: timestampKey, in: payload) else { return nil }
        var value: UInt64 = 0
        var digits = 0
        while i < payload.count, payload[i] >= 0x30, payload[i] <= 0x39, digits < 11 {
            value = value * 10 + UInt64(payload[i] - 0x30)
            i += 1
            digits += 1
        }
        guard digits > 0, value <= UInt64(UInt32.max) else { return nil }
        var status = "?"
        if var s = valueStart(of: statusKey, in: payload), s < payload.count, payload[s] == 0x22 {
            s += 1
            var end = s
            while end < payload.count, payload[end] != 0x22 { end += 1 }
            status = String(decoding: payload[s..<end], as: UTF8.self)
        }
        return (UInt32(value), status)
    }

    /// Index just after `key`, the colon and any spaces.
    private static func valueStart(of key: [UInt8], in payload: [UInt8]) -> Int? {
        guard payload.count > key.count else { return nil }
        var i = 0
        while i + key.count <= payload.count {
            if payload[i] == key[0] && payload[i..<(i + key.count)].elementsEqual(key) {
                var j = i + key.count
                while j < payload.count, payload[j] == 0x20 || payload[j] == 0x3A { j += 1 }
                return j
            }
            i += 1
        }
        return nil
    }
}
