/// A session description (RFC 8866 §5) as a plain value: parse with ``init(parsing:)``, write with
/// ``serialized()``.
///
/// The fields a WebRTC offer/answer needs are typed (`o=`, `s=`, `c=`, `b=`, `t=`, `a=`, `m=`); the
/// rarely used ones (`i=`, `u=`, `e=`, `p=`, `r=`, `z=`, `k=`) are kept verbatim in
/// ``otherLines`` so a parse/serialise round trip loses nothing.
public struct SessionDescription: Sendable, Equatable {
    public var version: Int
    public var origin: Origin
    public var sessionName: String
    public var connection: Connection?
    public var bandwidths: [String]
    /// `t=` values, e.g. `"0 0"`; RFC 8866 §5.9 requires at least one.
    public var timings: [String]
    public var attributes: [Attribute]
    public var media: [MediaDescription]
    /// Session-level lines without a typed field, as (type letter, value), in input order.
    public var otherLines: [Line]

    public init(
        version: Int = 0, origin: Origin, sessionName: String = "-", connection: Connection? = nil,
        bandwidths: [String] = [], timings: [String] = ["0 0"], attributes: [Attribute] = [],
        media: [MediaDescription] = [], otherLines: [Line] = []
    ) {
        self.version = version
        self.origin = origin
        self.sessionName = sessionName
        self.connection = connection
        self.bandwidths = bandwidths
        self.timings = timings
        self.attributes = attributes
        self.media = media
        self.otherLines = otherLines
    }

    /// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>` (RFC 8866 §5.2).
    public struct Origin: Sendable, Equatable {
        public var username: String
        public var sessionID: String
        public var sessionVersion: String
        public var networkType: String
        public var addressType: String
        public var address: String

        public init(
            username: String = "-", sessionID: String, sessionVersion: String = "2",
            networkType: String = "IN",
            addressType: String = "IP4", address: String = "127.0.0.1"
        ) {
            self.username = username
            self.sessionID = sessionID
            self.sessionVersion = sessionVersion
            self.networkType = networkType
            self.addressType = addressType
            self.address = address
        }
    }

    /// `c=<nettype> <addrtype> <connection-address>` (RFC 8866 §5.7).
    public struct Connection: Sendable, Equatable {
        public var networkType: String
        public var addressType: String
        public var address: String

        public init(networkType: String = "IN", addressType: String = "IP4", address: String = "0.0.0.0") {
            self.networkType = networkType
            self.addressType = addressType
            self.address = address
        }
    }

    /// One `x=value` line kept verbatim.
    public struct Line: Sendable, Equatable {
        public var type: Character
        public var value: String

        public init(type: Character, value: String) {
            self.type = type
            self.value = value
        }
    }

    /// The first session-level attribute called `name`: `""` for a flag, `nil` if absent.
    public func attribute(_ name: String) -> String? {
        attributes.first { $0.name == name }.map { $0.value ?? "" }
    }
}

/// `a=<name>` or `a=<name>:<value>` (RFC 8866 §5.13).
public struct Attribute: Sendable, Equatable {
    public var name: String
    /// `nil` for a property attribute (a flag such as `rtcp-mux`).
    public var value: String?

    public init(_ name: String, _ value: String? = nil) {
        self.name = name
        self.value = value
    }

    var text: String { value.map { "\(name):\($0)" } ?? name }
}

/// One `m=` section and the lines under it (RFC 8866 §5.14).
public struct MediaDescription: Sendable, Equatable {
    /// `audio`, `video`, `application`, …
    public var media: String
    /// 0 marks a rejected or disabled section (RFC 8866 §5.14, RFC 3264 §6).
    public var port: Int
    public var portCount: Int?
    /// e.g. `UDP/TLS/RTP/SAVPF` or `UDP/DTLS/SCTP`.
    public var proto: String
    /// Payload types for RTP profiles, `webrtc-datachannel` for SCTP.
    public var formats: [String]
    public var connection: SessionDescription.Connection?
    public var bandwidths: [String]
    public var attributes: [Attribute]
    /// Media-level `i=` and `k=` lines, as (type letter, value).
    public var otherLines: [SessionDescription.Line]

    public init(
        media: String, port: Int, portCount: Int? = nil, proto: String, formats: [String],
        connection: SessionDescription.Connection? = nil, bandwidths: [String] = [],
        attributes: [Attribute] = [],
        otherLines: [SessionDescription.Line] = []
    ) {
        self.media = media
        self.port = port
        self.portCount = portCount
        self.proto = proto
        self.formats = formats
        self.connection = connection
        self.bandwidths = bandwidths
        self.attributes = attributes
        self.otherLines = otherLines
    }

    /// The first attribute called `name`: `""` for a flag, `nil` if absent.
    public func attribute(_ name: String) -> String? {
        attributes.first { $0.name == name }.map { $0.value ?? "" }
    }

    /// Every value of the attributes called `name`, in order.
    public func attributes(_ name: String) -> [String] {
        attributes.compactMap { $0.name == name ? ($0.value ?? "") : nil }
    }

    public func has(_ name: String) -> Bool { attributes.contains { $0.name == name } }

    /// `a=mid` (RFC 9143 §§ 5, 14), the section's identity in BUNDLE and in the answer.
    public var mid: String? { attribute("mid") }
}
