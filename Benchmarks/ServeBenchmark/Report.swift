import Foundation

/// Prints one K's figures: one column per binary, and candidate/baseline when there are two.
enum Report {
    struct Row: Sendable {
        var name: String
        var unit: String
        var format: String
        var value: @Sendable (Measurement) -> Double
    }

    static let rows: [Row] = [
        Row(name: "serve CPU per stream", unit: "% core", format: "%8.2f") { $0.cpuPercentPerStream },
        Row(name: "wakeups/s idle (no session)", unit: "/s", format: "%8.1f") { $0.idleWakeupsPerSecond },
        Row(name: "wakeups/s per session (load−idle)", unit: "/s", format: "%8.1f") {
            $0.wakeupsPerSecondPerSession
        },
        Row(name: "  of which voluntary", unit: "/s", format: "%8.1f") {
            $0.voluntaryWakeupsPerSecondPerSession
        },
        Row(name: "wakeups/s total under load", unit: "/s", format: "%8.1f") { $0.loadWakeupsPerSecond },
        Row(name: "RSS per session", unit: "MiB", format: "%8.2f") { $0.rssPerSessionBytes / 1_048_576 },
        Row(name: "RSS idle", unit: "MiB", format: "%8.1f") { Double($0.idleRSSBytes) / 1_048_576 },
        Row(name: "threads idle → load", unit: "", format: "%8.0f") { Double($0.loadThreads) },
        Row(name: "load generator CPU per stream", unit: "% core", format: "%8.2f") {
            $0.clientCPUPercentPerStream
        },
        Row(name: "frames with a result message", unit: "%", format: "%8.2f") { $0.resultFraction * 100 },
    ]

    static func print(k: Int, columns: [(label: String, measurement: Measurement)], seconds: Int) {
        Swift.print("K=\(k) sessions, \(seconds) s window")
        for row in rows {
            var line = "  " + row.name.padding(toLength: 36, withPad: " ", startingAt: 0)
            for column in columns {
                var text = String(format: row.format, row.value(column.measurement))
                if row.name.hasPrefix("threads") {
                    text = "\(column.measurement.idleThreads) → \(column.measurement.loadThreads)"
                        .leftPadded(to: 8)
                }
                line += " \(column.label) \(text) \(row.unit)".padding(
                    toLength: 30, withPad: " ", startingAt: 0)
            }
            if columns.count == 2 {
                let a = row.value(columns[0].measurement)
                let b = row.value(columns[1].measurement)
                line += a != 0 ? String(format: " ratio %.2f", b / a) : " ratio -"
            }
            Swift.print(line)
        }
        for column in columns {
            let m = column.measurement
            let statuses = m.statuses.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                .joined(separator: ", ")
            Swift.print("  \(column.label): \(m.results)/\(m.frames) frames answered (\(statuses))")
        }
        fflush(nil)
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
