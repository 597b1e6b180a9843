import RiverCore

/// Holds each session's packets until they are due: arrival time plus the session's delay.
///
/// DESIGN.md, data path step 5. Due times never decrease (a fixed delay keeps arrival order; a
/// changing one moves slower than time passes, see ``AutoDelay``), so a FIFO suffices where a heap
/// would otherwise be needed; the one exception, a late element placed among the newest, is an
/// insertion near the tail. Packets leave with the input's own spacing, never in bursts.
///
/// What it holds is bounded in bytes (``byteLimit``): it holds ingress rate × delay, and a peer
/// that sends faster than it announced would otherwise grow it without end. An element that would
/// pass the bound is refused and counted (``refused``); the caller decides how to recover.
///
/// Sans-IO: the caller supplies the time.
public struct DelayLine<Element> {
    /// Delay applied to elements pushed from now on.
    public var delay: Duration
    /// The most bytes held at once (as the caller sizes its elements); nil: unbounded.
    public let byteLimit: Int?
    /// Bytes held now.
    public private(set) var bytes = 0
    /// Elements refused because they would have passed ``byteLimit``.
    public private(set) var refused = 0

    private var due: [Instant] = []
    private var elements: [Element?] = []
    private var sizes: [Int] = []
    /// Index of the oldest element still held; storage before it is reclaimed in batches.
    private var head = 0
    private var lastDue: Instant = .zero

    public init(delay: Duration, byteLimit: Int? = nil) {
        self.delay = delay
        self.byteLimit = byteLimit
    }

    /// Number of elements held.
    public var count: Int { due.count - head }

    /// When the oldest element is due, or nil when empty.
    public var nextDue: Instant? { head < due.count ? due[head] : nil }

    /// Adds an element of `size` bytes that arrived at `arrival`; returns when it is due, or nil
    /// when it would pass ``byteLimit`` (it is then dropped and counted in ``refused``). Clamped so
    /// that it never leaves before an element pushed earlier.
    @discardableResult
    public mutating func push(_ element: Element, arrival: Instant, size: Int = 0) -> Instant? {
        if let byteLimit, bytes + size > byteLimit {
            refused += 1
            return nil
        }
        let when = max(arrival + delay, lastDue)
        lastDue = when
        due.append(when)
        elements.append(element)
        sizes.append(size)
        bytes += size
        return when
    }

    /// Adds an element that belongs among those held: it leaves at `when`, after every element due
    /// by then and before the rest (a repaired packet beside its neighbours, see
    /// ``SequenceSchedule``). The place is looked for among the newest ``maxInsertScan`` elements
    /// only, which bounds what one element costs; one that belongs further back is pushed as the
    /// newest instead. Returns when it is due, or nil when it would pass ``byteLimit``.
    @discardableResult
    public mutating func insert(_ element: Element, due when: Instant, size: Int = 0) -> Instant? {
        if let byteLimit, bytes + size > byteLimit {
            refused += 1
            return nil
        }
        var index = due.count
        while index > head, due[index - 1] > when {
            if due.count - index == Self.maxInsertScan {
                index = due.count
                break
            }
            index -= 1
        }
        var when = when
        if index == due.count {
            when = max(when, lastDue)
            lastDue = when
        }
        due.insert(when, at: index)
        elements.insert(element, at: index)
        sizes.insert(size, at: index)
        bytes += size
        return when
    }

    /// How many of the newest elements ``insert(_:due:size:)`` looks among.
    public static var maxInsertScan: Int { 256 }

    /// Sets the delay and applies it to the elements already held too: every due time moves by the
    /// change in delay, as if each element had been pushed with the new one. All move by the same
    /// amount, so their order and spacing are kept. What has already left is not affected, so a
    /// caller does this only before anything has left (``AutoDelay``'s first estimate), when no one
    /// has seen the old schedule; afterwards a change would be a step.
    public mutating func reschedule(delay newDelay: Duration) {
        let change = newDelay - delay
        delay = newDelay
        for i in head..<due.count { due[i] = due[i] + change }
        lastDue = lastDue + change
    }

    /// Removes and returns the oldest element if it is due at `now`.
    public mutating func popDue(now: Instant) -> Element? {
        guard head < due.count, due[head] <= now else { return nil }
        let element = elements[head].take()
        bytes -= sizes[head]
        head += 1
        if head == due.count {
            due.removeAll(keepingCapacity: true)
            elements.removeAll(keepingCapacity: true)
            sizes.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= due.count {
            due.removeFirst(head)
            elements.removeFirst(head)
            sizes.removeFirst(head)
            head = 0
        }
        return element
    }
}
