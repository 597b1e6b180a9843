extension SessionDescription {
    /// The description as SDP text, CRLF line ends, lines in RFC 8866 §5 order.
    public func serialized() -> String {
        var out = ""
        func line(_ type: Character, _ value: String) {
            out.append(type)
            out.append("=")
            out.append(value)
            out.append("\r\n")
        }
        func others(_ types: String, _ lines: [Line]) {
            for l in lines where types.contains(l.type) { line(l.type, l.value) }
        }
        line("v", String(version))
        line(
            "o",
            "\(origin.username) \(origin.sessionID) \(origin.sessionVersion) \(origin.networkType) "
                + "\(origin.addressType) \(origin.address)")
        line("s", sessionName)
        others("iuep", otherLines)
        if let c = connection { line("c", "\(c.networkType) \(c.addressType) \(c.address)") }
        for b in bandwidths { line("b", b) }
        for t in timings { line("t", t) }
        others("r", otherLines)
        others("z", otherLines)
        others("k", otherLines)
        for a in attributes { line("a", a.text) }
        for m in media {
            let port = m.portCount.map { "\(m.port)/\($0)" } ?? String(m.port)
            line("m", ([m.media, port, m.proto] + m.formats).joined(separator: " "))
            others("i", m.otherLines)
            if let c = m.connection { line("c", "\(c.networkType) \(c.addressType) \(c.address)") }
            for b in m.bandwidths { line("b", b) }
            others("k", m.otherLines)
            for a in m.attributes { line("a", a.text) }
        }
        return out
    }
}
