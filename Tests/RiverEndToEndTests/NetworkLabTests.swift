import Foundation
import Testing

/// The network lab itself (scripts/netns/lab.sh, `NetworkLab`), with real packets: the hosts reach
/// each other, loss and UDP blocking do what they say, teardown leaves nothing, and Chromium in the
/// client namespace trusts a server certificate only through its NSS database. Ports are fixed: each
/// test has its own fresh namespaces, where every port is free.
@Suite(.serialized, .enabled(if: NetworkLab.isAvailable, NetworkLab.unavailableReason))
struct NetworkLabTests {
    static let probe = repositoryRoot.appendingPathComponent("scripts/netns/probe.py").path

    @Test func hostsReachEachOtherOverIPv4AndIPv6AndTheRootNamespaceGetsNothing() async throws {
        let before = try RootNamespace.snapshot()
        let lab = try NetworkLab.create()
        defer { lab.remove() }
        #expect(
            NetworkLab.namespaces(prefix: lab.name + "-")
                == ["br", "c", "s", "w"].map { "\(lab.name)-\($0)" })
        // "::" with IPV6_V6ONLY off (Linux's default) takes IPv4 connections too.
        for host in NetworkLab.Host.allCases {
            let echo = try lab.start(
                in: host, ["python3", Self.probe, "tcp-echo", "--bind", "::", "--port", "7000"])
            #expect(await echo.waitForLine("listening"), "\(host) echo did not start: \(echo.output)")
        }
        for from in NetworkLab.Host.allCases {
            for to in NetworkLab.Host.allCases where to != from {
                for address in [lab.address(to), lab.address6(to)] {
                    let reply = try await probe(
                        lab, from, ["tcp-connect", "--to", address, "--port", "7000"])
                    #expect(reply["echoed"] as? Bool == true, "\(from) → \(to) at \(address): \(reply)")
                }
            }
        }
        try #expect(RootNamespace.snapshot() == before, "the lab changed the root namespace")
        lab.remove()
        #expect(NetworkLab.namespaces(prefix: lab.name) == [])
        try #expect(RootNamespace.snapshot() == before)
    }

    @Test func lossOnAHostsInputDropsAboutThatShareOfUDPAndLeavesTCPAlone() async throws {
        let lab = try NetworkLab.create()
        defer { lab.remove() }
        let count = 4000
        let clean = try await udpBurst(lab, from: .client, to: .server, count: count)
        #expect(clean.received == count, "UDP was lost without any rule: \(clean)")

        try lab.addLoss(host: .server, percent: 5)
        let toServer = try await udpBurst(lab, from: .client, to: .server, count: count)
        let toServerLoss = 1 - Double(toServer.received) / Double(count)
        #expect(
            toServer.sent == count && (0.025...0.08).contains(toServerLoss), "client → server: \(toServer)")

        // Loss both ways is the rule on both hosts; the server's own sending is untouched by its rule.
        let fromServer = try await udpBurst(lab, from: .server, to: .client, count: count)
        #expect(fromServer.received == count, "the server's INPUT rule dropped its output: \(fromServer)")
        try lab.addLoss(host: .client, percent: 5)
        let toClient = try await udpBurst(lab, from: .server, to: .client, count: count)
        let toClientLoss = 1 - Double(toClient.received) / Double(count)
        #expect((0.025...0.08).contains(toClientLoss), "server → client: \(toClient)")
        print(
            "NetworkLabTests: 5 % loss measured",
            String(
                format: "client → server %.2f %%, server → client %.2f %%", 100 * toServerLoss,
                100 * toClientLoss))

        let echo = try lab.start(
            in: .server, ["python3", Self.probe, "tcp-echo", "--bind", "::", "--port", "7000"])
        #expect(await echo.waitForLine("listening"))
        let tcp = try await probe(
            lab, .client, ["tcp-connect", "--to", lab.address(.server), "--port", "7000"])
        #expect(tcp["echoed"] as? Bool == true, "\(tcp)")

        try lab.addLoss(host: .server, percent: 0)
        let restored = try await udpBurst(lab, from: .client, to: .server, count: count)
        #expect(restored.received == count, "loss 0 did not remove the rule: \(restored)")
    }

    @Test func blockedUDPPassesNeitherWayButTCPStillConnects() async throws {
        let lab = try NetworkLab.create()
        defer { lab.remove() }
        let before = try await udpBurst(lab, from: .client, to: .server, count: 200)
        #expect(before.received == 200, "\(before)")

        try lab.blockUDP(host: .client)
        let out = try await udpBurst(lab, from: .client, to: .server, count: 200)
        #expect(out.received == 0, "UDP left the blocked client: \(out)")
        let into = try await udpBurst(lab, from: .server, to: .client, count: 200)
        #expect(into.sent == 200 && into.received == 0, "UDP reached the blocked client: \(into)")
        for address in [lab.address(.server), lab.address6(.server)] {
            let echo = try lab.start(
                in: .server, ["python3", Self.probe, "tcp-echo", "--bind", address, "--port", "7000"])
            #expect(await echo.waitForLine("listening"))
            let tcp = try await probe(lab, .client, ["tcp-connect", "--to", address, "--port", "7000"])
            #expect(tcp["echoed"] as? Bool == true, "TCP to \(address) from the blocked client: \(tcp)")
        }

        try lab.clear(host: .client)
        let after = try await udpBurst(lab, from: .client, to: .server, count: 200)
        #expect(after.received == 200, "clear left UDP blocked: \(after)")
    }

    @Test func teardownHappensWhenTheTestBodyThrows() async throws {
        struct Planned: Error {}
        var name = ""
        var pid: Int32 = 0
        func failingBody() async throws {
            let lab = try NetworkLab.create()
            defer { lab.remove() }
            name = lab.name
            let sleeper = try lab.start(in: .server, ["sleep", "600"])
            pid = sleeper.process.processIdentifier
            #expect(NetworkLab.namespaces(prefix: lab.name + "-").count == 4)
            throw Planned()
        }
        await #expect(throws: Planned.self) { try await failingBody() }
        #expect(!name.isEmpty && pid > 0)
        #expect(NetworkLab.namespaces(prefix: name) == [], "the lab outlived the throw")
        #expect(!processAlive(pid), "the process in the lab outlived it")
    }

    @Test func chromiumInTheClientLoadsTheServersHTTPSPageOnlyWhenItsNSSDatabaseTrustsTheCertificate()
        async throws
    {
        let lab = try NetworkLab.create()
        defer { lab.remove() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "river-lab-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = lab.address(.server)
        let cert = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        // Self-signed, CA:TRUE and the address in subjectAltName: what Chromium takes as a trust anchor
        // that is also the leaf (scripts/browser/cdp.py, NSS_TRUST).
        _ = try NetworkLab.runTool([
            "/usr/bin/env", "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=river-lab",
            "-addext", "subjectAltName=IP:\(server)", "-addext", "basicConstraints=critical,CA:TRUE",
        ])
        let https = try lab.start(
            in: .server,
            [
                "python3", Self.probe, "https", "--bind", server, "--port", "8443", "--cert", cert, "--key",
                key,
            ])
        #expect(await https.waitForLine("listening"), "\(https.output)")
        let url = "https://\(server):8443/"

        let trusted = try await secureContextCheck(lab, url: url, trust: [cert])
        #expect(trusted["loaded"] as? Bool == true, "\(trusted)")
        #expect(trusted["title"] as? String == "river lab", "\(trusted)")
        #expect(trusted["secure"] as? Bool == true, "\(trusted)")
        #expect(trusted["getUserMedia"] as? String == "function", "\(trusted)")
        // Closing the browser killed its whole process group, there in the client's namespace.
        #expect(
            try await eventually(timeout: .seconds(5)) { lab.pids(in: .client).isEmpty },
            "\(lab.pids(in: .client))")

        let untrusted = try await secureContextCheck(lab, url: url, trust: [])
        #expect(
            untrusted["loaded"] as? Bool == false, "a self-signed certificate loaded untrusted: \(untrusted)")
        #expect((untrusted["error"] as? String ?? "").contains("ERR_CERT_AUTHORITY_INVALID"), "\(untrusted)")
        #expect(untrusted["title"] as? String != "river lab", "\(untrusted)")
    }

    // MARK: helpers

    /// Runs probe.py on `host` to its end and decodes its JSON.
    func probe(_ lab: NetworkLab, _ host: NetworkLab.Host, _ arguments: [String]) async throws -> [String:
        Any]
    {
        let (status, output) = try await lab.run(
            in: host, ["python3", Self.probe] + arguments, timeout: .seconds(60))
        try #require(status == 0, "probe.py \(arguments.joined(separator: " ")) on \(host): \(output)")
        return try json(output)
    }

    /// `count` numbered datagrams from one host to another, counted by a receiver that is told when
    /// the sender has finished (SIGUSR1) and then waits for 1.5 s of silence.
    func udpBurst(_ lab: NetworkLab, from: NetworkLab.Host, to: NetworkLab.Host, count: Int) async throws
        -> (sent: Int, received: Int)
    {
        let receiver = try lab.start(
            in: to, ["python3", Self.probe, "udp-recv", "--bind", lab.address(to), "--port", "5000"])
        defer { receiver.stop() }
        try #require(await receiver.waitForLine("listening"), "receiver: \(receiver.output)")
        let sent = try await probe(
            lab, from, ["udp-send", "--to", lab.address(to), "--port", "5000", "--count", "\(count)"])
        kill(receiver.process.processIdentifier, SIGUSR1)
        let status = await receiver.waitForExit(timeout: .seconds(30))
        let output = receiver.output
        try #require(status == 0, "receiver: \(output)")
        let received = try json(output)
        return (sent["sent"] as? Int ?? -1, received["distinct"] as? Int ?? -1)
    }

    /// scripts/netns/secure_context_check.py with Chromium in the client's namespace.
    func secureContextCheck(_ lab: NetworkLab, url: String, trust: [String]) async throws -> [String: Any] {
        let command =
            [
                "python3",
                repositoryRoot.appendingPathComponent("scripts/netns/secure_context_check.py").path,
                "--url", url, "--netns", lab.namespace(.client),
            ] + trust.flatMap { ["--trust", $0] }
        let (status, output) = try await BrowserSlot.shared.hold {
            let driver = try ChildProcess(URL(fileURLWithPath: "/usr/bin/env"), command)
            defer { driver.stop() }
            let status = await driver.waitForExit(timeout: .seconds(90))
            return (status, driver.output)
        }
        try #require(
            status == 0, "secure_context_check.py failed (\(String(describing: status))):\n\(output)")
        return try json(output)
    }

    func json(_ output: String) throws -> [String: Any] {
        let line = try #require(
            output.split(separator: "\n").last { $0.hasPrefix("{") }, "no JSON in:\n\(output)")
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }
}

/// What a lab must leave alone in the root namespace: its interfaces, addresses, routes and
/// iptables rules.
struct RootNamespace: Equatable {
    var links: [String]
    var addresses: [String]
    var routes: [String]
    var rules: [String]

    static func snapshot() throws -> RootNamespace {
        let ip = NetworkLab.tool("ip") ?? "ip"
        func lines(_ argv: [String]) throws -> [String] {
            try NetworkLab.runTool(argv).split(separator: "\n").map(String.init).sorted()
        }
        // Names only: link state and counters move on their own.
        let links = try lines([ip, "-o", "link", "show"]).map {
            $0.split(separator: " ").dropFirst().first.map(String.init) ?? $0
        }
        let addresses = try lines([ip, "-o", "address", "show"]).map {
            $0.split(separator: " ").dropFirst().prefix(3).joined(separator: " ")
        }
        // Without "expires N": a route learned from router advertisements counts down on its own.
        let routes = try
            (lines([ip, "-4", "route", "show", "table", "all"])
            + lines([ip, "-6", "route", "show", "table", "all"])).map {
                $0.replacing(#/ expires \d+sec/#, with: "")
            }
        var rules: [String] = []
        for tool in ["iptables", "ip6tables"] {
            if let path = NetworkLab.tool(tool) { rules += try lines([path, "-w", "-S"]) }
        }
        return RootNamespace(links: links, addresses: addresses, routes: routes, rules: rules)
    }
}
