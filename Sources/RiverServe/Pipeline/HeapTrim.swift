#if canImport(Glibc)
    import Glibc
#endif

/// Hands freed heap back to the system after a session ends.
///
/// A session's decoded frames, packet history and delay line are freed when it ends, but glibc keeps
/// that memory in its arenas (one per thread that allocated: the event loop and each pipeline
/// thread), so without this `river serve` would stay at its high-water mark after every busy spell.
/// `malloc_trim(0)` walks every arena and returns free pages; it costs a few milliseconds, once per
/// session end, off the media path.
enum HeapTrim {
    static func releaseFreedMemory() {
        #if canImport(Glibc)
            // Glibc's Swift module does not import <malloc.h>; look the function up instead
            // (a null handle is RTLD_DEFAULT on glibc).
            typealias MallocTrim = @convention(c) (Int) -> Int32
            guard let symbol = dlsym(nil, "malloc_trim") else { return }
            _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
        #endif
    }
}
