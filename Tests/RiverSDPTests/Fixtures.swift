import Foundation
import RiverSDP

/// Real browser offers: Chromium's captured by `scripts/browser/capture_offers.py`, Firefox's by
/// `scripts/browser/capture_firefox_offer.py`.
enum Fixture: String, CaseIterable {
    case videoSendonly = "chromium-video-sendonly"
    case videoAudio = "chromium-video-audio"
    case videoDataChannel = "chromium-video-datachannel"
    case videoSendrecv = "chromium-video-sendrecv"
    case sendrecvAudioDataChannel = "chromium-sendrecv-audio-datachannel"
    /// river's page with the microphone on: video and audio both sendrecv, and the data channel.
    case sendrecvVideoAudioDataChannel = "chromium-sendrecv-video-audio-datachannel"
    /// river's own page in Firefox: max-bundle, so the data channel is `m=application 0` with
    /// `a=bundle-only`.
    case firefoxSendrecvDataChannel = "firefox-sendrecv-datachannel"

    var text: String {
        get throws {
            guard
                let url = Bundle.module.url(
                    forResource: rawValue, withExtension: "sdp", subdirectory: "Fixtures")
            else { throw FixtureMissing(name: rawValue) }
            return try String(contentsOf: url, encoding: .utf8)
        }
    }

    var offer: SessionDescription {
        get throws { try SessionDescription(parsing: text) }
    }
}

struct FixtureMissing: Error {
    var name: String
}

/// Answer options as river serve would fill them in.
func testOptions(
    dataChannels: Bool = false, audio: Bool = false, profiles: [String] = ["42e0", "4200", "4d00"]
)
    -> AnswerOptions
{
    AnswerOptions(
        iceUfrag: "rvUf", icePwd: "riverpasswordriverpass",
        fingerprintSHA256: (0..<32).map { String(format: "%02X", $0 * 7 % 256) }.joined(separator: ":"),
        candidates: HostCandidate.list(addresses: ["127.0.0.1", "::1"], port: 40_000), h264Profiles: profiles,
        dataChannels: dataChannels, audio: audio, sendSSRC: 0x1234_5678, audioSendSSRC: 0x0A0D_10AA,
        sessionID: 42)
}
