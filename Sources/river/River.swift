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
            AnnotateCommand.self,
            KeysCommand.self,
            ProxyCommand.self,
            OnnxCommand.self,
            ServeCommand.self,
            UpCommand.self,
        ],
        defaultSubcommand: UpCommand.self
    )
}
