/// SRTP master keys and salts exported from a DTLS-SRTP handshake (RFC 5764 §4.2), already
/// split into the direction this endpoint sends and the direction it receives.
public struct SRTPKeyingMaterial: Sendable, Equatable {
    /// The negotiated protection profile id from the IANA "DTLS-SRTP Protection Profiles"
    /// registry: 0x0001 SRTP_AES128_CM_HMAC_SHA1_80, 0x0007 SRTP_AEAD_AES_128_GCM.
    public var profileID: UInt16
    /// Master key followed by master salt for packets this endpoint protects.
    public var localKeyAndSalt: [UInt8]
    /// Master key followed by master salt for packets this endpoint unprotects.
    public var remoteKeyAndSalt: [UInt8]

    public init(profileID: UInt16, localKeyAndSalt: [UInt8], remoteKeyAndSalt: [UInt8]) {
        self.profileID = profileID
        self.localKeyAndSalt = localKeyAndSalt
        self.remoteKeyAndSalt = remoteKeyAndSalt
    }

    /// (key, salt) lengths in bytes for the profiles we offer (RFC 5764 §4.1.2, RFC 7714 §12).
    static func lengths(profileID: UInt16) -> (key: Int, salt: Int)? {
        switch profileID {
        case 0x0001: (16, 14)
        case 0x0007: (16, 12)
        default: nil
        }
    }

    /// Splits the exporter output `client_key | server_key | client_salt | server_salt`
    /// (RFC 5764 §4.2) for the given role.
    init?(profileID: UInt16, exported: [UInt8], isServer: Bool) {
        guard let (k, s) = Self.lengths(profileID: profileID), exported.count == 2 * (k + s) else {
            return nil
        }
        let clientKey = exported[0..<k]
        let serverKey = exported[k..<2 * k]
        let clientSalt = exported[2 * k..<2 * k + s]
        let serverSalt = exported[2 * k + s..<2 * (k + s)]
        let client = Array(clientKey + clientSalt)
        let server = Array(serverKey + serverSalt)
        self.init(
            profileID: profileID, localKeyAndSalt: isServer ? server : client,
            remoteKeyAndSalt: isServer ? client : server)
    }
}
