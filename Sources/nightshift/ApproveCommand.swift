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
        try client.require(.approve)
        let outcome = try client.call {
            try client.store.decide(id, .approve, by: client.identity, isDirector: client.policy.isDirector(client.identity.account),
                                    command: client.command, reason: reason)
        }
        try client.report(outcome) { id, _ in "request #\(id) approved by \(client.identity.account); the runner queues it within 2 s" }
    }
}
