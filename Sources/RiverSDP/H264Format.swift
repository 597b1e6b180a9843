/// An H264 payload format offered in SDP (RFC 6184 §8.1): its payload type and fmtp parameters.
public struct H264Format: Sendable, Equatable {
    public var payloadType: UInt8
    /// `profile-level-id` as six hex digits, lower-cased; RFC 6184 §8.1 defaults it to `420010`.
    public var profileLevelID: String
    /// RFC 6184 §6.2: 0 (single NAL) when absent.
    public var packetizationMode: Int
    public var levelAsymmetryAllowed: Bool

    /// `profile_idc` and `profile-iop` (the first four hex digits), which name the profile;
    /// the level (last two digits) may differ between the sides when level-asymmetry-allowed=1
    /// (RFC 6184 §8.2.2), and river decodes every level a browser sends.
    public var profile: String { String(profileLevelID.prefix(4)) }

    /// Reads `a=fmtp` parameters such as `level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f`.
    public init(payloadType: UInt8, fmtp: String?) {
        self.payloadType = payloadType
        var profileLevelID = "420010"
        var packetizationMode = 0
        var levelAsymmetryAllowed = false
        for parameter in (fmtp ?? "").split(separator: ";") {
            let pair = parameter.split(separator: "=", maxSplits: 1).map {
                $0.trimmingCharacters(in: " ").lowercased()
            }
            guard pair.count == 2 else { continue }
            switch pair[0] {
            case "profile-level-id" where pair[1].count == 6 && pair[1].allSatisfy(\.isHexDigit):
                profileLevelID = pair[1]
            case "packetization-mode": packetizationMode = Int(pair[1]) ?? -1
            case "level-asymmetry-allowed": levelAsymmetryAllowed = pair[1] == "1"
            default: break
            }
        }
        self.profileLevelID = profileLevelID
        self.packetizationMode = packetizationMode
        self.levelAsymmetryAllowed = levelAsymmetryAllowed
    }

    /// The fmtp value river answers with: the offer's profile-level-id, packetization-mode=1.
    var answerFmtp: String {
        "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=\(profileLevelID)"
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> Substring {
        var s = self
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return s
    }
}
