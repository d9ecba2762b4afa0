import ArgumentParser
import Foundation
import NightShiftEngine

struct ReviewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review",
        abstract: "Bad records set aside by calculations: list them, retry one, or dismiss one.",
        discussion: """
            A data error inside a calculation's chunk (overflow, constraint, division by zero, bad \
            value) sets the record aside here instead of failing the night; the rest commits and the job \
            ends succeeded_with_rejects. `list` shows open items (--all: every item). `retry ID` applies \
            the one record again with the job's own SQL, after its data or the job was fixed. \
            `dismiss ID --reason` sets it aside for good. Retry and dismiss need a manager \
            (etc/operators.yaml) and are audited.
            """
    )

    enum Action: String, ExpressibleByArgument { case list, retry, dismiss }

    @OptionGroup var options: GlobalOptions
    @Argument(help: "list, retry or dismiss.") var action: Action
    @Argument(help: "The review item (retry, dismiss).") var id: Int?
    @Option(help: "Only this job's items (list).") var job: String?
    @Flag(help: "List every item, not only the open ones.") var all = false
    @Option(help: "Why (dismiss).") var reason: String?

    func run() throws {
        let client = try RequestClient(options)
        let actor = try client.require(action == .list ? .list : .review,
                                       detail: "review \(action.rawValue)\(id.map { " of item #\($0)" } ?? "")")
        let work = try client.runnerDatabase()
        defer { work.close() }
        let queue = ReviewQueue(db: work, configuration: client.configuration)
        let zone = client.configuration.settings.timeZone
        switch action {
        case .list:
            let items = try client.call { try queue.list(job: job, openOnly: !all) }
            if items.isEmpty { print(all ? "the review queue is empty" : "no open review items") }
            for item in items {
                print("#\(item.id) [\(item.state)] \(item.job) \(item.businessDate) key \(item.key): [\(item.sqlState ?? "")] \(item.message)")
                print("    set aside \(item.rejectedAt.iso8601(in: zone))" + (item.decidedBy.map { "; \(item.state) by \($0)" } ?? "")
                      + (item.note.map { ": \($0)" } ?? ""))
                if let record = item.record { print("    record: \(record)") }
            }
        case .retry, .dismiss:
            guard let id else { throw ValidationError("give the review item's number: nightshift review \(action.rawValue) ID") }
            let outcome: ReviewQueue.Outcome
            if action == .retry {
                outcome = try client.call { try queue.retry(id, by: client.person(actor), command: client.command) }
            } else {
                guard let reason, !reason.trimmingCharacters(in: .whitespaces).isEmpty else { try client.refuse("say why with --reason") }
                outcome = try client.call { try queue.dismiss(id, by: client.person(actor), command: client.command, reason: reason) }
            }
            switch outcome {
            case .resolved: print("review item #\(id) \(action == .retry ? "applied: resolved" : "dismissed")")
            case let .stillBad(sqlState, message):
                printError("review item #\(id) still fails: [\(sqlState ?? "")] \(message)")
                throw ExitCode(1)
            case let .refused(reason):
                printError("refused: \(reason)")
                throw ExitCode(1)
            }
        }
    }
}
