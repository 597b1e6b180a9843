import Foundation
import RiverCore

/// How a session's delay is chosen (`--delay`).
public enum PipelineDelay: Sendable, Equatable, CustomStringConvertible {
    /// Every packet leaves this long after it arrived.
    case fixed(Duration)
    /// Start at `start`, then follow ``AutoDelay`` (`--delay auto`).
    case auto(start: Duration)

    /// `--delay auto` starts here: safe for a CPU worker, and ``AutoDelay`` shrinks it from there.
    public static let autoStart: Duration = .seconds(2)

    /// A bad `--delay` value.
    public struct ParseError: Error, CustomStringConvertible {
        public var text: String
        public var description: String {
            "--delay must be 'auto' or a duration ≥ 0 such as 3s, 1.5s, 800ms or 0 (got '\(text)')"
        }
    }

    /// Parses `auto`, `<n>s`, `<n>ms` or a bare number of seconds (`3`, `2.5`).
    public init(parsing text: String) throws(ParseError) {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t == "auto" {
            self = .auto(start: Self.autoStart)
            return
        }
        let (number, scale): (Substring, Double) =
            t.hasSuffix("ms")
            ? (t.dropLast(2), 1e-3) : t.hasSuffix("s") ? (t.dropLast(), 1) : (Substring(t), 1)
        guard let value = Double(number), value.isFinite, value >= 0, value * scale <= 3600 else {
            throw ParseError(text: text)
        }
        self = .fixed(.nanoseconds(Int64((value * scale * 1e9).rounded())))
    }

    /// The delay the session starts with.
    public var start: Duration {
        switch self {
        case .fixed(let d), .auto(let d): d
        }
    }

    /// One token, for the `river serve:` line: `2000ms`, or `auto:2000ms` (the starting delay).
    public var description: String {
        switch self {
        case .fixed: "\(start.nanosecondsClamped / 1_000_000)ms"
        case .auto: "auto:\(start.nanosecondsClamped / 1_000_000)ms"
        }
    }
}
