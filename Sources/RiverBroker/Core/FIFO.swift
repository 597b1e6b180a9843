/// A growable ring buffer: O(1) push at either end and pop at the front.
///
/// The proxy's queues live on the per-message path; a ring buffer avoids `Array.removeFirst`'s
/// O(n) shuffle without pulling in swift-collections for one type.
struct FIFO<Element> {
    private var storage: [Element?] = []
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }
    var first: Element? { count == 0 ? nil : storage[head] }

    mutating func append(_ element: Element) {
        if count == storage.count { grow() }
        storage[(head + count) % storage.count] = element
        count += 1
    }

    mutating func prepend(_ element: Element) {
        if count == storage.count { grow() }
        head = (head - 1 + storage.count) % storage.count
        storage[head] = element
        count += 1
    }

    mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = storage[head]
        storage[head] = nil
        head = (head + 1) % storage.count
        count -= 1
        return element
    }

    /// Keeps only the elements for which `keep` is true, in order.
    mutating func filter(_ keep: (Element) -> Bool) {
        var kept = FIFO()
        while let element = popFirst() {
            if keep(element) { kept.append(element) }
        }
        self = kept
    }

    /// Visits the elements front to back.
    func forEach(_ body: (Element) -> Void) {
        for index in 0..<count { body(storage[(head + index) % storage.count]!) }
    }

    private mutating func grow() {
        var bigger = [Element?](repeating: nil, count: max(16, storage.count * 2))
        for index in 0..<count { bigger[index] = storage[(head + index) % storage.count] }
        storage = bigger
        head = 0
    }
}
