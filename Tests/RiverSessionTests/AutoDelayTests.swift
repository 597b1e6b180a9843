import RiverCore
import Testing

@testable import RiverSession

/// `--delay auto` on virtual time: a 30 fps stream whose frames complete every 33.3 ms, each one's
/// turnaround recorded as it would come back, and the delay updated as packets arrive.
@Suite struct AutoDelayTests {
    static let frame = Duration.nanoseconds(33_333_333)

    /// Runs frames `range` (frame i arrives at i × 33.3 ms): records each one's RTP timestamp and
    /// turnaround, then updates the delay as its packet arrives. Returns the decisions in order.
    @discardableResult
    static func run(
        _ auto: inout AutoDelay, frames range: Range<Int>, turnaround: (Int) -> Duration
    ) -> [(at: Instant, decision: AutoDelay.Decision)] {
        var decisions: [(Instant, AutoDelay.Decision)] = []
        for i in range {
            let now = Instant.zero + frame * i
            decisions.append((now, auto.update(now: now)))
            auto.record(frameTimestamp: UInt32(truncatingIfNeeded: 3000 * i))
            auto.record(turnaround: turnaround(i))
        }
        return decisions
    }

    @Test func theFirstEstimateComesAfterAHandfulOfTurnaroundsAndAppliesToTheHeldVideo() {
        var auto = AutoDelay()
        #expect(auto.delay == .seconds(2))
        let decisions = Self.run(&auto, frames: 0..<4) { _ in .milliseconds(40) }
        // Frames 0–2 wait at the start delay; at frame 3 (100 ms in) the three turnarounds give a
        // 50 ms target, but 100 ms of video is already held: the delay becomes what is held, for
        // the held packets too, and nothing has left yet, so no one sees a step.
        #expect(
            decisions[0..<3].allSatisfy { $0.decision == .init(delay: .seconds(2), appliesToHeld: false) })
        #expect(auto.target(now: decisions[3].at) == .milliseconds(50))
        #expect(decisions[3].decision == .init(delay: Self.frame * 3, appliesToHeld: true))
        // Only once.
        #expect(auto.update(now: decisions[3].at + .milliseconds(1)).appliesToHeld == false)
    }

    @Test func aSlowFirstEstimateIsTakenAsItIs() {
        var auto = AutoDelay()
        auto.update(now: .zero)
        for _ in 0..<3 { auto.record(turnaround: .milliseconds(300)) }
        #expect(auto.update(now: .milliseconds(100)) == .init(delay: .milliseconds(310), appliesToHeld: true))
    }

    @Test func noRescheduleOnceTheFirstPacketHasLeft() {
        var config = AutoDelay.Configuration()
        config.start = .milliseconds(300)
        var auto = AutoDelay(config)
        auto.update(now: .zero)
        for _ in 0..<3 { auto.record(turnaround: .milliseconds(40)) }
        // 500 ms in, the first packet left 200 ms ago: the delay slews from 300 ms like any other,
        // 10 % of the time since the last packet.
        let decision = auto.update(now: .milliseconds(500))
        #expect(decision.appliesToHeld == false)
        #expect(decision.delay == .milliseconds(250))
        #expect(auto.update(now: .milliseconds(1500)).delay == .milliseconds(150))
    }

    /// Steady turnaround of 30–45 ms: the delay settles within 5 s of the first frame at no more
    /// than p99 + 2 frame intervals, and never moves faster than the slew allows.
    @Test func aSteadyTurnaroundSettlesWithinFiveSecondsBelowP99PlusTwoFrames() {
        var auto = AutoDelay()
        let pattern: [Int64] = [30, 34, 38, 42, 45, 36, 33, 40]
        let decisions = Self.run(&auto, frames: 0..<600) { .milliseconds(pattern[$0 % pattern.count]) }
        let p99 = Duration.milliseconds(45)
        let settled = decisions.last!.decision.delay
        #expect(settled <= p99 + Self.frame * 2, "settled at \(settled)")
        #expect(settled >= p99 + auto.configuration.headroom)
        let margin = auto.margin(now: decisions.last!.at)
        #expect(margin.repair == .zero && margin.jitter > .zero)
        // Within 1 ms of the settled value from 5 s on.
        let late = decisions.filter { $0.at >= .seconds(5) }
        #expect(late.allSatisfy { abs(($0.decision.delay - settled).nanosecondsClamped) <= 1_000_000 })
        // Slew: after the first estimate, each frame shortens the delay by at most 10 % of the time
        // passed (and lengthens it, as J converges, by at most 25 %).
        let start = decisions.firstIndex { $0.decision.appliesToHeld }!
        for (a, b) in zip(decisions[start...], decisions[(start + 1)...]) {
            let elapsed = b.at - a.at
            #expect(a.decision.delay - b.decision.delay <= elapsed * 0.1 + .nanoseconds(1))
            #expect(b.decision.delay - a.decision.delay <= elapsed * 0.25 + .nanoseconds(1))
        }
    }

    /// A slow start (the key frame and a cold worker: 300 ms) sets the first estimate, then leaves
    /// the window after 10 more turnarounds instead of holding the p99 for 100 frames.
    @Test func aSlowStartLeavesTheWindowOnceTheStreamRuns() {
        var auto = AutoDelay()
        let decisions = Self.run(&auto, frames: 0..<150) { $0 < 3 ? .milliseconds(300) : .milliseconds(40) }
        #expect(decisions[3].decision == .init(delay: .milliseconds(310), appliesToHeld: true))
        #expect(auto.p99 == .milliseconds(40))
        // By 5 s the delay is at the target, J no longer remembering the step down.
        let last = decisions.last!
        #expect(last.at < .seconds(5))
        #expect(last.decision.delay - auto.target(now: last.at)! < .milliseconds(1))
        #expect(last.decision.delay < .milliseconds(51), "\(last.decision.delay)")
    }

    @Test func theMarginGrowsWithTheTurnaroundsJitter() {
        var steady = AutoDelay()
        var jittery = AutoDelay()
        Self.run(&steady, frames: 0..<300) { _ in .milliseconds(50) }
        Self.run(&jittery, frames: 0..<300) { $0 % 2 == 0 ? .milliseconds(50) : .milliseconds(20) }
        let now = Instant.seconds(10)
        #expect(steady.p99 == .milliseconds(50) && jittery.p99 == .milliseconds(50))
        #expect(steady.margin(now: now).jitter == .zero)
        // J tends to the 30 ms step between consecutive turnarounds, and is added as it is.
        let jitter = jittery.margin(now: now).jitter
        #expect(jitter > .milliseconds(28) && jitter <= .milliseconds(30), "\(jitter)")
        #expect(jittery.target(now: now)! - steady.target(now: now)! == jitter)
    }

    /// A heavy tail (one frame in 20 at 60 ms, the rest at 10 ms): half the p50-to-p99 distance
    /// outweighs J, since slow frames cluster and the next window's p99 may be higher.
    @Test func theMarginGrowsWithAHeavyTail() {
        var auto = AutoDelay()
        Self.run(&auto, frames: 0..<300) { $0 % 20 == 0 ? .milliseconds(60) : .milliseconds(10) }
        let now = Instant.seconds(10)
        #expect(auto.p50 == .milliseconds(10) && auto.p99 == .milliseconds(60))
        #expect(auto.jitter < .milliseconds(25))
        #expect(auto.margin(now: now).jitter == .milliseconds(25))
        #expect(auto.target(now: now) == .milliseconds(95))
    }

    @Test func lossAddsARepairOfOneRoundTripAndThreeFrames() {
        var auto = AutoDelay()
        Self.run(&auto, frames: 0..<150) { _ in .milliseconds(40) }
        #expect(auto.frameInterval == Self.frame)
        auto.record(roundTrip: .milliseconds(80))
        let now = Instant.seconds(5)
        // A round trip alone is no reason for a margin: nothing was lost, nothing needs repair.
        #expect(auto.margin(now: now).repair == .zero)
        #expect(auto.target(now: now) == .milliseconds(50))
        auto.recordLoss(now: now)
        #expect(auto.margin(now: now).repair == .milliseconds(80) + Self.frame * 3)
        #expect(auto.target(now: now) == .milliseconds(50) + .milliseconds(80) + Self.frame * 3)
        // A longer round trip, a longer repair (smoothed: 80 + (200 − 80) / 8 = 95 ms).
        auto.record(roundTrip: .milliseconds(200))
        #expect(auto.margin(now: now).repair == .milliseconds(95) + Self.frame * 3)
        // Ten seconds without loss and the term is gone again.
        #expect(auto.margin(now: now + .milliseconds(9_999)).repair > .zero)
        #expect(auto.margin(now: now + .seconds(10)).repair == .zero)
    }

    /// Under loss the delay grows to cover the repair, gently (the results are not late yet).
    @Test func theDelayGrowsToCoverRepairsOnceLossIsSeen() {
        var auto = AutoDelay()
        let settled = Self.run(&auto, frames: 0..<300) { _ in .milliseconds(40) }.last!
        #expect(settled.decision.delay == .milliseconds(50))
        auto.record(roundTrip: .milliseconds(20))
        auto.recordLoss(now: settled.at)
        let target = auto.target(now: settled.at)!
        #expect(target == .milliseconds(70) + Self.frame * 3)
        let growing = Self.run(&auto, frames: 300..<330) { _ in .milliseconds(40) }
        // 25 % of the second: 250 ms per s, so the 120 ms are covered within half a second.
        #expect(growing[3].decision.delay < target)
        #expect(growing.last!.decision.delay == target)
    }

    /// Results start coming late (the worker slows from 40 to 200 ms): within a few frames the p99
    /// moves and the delay grows at the fast rate, covering the new turnaround in well under 1 s.
    @Test func theDelayGrowsPromptlyWhenResultsComeLate() {
        var auto = AutoDelay()
        let before = Self.run(&auto, frames: 0..<300) { _ in .milliseconds(40) }.last!.decision.delay
        #expect(before == .milliseconds(50))
        let after = Self.run(&auto, frames: 300..<330) { _ in .milliseconds(200) }
        let covered = after.first { $0.decision.delay >= .milliseconds(210) }
        #expect(covered != nil)
        if let covered {
            #expect(covered.at - after[0].at < .milliseconds(400), "\(covered.at - after[0].at)")
        }
        // Growth never outruns time: the line's due times stay monotonic.
        for (a, b) in zip(after, after.dropFirst()) {
            #expect(b.decision.delay - a.decision.delay <= b.at - a.at + .nanoseconds(1))
        }
    }

    @Test func aFrameDroppedForItsDeadlineCountsAsALateTurnaround() throws {
        var stage = InferenceStage(margin: .milliseconds(10), maxInFlight: { 1 }, maxWaiting: 3)
        var out = InferenceStage.Output()
        let frame = VideoFrame(packedWidth: 2, height: 2, format: .i420, rtpTimestamp: 1)
        func job(_ arrival: Instant) -> AccessUnitJob {
            AccessUnitJob(annexB: [], outputTimestamp: 1, arrival: arrival, receivedAt: 0)
        }
        // One slot: the first frame goes out, the second waits and misses its deadline
        // (arrival + 50 ms − 10 ms).
        stage.decoded(
            job(.zero), frames: [frame], decodeTime: .zero, delay: .milliseconds(50), now: .zero, into: &out)
        stage.decoded(
            job(.milliseconds(1)), frames: [frame], decodeTime: .zero, delay: .milliseconds(50),
            now: .milliseconds(1), into: &out)
        stage.handleTimeout(now: .milliseconds(45), delay: .milliseconds(50), into: &out)
        #expect(out.messages.map(\.0.status) == [.expired])
        #expect(out.turnarounds == [.milliseconds(44)])
    }
}

@Test func rescheduleMovesTheHeldElementsByTheChangeInDelay() {
    var line = DelayLine<Int>(delay: .seconds(2))
    line.push(1, arrival: .milliseconds(0))
    line.push(2, arrival: .milliseconds(100))
    line.reschedule(delay: .milliseconds(150))
    #expect(line.nextDue == .milliseconds(150))
    #expect(line.push(3, arrival: .milliseconds(120)) == .milliseconds(270))
    #expect(line.popDue(now: .milliseconds(249)) == 1)
    #expect(line.popDue(now: .milliseconds(249)) == nil)
    #expect(line.popDue(now: .milliseconds(250)) == 2)
    #expect(line.popDue(now: .milliseconds(270)) == 3)
}
