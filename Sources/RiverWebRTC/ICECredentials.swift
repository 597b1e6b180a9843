/// Random ICE credentials (RFC 8445 §5.3: ufrag ≥ 4 and password ≥ 22 characters from the
/// ice-char set, at least 24 and 128 bits of randomness).
public enum ICECredentials {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

    public static func randomUfrag() -> String { random(count: 8) }
    public static func randomPassword() -> String { random(count: 24) }

    static func random(count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return String(
            (0..<count).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }
}
