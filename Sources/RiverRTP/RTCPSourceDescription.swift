import RiverCore

/// Source description, PT 202 (RFC 3550 §6.5): per-source items, above all CNAME, the stable
/// name that ties a participant's streams together.
public struct RTCPSourceDescription: Sendable, Equatable {
    public var chunks: [Chunk]

    public init(chunks: [Chunk]) { self.chunks = chunks }

    /// The common case: one source and its CNAME (RFC 3550 §6.5.1).
    public init(ssrc: UInt32, cname: String) {
        self.init(chunks: [Chunk(ssrc: ssrc, items: [Item(type: Item.cname, text: Array(cname.utf8))])])
    }

    public struct Chunk: Sendable, Equatable {
        public var ssrc: UInt32
        public var items: [Item]

        public init(ssrc: UInt32, items: [Item]) {
            self.ssrc = ssrc
            self.items = items
        }
    }

    /// One SDES item: type (1 CNAME, 2 NAME, …, 8 PRIV) and up to 255 bytes of text.
    public struct Item: Sendable, Equatable {
        public static let cname: UInt8 = 1
        public var type: UInt8
        public var text: [UInt8]

        public init(type: UInt8, text: [UInt8]) {
            self.type = type
            self.text = text
        }
    }

    init?(count: UInt8, body: [UInt8]) {
        var r = RTCPReader(body)
        var chunks: [Chunk] = []
        for _ in 0..<count {
            guard let ssrc = r.u32() else { return nil }
            var items: [Item] = []
            while true {
                guard let type = r.u8() else { return nil }
                if type == 0 {
                    // The list ends with a null octet, then zero padding to a word boundary.
                    while r.offset % 4 != 0 { guard r.u8() != nil else { return nil } }
                    break
                }
                guard let length = r.u8(), let text = r.take(Int(length)) else { return nil }
                items.append(Item(type: type, text: text))
            }
            chunks.append(Chunk(ssrc: ssrc, items: items))
        }
        self.chunks = chunks
    }

    func appendBody(to out: inout [UInt8]) {
        precondition(chunks.count <= 31)
        for chunk in chunks {
            let start = out.count
            appendUInt32(&out, chunk.ssrc)
            for item in chunk.items {
                let text = item.text.prefix(255)
                out.append(item.type)
                out.append(UInt8(text.count))
                out.append(contentsOf: text)
            }
            // At least one null octet ends the items, then pad to 32 bits (RFC 3550 §6.5).
            out.append(0)
            while (out.count - start) % 4 != 0 { out.append(0) }
        }
    }
}

/// Goodbye, PT 203 (RFC 3550 §6.6): the sources are leaving, with an optional reason.
public struct RTCPGoodbye: Sendable, Equatable {
    public var sources: [UInt32]
    public var reason: String?

    public init(sources: [UInt32], reason: String? = nil) {
        self.sources = sources
        self.reason = reason
    }

    init?(count: UInt8, body: [UInt8]) {
        var r = RTCPReader(body)
        var sources: [UInt32] = []
        for _ in 0..<count {
            guard let ssrc = r.u32() else { return nil }
            sources.append(ssrc)
        }
        self.sources = sources
        if let length = r.u8() {
            guard let text = r.take(Int(length)) else { return nil }
            reason = String(decoding: text, as: UTF8.self)
        } else {
            reason = nil
        }
    }

    func appendBody(to out: inout [UInt8]) {
        precondition(sources.count <= 31)
        for ssrc in sources { appendUInt32(&out, ssrc) }
        if let reason {
            let start = out.count
            var text = Array(reason.utf8)
            if text.count > 255 {
                // The length is one byte (RFC 3550 §6.6). Cut at a character boundary, before a
                // continuation byte, so the reason stays valid UTF-8 and reads back as written.
                var end = 255
                while end > 0 && text[end] & 0xC0 == 0x80 { end -= 1 }
                text.removeSubrange(end...)
            }
            out.append(UInt8(text.count))
            out.append(contentsOf: text)
            while (out.count - start) % 4 != 0 { out.append(0) }
        }
    }
}
