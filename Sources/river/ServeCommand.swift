import ArgumentParser
import Foundation
import Logging
import RiverServe

/// `river serve`: the WebRTC endpoint and HTTP signalling, until SIGINT or SIGTERM (see
/// `ServeApp`, which runs its parts as services of one group).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve WebRTC sessions over WHIP signalling (RFC 9725).")

    @Flag(help: "Send each session's incoming video back to the same browser.")
    var reflect = false

    @Option(help: "The proxy's frontend endpoint: run inference on every frame (e.g. tcp://127.0.0.1:5555).")
    var proxy: String?

    @Option(help: "Delay of the returned video: a duration (3s, 800ms, 0) or 'auto'.")
    var delay = "3s"

    @Option(
        help:
            "Inference requests each session keeps out at once (at least 1). Default: the proxy's worker slots shared among live sessions, rounded up."
    )
    var maxInFlight: Int?

    @Option(
        help:
            "Largest picture to decode, in pixels (width x height, macroblock-aligned); larger frames are answered decodeError. Default 1920x1088."
    )
    var maxPixels = 1920 * 1088

    @Option(
        help:
            "Record each session into this directory: the browser's H264 and Opus as a fragmented MP4 and the results as JSON lines (created if missing)."
    )
    var record: String?

    @Option(help: "The most bytes one session's recording may take; it stops there, the session goes on.")
    var recordMaxBytes: Int64 = 2 << 30

    @Option(
        help:
            "POST every session's result messages in batches to this http:// or https:// URL (retried with backoff; never slows the video)."
    )
    var resultsWebhook: String?

    @Option(help: "Address the HTTP and UDP sockets bind to.")
    var host = "127.0.0.1"

    @Option(help: "HTTP port for signalling and the page (0 picks a free one).")
    var httpPort = 8080

    @Option(help: "The one UDP port for every WebRTC session (0 picks a free one).")
    var udpPort = 0

    @Option(help: "TCP port for ICE over TCP, for networks that block UDP (default: the UDP port's number).")
    var tcpPort: Int?

    @Flag(help: "Announce no ICE-TCP candidates and bind no TCP port for media.")
    var noIceTcp = false

    @Option(help: "Public address to announce as the ICE candidate (NAT 1:1); repeatable.")
    var publicIP: [String] = []

    @Option(help: "REMB cap sent to browsers, bits per second.")
    var rembBitrate: UInt64 = 2_500_000

    @Option(help: "Seconds of silence after which a session is closed (ICE consent, RFC 7675).")
    var consentTimeout: Int = 10

    @Option(
        help:
            "Bearer token that POST/DELETE /whip, /metrics and /debug/* require (visible in ps: prefer --token-file)."
    )
    var token: String?

    @Option(help: "File holding the bearer token (see --token).")
    var tokenFile: String?

    @Option(
        help:
            "Serve /metrics and /debug/* on plain HTTP at 127.0.0.1 on this port, without the token, and not on the public port."
    )
    var adminPort: Int?

    @OptionGroup var https: HTTPSOptions

    @OptionGroup var curve: CurveOptions

    @OptionGroup var limits: SessionLimitOptions

    func validate() throws {
        guard reflect != (proxy != nil) else {
            throw ValidationError("give exactly one of --reflect or --proxy <endpoint>")
        }
        guard consentTimeout >= 1 else {
            throw ValidationError("--consent-timeout must be at least 1 second")
        }
        guard (0...65535).contains(adminPort ?? 0) else {
            throw ValidationError("--admin-port must be 0–65535")
        }
        guard (maxInFlight ?? 1) >= 1 else { throw ValidationError("--max-in-flight must be at least 1") }
        guard maxPixels >= 16 * 16 else {
            throw ValidationError("--max-pixels must be at least 256 (one macroblock)")
        }
        guard recordMaxBytes >= 1 << 20 else {
            throw ValidationError("--record-max-bytes must be at least 1 MiB")
        }
        guard record == nil || proxy != nil else {
            throw ValidationError("--record needs --proxy: a reflect session rebuilds no frames to record")
        }
        guard resultsWebhook == nil || proxy != nil else {
            throw ValidationError("--results-webhook needs --proxy: a reflect session has no results")
        }
        if let resultsWebhook {
            do {
                _ = try WebhookEndpoint(resultsWebhook)
            } catch {
                throw ValidationError(error.description)
            }
        }
        try https.validate()
        try limits.validate()
        guard !(noIceTcp && tcpPort != nil) else {
            throw ValidationError("give --tcp-port or --no-ice-tcp, not both")
        }
        do {
            _ = try PipelineDelay(parsing: delay)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        var logger = Logger(label: "river.serve")
        logger.logLevel = .info
        var options = ServeOptions(
            host: host, httpPort: httpPort, udpPort: udpPort, publicIPs: publicIP, rembBitrate: rembBitrate,
            consentTimeout: .seconds(consentTimeout),
            token: try AccessToken.load(token: token, file: tokenFile), https: https.mode(host: host))
        options.limits = limits.limits
        options.adminPort = adminPort
        options.tcp = noIceTcp ? .off : tcpPort.map { .port($0) } ?? .sameAsUDP
        if let proxy {
            var pipeline = PipelineServeOptions(
                proxy: proxy, delay: try PipelineDelay(parsing: delay), maxInFlight: maxInFlight,
                maxPixels: maxPixels, curve: try curve.peerCurve())
            if let record {
                let directory = try RecordingOptions.check(directory: URL(fileURLWithPath: record))
                pipeline.recording = RecordingOptions(directory: directory, maxBytes: recordMaxBytes)
            }
            pipeline.resultsWebhook = try resultsWebhook.map { try WebhookEndpoint($0) }
            // The web app at `/` and `/healthz` (AppRoutes).
            let app = try AppRoutes()
            try await ServeApp.runPipeline(
                options, pipeline: pipeline, logger: logger, services: ParentWatch.services
            ) { router in
                app.addRoutes(to: router)
            }
        } else {
            try await ServeApp.runReflect(options, logger: logger, services: ParentWatch.services)
        }
    }
}
