import Foundation

/// One reading of a process's counters from `/proc` (Linux only).
///
/// CPU time and RSS come from the process as a whole; context switches are summed over
/// `/proc/PID/task/*` because `/proc/PID/status` counts only the main thread, and a thread
/// that wakes up to do a little work is what shows up as a switch.
struct ProcessSample {
    var at: ContinuousClock.Instant
    /// utime + stime, seconds.
    var cpuSeconds: Double
    /// Voluntary plus involuntary context switches over the threads alive now.
    var contextSwitches: Int
    /// The voluntary part alone: a thread blocked and was woken. Involuntary switches are
    /// preemptions, which grow with whatever else runs on the cores, so this part is the steadier
    /// figure on a shared machine.
    var voluntarySwitches: Int
    var threads: Int
    var rssBytes: Int

    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    static func read(pid: pid_t) -> ProcessSample? {
        let now = ContinuousClock.now
        guard let stat = text("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after "pid (comm)": state is field 3, utime 14, stime 15 (proc(5)).
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let utime = Double(fields[11]), let stime = Double(fields[12]) else {
            return nil
        }
        guard let status = text("/proc/\(pid)/status"), let rssKiB = value("VmRSS", in: status) else {
            return nil
        }
        var switches = 0
        var voluntary = 0
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        for task in tasks {
            guard let taskStatus = text("/proc/\(pid)/task/\(task)/status") else { continue }
            let woken = value("voluntary_ctxt_switches", in: taskStatus) ?? 0
            voluntary += woken
            switches += woken + (value("nonvoluntary_ctxt_switches", in: taskStatus) ?? 0)
        }
        return ProcessSample(
            at: now, cpuSeconds: (utime + stime) / ticksPerSecond, contextSwitches: switches,
            voluntarySwitches: voluntary,
            threads: tasks.count, rssBytes: rssKiB * 1024)
    }

    private static func text(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// The number after `name:` in a `/proc/…/status` text (kB units are the caller's business).
    private static func value(_ name: String, in status: String) -> Int? {
        for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
            return Int(
                line.dropFirst(name.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
        }
        return nil
    }
}
