import RiverSession

/// Where a session's off-loop work goes: decoding (libavcodec, a thread per stream) and inference
/// (the broker). The shell calls it on the session's event loop and it must not block there; it
/// answers with ``SessionInput/decoded(_:frames:decodeTime:)``, ``SessionInput/decodeFailed(_:)``
/// and ``SessionInput/inferred(id:_:)`` through the ``SessionInputs`` it was made with.
public protocol SessionOffload: AnyObject {
    func decode(_ job: AccessUnitJob)
    func infer(_ job: InferenceJob)
    /// For the session's recording (``SessionConfiguration/records``).
    func record(_ item: RecordedItem)
    /// The session closed: stop the work and drop what is queued. Answers after this are ignored.
    func close()
}

extension SessionOffload {
    /// A session without a recording ignores what it would keep.
    public func record(_ item: RecordedItem) {}
}

/// Feeds a session's engine from any thread: each input hops onto the session's event loop.
public struct SessionInputs: Sendable {
    let deliver: @Sendable (SessionInput) -> Void

    public func send(_ input: SessionInput) {
        deliver(input)
    }
}
