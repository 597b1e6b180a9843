#if canImport(Glibc)
    import Glibc
#endif

/// Keeps `river serve`'s heap from staying at its high-water mark after sessions end.
///
/// Three parts, all glibc-specific (elsewhere they do nothing):
/// - ``tuneMalloc()`` at start-up. glibc gives each thread that allocates under contention an
///   arena of its own (up to 8 per core), and every session adds threads (its pipeline thread, the
///   event loop and usrsctp threads it wakes). Freed memory in one arena serves no other, and what
///   little stays live in each (a few long-lived objects per arena) pins its pages, so with ~14
///   arenas after four sessions 6–8 MiB stayed resident even after trimming; with two, ~3.5 MiB
///   less. Two arenas still let two threads allocate at once, and glibc's per-thread cache
///   (tcache) serves most of serve's small allocations without taking an arena lock at all.
/// - ``tuneMalloc()`` also fixes glibc's mmap threshold at 128 KiB. By default the threshold
///   rises to the size of the largest block freed so far (up to 32 MiB), so after the first
///   session's decoded pictures (460 KiB at 640×480) and decoder buffers are freed, later ones come
///   from the arenas, raise their high-water mark, and leave pages pinned by small objects that
///   land between them. A fixed threshold keeps every block of 128 KiB or more in its own mapping,
///   unmapped when freed. The price is page faults: about 80 per frame (a 4-session run took 270 k
///   minor faults instead of 14 k), with no measurable change in serve's CPU time over that run;
///   it saved a further ~2 MiB of heap after four sessions.
/// - ``releaseFreedMemory()`` after each session ends. A session's decoded frames, packet history
///   and delay line are freed then, but glibc keeps that memory in its arenas; `malloc_trim(0)`
///   walks every arena and returns free pages. It costs a few milliseconds, once per session end,
///   off the media path.
enum HeapTrim {
    /// The most malloc arenas serve uses (see the type's comment for why two).
    static let arenaLimit: Int32 = 2

    /// Blocks this large or larger get a mapping of their own (see the type's comment).
    static let mmapThreshold: Int32 = 128 << 10

    /// Call once at start-up, before the threads that will allocate exist.
    static func tuneMalloc() {
        #if canImport(Glibc)
            // Glibc's Swift module does not import <malloc.h>: look mallopt up; the parameters are
            // M_ARENA_MAX (-8) and M_MMAP_THRESHOLD (-3).
            typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
            guard let symbol = dlsym(nil, "mallopt") else { return }
            let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
            _ = mallopt(-8, arenaLimit)
            _ = mallopt(-3, mmapThreshold)
        #endif
    }

    static func releaseFreedMemory() {
        #if canImport(Glibc)
            // A null handle is RTLD_DEFAULT on glibc.
            typealias MallocTrim = @convention(c) (Int) -> Int32
            guard let symbol = dlsym(nil, "malloc_trim") else { return }
            _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
        #endif
    }
}
