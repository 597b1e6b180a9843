/// Random ICE credentials (RFC 8445 §5.3: ufrag ≥ 4 and password ≥ 22 characters from the
/// ice-char set, at least 24 and 128 bits of randomness).
public enum ICECredentials {
    static let iceChars = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

    public static func randomUfrag() -> String { random(count: 8) }
    public static func randomPassword() -> String { random(count: 24) }

    /// `count` characters drawn uniformly from `alphabet` (default: the ice-char set).
    public static func random(count: Int, alphabet: String? = nil) -> String {
        let characters = alphabet.map(Array.init) ?? iceChars
        var generator = SystemRandomNumberGenerator()
        return String(
            (0..<count).map { _ in characters[Int.random(in: 0..<characters.count, using: &generator)] })
    }
}
