import ArgumentParser
import NightShiftEngine

struct RejectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reject",
        abstract: "Reject another manager's request that awaits approval.",
        discussion: "Managers and directors; nobody rejects their own request (cancel it instead). Audited."
    )

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The request number (`nightshift requests`).") var id: Int
    @Option(help: "Why (recorded and audited).") var reason: String

    func run() throws {
        let client = try RequestClient(options)
        let why = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        if why.isEmpty { try client.refuse("say why with --reason", requestID: id) }
        try client.decide(id, .reject, reason: why, done: "rejected by \(client.account)")
    }
}
