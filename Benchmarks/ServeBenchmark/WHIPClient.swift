import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The few HTTP/1.1 requests the benchmark makes to serve (`POST /whip`, `DELETE /whip/{id}`),
/// over a blocking loopback TCP socket with `Connection: close`.
///
/// A plain socket keeps the load generator free of URLSession's threads and libcurl, which
/// would otherwise sit beside the sessions on the same two cores.
enum WHIPClient {
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Sends the offer; returns the session's `Location` path and the SDP answer.
    static func post(offer: String, port: Int) throws -> (location: String, answer: String) {
        let response = try request(
            "POST", "/whip", port: port, body: offer, contentType: "application/sdp")
        guard response.status == 201, let location = response.headers["location"] else {
            throw Failure(description: "POST /whip answered \(response.status): \(response.body)")
        }
        return (location, response.body)
    }

    static func request(
        _ method: String, _ path: String, port: Int, body: String = "", contentType: String? = nil
    ) throws -> Response {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = LoopbackAddress.make(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            throw Failure(description: "connect 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
        }
        let bodyBytes = Array(body.utf8)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if let contentType { head += "Content-Type: \(contentType)\r\n" }
        head += "Content-Length: \(bodyBytes.count)\r\n\r\n"
        let message = Array(head.utf8) + bodyBytes
        var sent = 0
        while sent < message.count {
            let n = message[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw Failure(description: "send: \(String(cString: strerror(errno)))") }
            sent += n
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            received += buffer[0..<n]
        }
        return try parse(received)
    }

    /// Status line, headers (names lower-cased) and the body up to `Content-Length`.
    static func parse(_ bytes: [UInt8]) throws -> Response {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else {
            throw Failure(description: "incomplete HTTP response: \(text.prefix(200))")
        }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusFields = lines.first?.split(separator: " ") ?? []
        guard statusFields.count >= 2, let status = Int(statusFields[1]) else {
            throw Failure(description: "bad status line: \(lines.first ?? "")")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...]
                .trimmingCharacters(in: .whitespaces)
        }
        var body = String(text[split.upperBound...])
        if let length = headers["content-length"].flatMap(Int.init), body.utf8.count > length {
            body = String(decoding: Array(body.utf8.prefix(length)), as: UTF8.self)
        }
        return Response(status: status, headers: headers, body: body)
    }
}

/// `sockaddr_in` for 127.0.0.1.
enum LoopbackAddress {
    static func make(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }
}
