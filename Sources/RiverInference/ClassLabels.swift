import Foundation

/// Class names for a model: from a labels file (one name per line), or from the model's metadata
/// (`names`, as Ultralytics exports write it: `{0: 'person', 1: 'bicycle'}`; a JSON list also works).
public enum ClassLabels {
    /// Names from a labels file; trailing blank lines are ignored, inner ones kept (they hold an index).
    public static func load(file path: String) throws(InferenceError) -> [String] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw .labelsUnreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard !lines.isEmpty else { throw .labelsUnreadable(path: path, reason: "no labels in file") }
        return lines
    }

    /// Names parsed from a metadata value; empty when it holds none.
    public static func parse(metadata value: String) -> [String] {
        if let data = value.data(using: .utf8),
            let list = try? JSONDecoder().decode([String].self, from: data)
        {
            return list
        }
        // A Python dict literal: integer keys, quoted names (either quote).
        var byIndex: [Int: String] = [:]
        var scanner = Substring(value)
        while let colon = scanner.firstIndex(of: ":") {
            let keyText = scanner[..<colon].reversed().prefix { $0.isNumber }
            let key = Int(String(keyText.reversed()))
            var rest = scanner[scanner.index(after: colon)...].drop { $0 == " " }
            guard let quote = rest.first, quote == "'" || quote == "\"" else {
                scanner = rest
                continue
            }
            rest = rest.dropFirst()
            guard let end = rest.firstIndex(of: quote) else { break }
            if let key { byIndex[key] = String(rest[..<end]) }
            scanner = rest[rest.index(after: end)...]
        }
        guard let maxIndex = byIndex.keys.max(), maxIndex < 100_000 else { return [] }
        return (0...maxIndex).map { byIndex[$0] ?? "class \($0)" }
    }

    /// The label for `index`, or `class N` when there is no name for it.
    @inline(__always)
    static func name(_ labels: [String], _ index: Int) -> String {
        index < labels.count ? labels[index] : "class \(index)"
    }
}
