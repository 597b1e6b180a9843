import RiverSCTP
import Testing

@testable import RiverWebRTC

@Suite struct MediaStackWarmUpTests {
    /// The loopback DTLS-SRTP handshake and SRTP round trip succeed (run throws otherwise), may run
    /// more than once, and leave nothing registered.
    @Test func runsAndRepeats() throws {
        try MediaStackWarmUp.run()
        try MediaStackWarmUp.run()
        #expect(SCTPAssociation.liveCount == 0, "the warm-up leaves no association behind")
    }
}
