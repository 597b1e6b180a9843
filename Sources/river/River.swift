import ArgumentParser

/// The `river` command: near-real-time, frame-by-frame AI inference on live WebRTC video.
@main
struct River: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "river",
        abstract: "Frame-by-frame AI inference on live WebRTC video.",
        version: "0.1.0",
        subcommands: [
            InferCommand.self,
            ProxyCommand.self,
            OnnxCommand.self,
            ServeCommand.self,
            UpCommand.self,
        ],
        defaultSubcommand: UpCommand.self
    )

    /// ArgumentParser's own entry point, after starting the lifeline watch in processes that
    /// `river up` started (see ``ParentWatch``).
    static func main() async {
        ParentWatch.startIfChild()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
