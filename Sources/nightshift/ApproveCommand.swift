import ArgumentParser
import NightShiftEngine

struct ApproveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Approve another manager's request (production: requests run only once approved).",
        discussion: "Managers and directors; nobody approves their own request. A request not approved within approval_hours (etc/operators.yaml) expires. Audited."
    )

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The request number (`nightshift requests`).") var id: Int
    @Option(help: "A note for the audit.") var reason: String?

    func run() throws {
        let client = try RequestClient(options)
        try client.decide(id, .approve, reason: reason, done: "approved by \(client.account); the runner queues it within 2 s")
    }
}
