import Testing

@testable import RiverServe

#if canImport(Glibc)
    import Glibc
#endif

@Test func dateHeaderIsIMFFixdate() {
    var epoch: time_t = 0
    #expect(HTTPDate.format(&epoch) == "Thu, 01 Jan 1970 00:00:00 GMT")
    var later: time_t = 1_700_000_000
    #expect(HTTPDate.format(&later) == "Tue, 14 Nov 2023 22:13:20 GMT")
    #expect(HTTPDate.now.hasSuffix(" GMT") && HTTPDate.now.count == 29)
}
