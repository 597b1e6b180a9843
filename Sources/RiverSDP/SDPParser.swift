extension SessionDescription {
    /// Parses SDP text (RFC 8866 §9). Lines may end in CRLF or a bare LF (RFC 8866 §5 asks
    /// parsers to accept both). Unknown type letters are rejected, as §5 requires of a parser that
    /// does not ignore the whole description.
    /// Limits on what one description may hold. Real browser offers are far inside them (Chromium's
    /// video section lists about 20 formats and 150 attributes); past them the offer is refused
    /// with the line that crossed, so no offer costs the answerer more than a bounded amount.
    public enum Limits {
        public static let mediaSections = 32
        public static let formatsPerSection = 256
        public static let attributesPerSection = 1024
    }

    public init(parsing text: String) throws(SDPError) {
        var version: Int?
        var origin: Origin?
        var sessionName: String?
        var connection: Connection?
        var bandwidths: [String] = []
        var timings: [String] = []
        var attributes: [Attribute] = []
        var media: [MediaDescription] = []
        var otherLines: [Line] = []

        var lineNumber = 0
        // Swift treats CRLF as one Character, so both ends are listed.
        for rawLine in text.split(
            omittingEmptySubsequences: false, whereSeparator: { $0 == "\r\n" || $0 == "\n" })
        {
            lineNumber += 1
            // Stray CRs before a line end go, all of them: no SDP value may hold a CR (RFC 8866
            // §9), and dropping only one would let a parse → write → parse round trip shorten
            // the line each time (FuzzSDP found "a=x\r\r\r\n").
            var line = rawLine[...]
            while line.last == "\r" { line = line.dropLast() }
            if line.isEmpty { continue }
            // A CR inside the line is refused as well: kept in a value ("m=video 9 \r x"), it was
            // written back before the line end and read as a stray CR there, so the round trip
            // changed the description (FuzzSDP found "m=D 4 \r ").
            if line.contains("\r") {
                throw .malformed(line: lineNumber, text: String(line), reason: "CR inside a line")
            }
            let bytes = line.utf8
            guard bytes.count >= 2, bytes[bytes.index(after: bytes.startIndex)] == UInt8(ascii: "="),
                let type = line.first, type.isASCII, type.isLowercase
            else {
                throw .malformed(line: lineNumber, text: String(line), reason: "expected <letter>=<value>")
            }
            // By bytes: a combining mark after "=" must not be swallowed with it.
            let value = String(decoding: line.utf8.dropFirst(2), as: UTF8.self)
            func fail(_ reason: String) -> SDPError {
                .malformed(line: lineNumber, text: String(line), reason: reason)
            }
            if lineNumber == 1 || version == nil {
                guard type == "v" else { throw fail("SDP must start with v=") }
            }

            if var section = media.popLast() {
                // Inside an m= section only c, b, i, k, a and the next m are allowed (RFC 8866 §5).
                switch type {
                case "m":
                    media.append(section)
                    guard media.count < Limits.mediaSections else {
                        throw fail("more than \(Limits.mediaSections) m= sections")
                    }
                    media.append(try Self.parseMedia(value, fail))
                    continue
                case "c": section.connection = try Self.parseConnection(value, fail)
                case "b": section.bandwidths.append(value)
                case "a":
                    guard section.attributes.count < Limits.attributesPerSection else {
                        media.append(section)
                        throw fail("more than \(Limits.attributesPerSection) attributes in one m= section")
                    }
                    section.attributes.append(Self.parseAttribute(value))
                case "i", "k": section.otherLines.append(Line(type: type, value: value))
                default:
                    media.append(section)
                    throw fail("\(type)= is not allowed inside an m= section")
                }
                media.append(section)
                continue
            }

            switch type {
            case "v":
                guard version == nil else { throw fail("second v= line") }
                guard value == "0" else { throw fail("only SDP version 0 exists") }
                version = 0
            case "o": origin = try Self.parseOrigin(value, fail)
            case "s": sessionName = value
            case "c": connection = try Self.parseConnection(value, fail)
            case "b": bandwidths.append(value)
            case "t": timings.append(value)
            case "a":
                guard attributes.count < Limits.attributesPerSection else {
                    throw fail("more than \(Limits.attributesPerSection) session-level attributes")
                }
                attributes.append(Self.parseAttribute(value))
            case "m": media.append(try Self.parseMedia(value, fail))
            case "i", "u", "e", "p", "r", "z", "k": otherLines.append(Line(type: type, value: value))
            default: throw fail("unknown line type \(type)=")
            }
        }
        guard let version else { throw .missingLine("v") }
        guard let origin else { throw .missingLine("o") }
        guard let sessionName else { throw .missingLine("s") }
        guard !timings.isEmpty else { throw .missingLine("t") }
        self.init(
            version: version, origin: origin, sessionName: sessionName, connection: connection,
            bandwidths: bandwidths, timings: timings, attributes: attributes, media: media,
            otherLines: otherLines)
    }

    private static func parseOrigin(_ value: String, _ fail: (String) -> SDPError) throws(SDPError) -> Origin
    {
        let parts = value.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard parts.count == 6 else { throw fail("o= needs 6 fields, got \(parts.count)") }
        return Origin(
            username: parts[0], sessionID: parts[1], sessionVersion: parts[2], networkType: parts[3],
            addressType: parts[4], address: parts[5])
    }

    private static func parseConnection(_ value: String, _ fail: (String) -> SDPError) throws(SDPError)
        -> Connection
    {
        let parts = value.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard parts.count == 3 else { throw fail("c= needs 3 fields, got \(parts.count)") }
        return Connection(networkType: parts[0], addressType: parts[1], address: parts[2])
    }

    private static func parseMedia(_ value: String, _ fail: (String) -> SDPError) throws(SDPError)
        -> MediaDescription
    {
        let parts = value.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard parts.count >= 3 else { throw fail("m= needs <media> <port> <proto> <fmt>…") }
        let portField = parts[1].split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let port = Int(portField[0]), (0...65535).contains(port) else {
            throw fail("m= port \(parts[1]) is not a number in 0…65535")
        }
        var portCount: Int?
        if portField.count == 2 {
            guard let n = Int(portField[1]), n > 0 else {
                throw fail("m= port count \(parts[1]) is not a number")
            }
            portCount = n
        }
        guard parts.count - 3 <= Limits.formatsPerSection else {
            throw fail("m= lists \(parts.count - 3) formats; at most \(Limits.formatsPerSection)")
        }
        return MediaDescription(
            media: parts[0], port: port, portCount: portCount, proto: parts[2],
            formats: Array(parts.dropFirst(3)))
    }

    private static func parseAttribute(_ value: String) -> Attribute {
        guard let colon = value.firstIndex(of: ":") else { return Attribute(value) }
        return Attribute(String(value[..<colon]), String(value[value.index(after: colon)...]))
    }
}
