import ArgumentParser
import NightShiftEngine

struct CancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a request before any of its jobs started (your own; a director: anyone's).",
        discussion: "A queued request whose jobs have not started is taken out of the queue: its batch run ends as cancelled. Once a job started, skip the rest with `nightshift override`. Audited."
    )

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The request number (`nightshift requests`).") var id: Int
    @Option(help: "Why (recorded and audited).") var reason: String?

    func run() throws {
        let client = try RequestClient(options)
        try client.decide(id, .cancel, reason: reason, done: "cancelled by \(client.account)")
    }
}
