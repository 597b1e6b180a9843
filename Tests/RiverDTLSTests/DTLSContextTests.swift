import COpenSSL
import RiverCore
import Testing

@testable import RiverDTLS

/// Every server endpoint shares one `SSL_CTX`, and renegotiation is off in it.
@Suite struct DTLSContextTests {
    @Test func serverEndpointsShareOneContextWithRenegotiationOff() throws {
        let certificate = try DTLSCertificate(commonName: "shared")
        let first = try DTLSEndpoint(role: .server, certificate: certificate, expectedPeerFingerprint: nil)
        let before = DTLSContext.count
        let endpoints = try (0..<20).map { _ in
            try DTLSEndpoint(role: .server, certificate: certificate, expectedPeerFingerprint: nil)
        }
        #expect(DTLSContext.count == before, "a context per endpoint")
        #expect(endpoints.count == 20 && first.role == .server)
        let context = try DTLSContext.shared(
            certificate: certificate, srtpProfiles: DTLSEndpoint.srtpProfiles)
        #expect(SSL_CTX_get_options(context) & river_SSL_OP_NO_RENEGOTIATION() != 0)
    }

    @Test func aSharedContextStillHandshakesManySessions() throws {
        for _ in 0..<3 {
            let client = try DTLSEndpoint(
                role: .client, expectedPeerFingerprint: DTLSCertificate.shared.fingerprint)
            let server = try DTLSEndpoint(role: .server, expectedPeerFingerprint: nil)
            _ = client.start()
            var connected = (client: false, server: false)
            for _ in 0..<10 where !(connected.client && connected.server) {
                for datagram in client.takeOutgoing() {
                    if server.receive(datagram).contains(where: {
                        if case .connected = $0 { true } else { false }
                    }) {
                        connected.server = true
                    }
                }
                for datagram in server.takeOutgoing() {
                    if client.receive(datagram).contains(where: {
                        if case .connected = $0 { true } else { false }
                    }) {
                        connected.client = true
                    }
                }
            }
            #expect(connected.client && connected.server)
        }
    }
}
