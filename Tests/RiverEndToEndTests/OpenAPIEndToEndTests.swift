import Foundation
import Testing

/// docs/openapi.yaml against a live `river up`: scripts/e2e/openapi_check.sh runs schemathesis (from
/// the repo's venv) on every operation it describes, with seeded, bounded generated requests, and
/// fails on a 5xx the operation does not document, an undocumented status code or content type, or
/// a body or header that does not match its schema.
@Suite(.serialized) struct OpenAPIEndToEndTests {
    @Test func theLiveServerMatchesItsOpenAPIDescription() async throws {
        let up = try await UpProcess()
        defer { up.stop() }
        let script = repositoryRoot.appendingPathComponent("scripts/e2e/openapi_check.sh").path
        let checker = try ChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"), ["bash", script, up.baseURL.absoluteString])
        defer { checker.stop() }
        let status = await checker.waitForExit(timeout: .seconds(600))
        let output = checker.output
        #expect(status == 0, "openapi_check.sh failed (\(String(describing: status))):\n\(output)")
        // schemathesis ends with `==== No issues found in 55.02s ====` (or `3 warnings in …`, `1 failure in …`).
        let lines = output.split(separator: "\n")
        let summary =
            lines.last { $0.hasPrefix("=") && $0.contains(where: \.isLetter) }
            .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "= ")) } ?? "no summary line"
        let cases = lines.last { $0.contains(" generated, ") }?.trimmingCharacters(in: .whitespaces) ?? ""
        print("river e2e openapi: \(summary); \(cases)")
    }
}
