import RiverCore
import RiverTestSupport
import Testing

@testable import RiverICE

@Suite struct ICELiteResponderTests {
    let localUfrag = "rvUf"
    let localPwd = "riverpasswordriverpass"
    let remoteUfrag = "jO8K"
    let browser = TransportAddress("192.0.2.7", port: 50_123)!
    let t0 = Instant.now

    func responder(timeout: Duration = .seconds(10)) -> ICELiteResponder {
        ICELiteResponder(
            localUfrag: localUfrag, localPwd: localPwd, remoteUfrag: remoteUfrag, consentTimeout: timeout,
            now: t0)
    }

    /// A check as Chromium sends it: USERNAME, ICE-CONTROLLING, PRIORITY, integrity, fingerprint.
    func check(
        username: String? = nil, password: String? = nil, useCandidate: Bool = false, integrity: Bool = true,
        fingerprint: Bool = true
    ) -> (bytes: [UInt8], transactionID: [UInt8]) {
        let id = STUNMessage.randomTransactionID()
        var attributes: [STUNAttribute] = [
            .username(username ?? "\(localUfrag):\(remoteUfrag)"), .iceControlling(0x0102_0304_0506_0708),
            .priority(1_845_501_695),
        ]
        if useCandidate { attributes.append(.useCandidate) }
        let message = STUNMessage(messageClass: .request, transactionID: id, attributes: attributes)
        let key = integrity ? Array((password ?? localPwd).utf8) : nil
        return (message.serialized(integrityKey: key, fingerprint: fingerprint), id)
    }

    @Test func answersAValidCheckWithASignedResponse() throws {
        var ice = responder()
        let (request, id) = check()
        let reply1 = ice.handle(request, from: browser, now: t0 + .seconds(1))
        let reply = try #require(reply1)
        let response = try STUNMessage(parsing: reply.response)
        #expect(response.messageClass == .successResponse)
        #expect(response.method == .binding)
        #expect(response.transactionID == id)
        #expect(response.xorMappedAddress == browser)
        #expect(response.checkIntegrity(key: Array(localPwd.utf8)))
        #expect(response.checkFingerprint())
        #expect(reply.newlySelected == nil)
        #expect(ice.selectedAddress == nil)
    }

    @Test func answersIPv6Sources() throws {
        var ice = responder()
        let source = TransportAddress("fd00::2", port: 58_958)!
        let reply2 = ice.handle(check().bytes, from: source, now: t0)
        let reply = try #require(reply2)
        #expect(try STUNMessage(parsing: reply.response).xorMappedAddress == source)
    }

    @Test func useCandidateNominatesThePair() throws {
        var ice = responder()
        let reply3 = ice.handle(check(useCandidate: true).bytes, from: browser, now: t0)
        let first = try #require(reply3)
        #expect(first.newlySelected == browser)
        #expect(ice.selectedAddress == browser)
        // The same nomination again changes nothing.
        let reply4 = ice.handle(check(useCandidate: true).bytes, from: browser, now: t0)
        let again = try #require(reply4)
        #expect(again.newlySelected == nil)
        // A nomination from another address moves media there (the browser renominated).
        let other = TransportAddress("198.51.100.1", port: 4_000)!
        let reply5 = ice.handle(check(useCandidate: true).bytes, from: other, now: t0)
        let moved = try #require(reply5)
        #expect(moved.newlySelected == other)
        #expect(ice.selectedAddress == other)
        // A plain check does not move it.
        let reply6 = ice.handle(check().bytes, from: browser, now: t0)
        #expect(reply6 != nil)
        #expect(ice.selectedAddress == other)
    }

    @Test func badIntegrityGetsNoAnswer() {
        var ice = responder()
        let reply7 = ice.handle(check(password: "wrongpasswordwrongpass").bytes, from: browser, now: t0)
        #expect(reply7 == nil)
        #expect(ice.rejectedCount == 1)
        #expect(ice.selectedAddress == nil)
    }

    @Test func missingIntegrityGetsNoAnswer() {
        var ice = responder()
        let reply8 = ice.handle(check(useCandidate: true, integrity: false).bytes, from: browser, now: t0)
        #expect(reply8 == nil)
        #expect(ice.selectedAddress == nil)
        #expect(!ice.consent.everRefreshed)
    }

    @Test func missingFingerprintGetsNoAnswer() {
        var ice = responder()
        let reply = ice.handle(check(fingerprint: false).bytes, from: browser, now: t0)
        #expect(reply == nil)
    }

    @Test func tamperedFingerprintGetsNoAnswer() {
        var ice = responder()
        var bytes = check().bytes
        bytes[bytes.count - 1] ^= 0xFF
        let reply9 = ice.handle(bytes, from: browser, now: t0)
        #expect(reply9 == nil)
    }

    @Test func tamperedBodyGetsNoAnswer() {
        var ice = responder()
        var bytes = check(fingerprint: false).bytes
        bytes[30] ^= 0x01  // inside ICE-CONTROLLING, covered by the HMAC
        let reply10 = ice.handle(bytes, from: browser, now: t0)
        #expect(reply10 == nil)
    }

    @Test(arguments: ["other:jO8K", "rvUf:xxxx", "rvUf", "jO8K:rvUf", ""])
    func wrongUsernameGetsNoAnswer(_ username: String) {
        var ice = responder()
        let reply11 = ice.handle(check(username: username).bytes, from: browser, now: t0)
        #expect(reply11 == nil)
    }

    @Test func unknownRemoteUfragAcceptsAnySecondHalf() {
        var ice = ICELiteResponder(localUfrag: localUfrag, localPwd: localPwd, now: t0)
        let reply12 = ice.handle(check(username: "rvUf:anything").bytes, from: browser, now: t0)
        #expect(reply12 != nil)
    }

    @Test func responsesAndIndicationsGetNoAnswer() {
        var ice = responder()
        let id = STUNMessage.randomTransactionID()
        for messageClass in [STUNClass.indication, .successResponse, .errorResponse] {
            let message = STUNMessage(
                messageClass: messageClass, transactionID: id,
                attributes: [.username("\(localUfrag):\(remoteUfrag)")])
            let bytes = message.serialized(integrityKey: Array(localPwd.utf8), fingerprint: true)
            let reply13 = ice.handle(bytes, from: browser, now: t0)
            #expect(reply13 == nil)
        }
    }

    @Test func randomDatagramsNeverCrashOrGetAnswers() {
        var ice = responder()
        var rng = SplitMix64(seed: 7)
        let valid = check().bytes
        for round in 0..<5_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int(rng.next() % 120)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                // Mutate or truncate a valid check: the worst case for the parser.
                bytes = valid
                for _ in 0..<(1 + rng.next() % 4) {
                    bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                }
                if rng.next() % 3 == 0 { bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count)))) }
            }
            let reply14 = ice.handle(bytes, from: browser, now: t0)
            #expect(reply14 == nil)
        }
        #expect(ice.rejectedCount == 5_000)
    }

    @Test func localUfragFindsTheSessionWithoutTheKey() {
        #expect(ICELiteResponder.localUfrag(of: check().bytes) == localUfrag)
        #expect(ICELiteResponder.localUfrag(of: check(integrity: false).bytes) == localUfrag)
        #expect(ICELiteResponder.localUfrag(of: [0x16, 0xfe, 0xfd]) == nil)
        #expect(ICELiteResponder.localUfrag(of: check(username: "nocolon").bytes) == nil)
    }

    // MARK: consent freshness (RFC 7675)

    @Test func consentExpiresAfterSilence() throws {
        var ice = responder(timeout: .seconds(10))
        #expect(!ice.consentExpired(at: t0 + .seconds(9)))
        let reply15 = ice.handle(check().bytes, from: browser, now: t0 + .seconds(5))
        #expect(reply15 != nil)
        #expect(ice.consent.deadline == t0 + .seconds(15))
        #expect(!ice.consentExpired(at: t0 + .seconds(14)))
        #expect(ice.consentExpired(at: t0 + .seconds(15)))
        // Once expired, a late check neither revives consent nor gets an answer.
        let reply16 = ice.handle(check().bytes, from: browser, now: t0 + .seconds(16))
        #expect(reply16 == nil)
        #expect(ice.consentExpired(at: t0 + .seconds(16)))
    }

    @Test func invalidChecksDoNotRefreshConsent() {
        var ice = responder(timeout: .seconds(10))
        for second in 1...12 {
            _ = ice.handle(
                check(password: "wrongpasswordwrongpass").bytes, from: browser, now: t0 + .seconds(second))
        }
        #expect(ice.consentExpired(at: t0 + .seconds(12)))
    }

    @Test func consentRunsFromTheStartUntilTheFirstCheck() {
        var consent = ConsentFreshness(timeout: .seconds(3), start: t0)
        #expect(!consent.isExpired(at: t0 + .seconds(2)))
        #expect(consent.isExpired(at: t0 + .seconds(3)))
        consent.refresh(at: t0 + .seconds(4))
        #expect(consent.isExpired(at: t0 + .seconds(4)))
        #expect(!consent.everRefreshed)
    }

    @Test func regularChecksKeepConsent() throws {
        var ice = responder(timeout: .seconds(10))
        for second in stride(from: 2, through: 60, by: 2) {
            let reply17 = ice.handle(check().bytes, from: browser, now: t0 + .seconds(second))
            #expect(reply17 != nil)
            #expect(!ice.consentExpired(at: t0 + .seconds(second) + .seconds(9)))
        }
    }
}
