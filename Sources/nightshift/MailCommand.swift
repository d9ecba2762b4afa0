import ArgumentParser
import Foundation
import NightShiftCore
import NightShiftEngine
import PostgresClient

struct MailCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mail",
        abstract: "The mail outbox: list what was sent, what waits and what failed; send a dead letter again.",
        discussion: """
            Every message (the batch summaries) is queued in the outbox table and delivered by the \
            running service's mail sender through mail.smtp, retried with back-off, and made a dead \
            letter after mail.max_attempts failures or a permanent refusal (5xx), with the server's \
            last reply. `list` shows the newest messages (--state queued|sending|sent|dead). \
            `retry ID` queues a dead letter again once its cause is fixed. Both need an operator \
            (etc/operators.yaml); a retry is audited.
            """
    )

    enum Action: String, ExpressibleByArgument { case list, retry }

    @OptionGroup var options: GlobalOptions
    @Argument(help: "list or retry.") var action: Action
    @Argument(help: "The message number (retry).") var id: Int?
    @Option(help: "Only messages in this state (list): queued, sending, sent or dead.") var state: String?
    @Option(help: "How many messages (list).") var limit = 20

    func validate() throws {
        if let state, MailState(rawValue: state) == nil {
            throw ValidationError("--state \(state) is not one of \(MailState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if action == .retry, id == nil { throw ValidationError("give the message's number: nightshift mail retry ID") }
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        let client = try RequestClient(options)
        let actor = try client.require(action == .retry ? .mailRetry : .list, detail: id.map { "mail retry of #\($0)" } ?? "mail list")
        let work = try client.runnerDatabase()
        defer { work.close() }
        let store = OutboxStore(db: work)
        let zone = client.configuration.settings.timeZone
        switch action {
        case .list:
            let letters = try client.call {
                try store.letters(states: state.flatMap(MailState.init(rawValue:)).map { [$0] } ?? MailState.allCases, limit: limit, newestFirst: true)
            }
            if letters.isEmpty { print("the outbox is empty" + (state.map { " of \($0) messages" } ?? "")) }
            for letter in letters {
                print("#\(letter.id) \(letter.state.rawValue) \(letter.kind) \"\(letter.subject)\" to \(letter.recipients.joined(separator: ", "))")
                var detail = "    queued \(letter.createdAt.iso8601(in: zone)), \(letter.attempts) attempt\(letter.attempts == 1 ? "" : "s")"
                if let sent = letter.sentAt { detail += ", sent \(sent.iso8601(in: zone))" }
                if let next = letter.nextAttemptAt, letter.attempts > 0 { detail += ", next attempt \(next.iso8601(in: zone))" }
                print(detail)
                if letter.state == .sent, let reply = letter.lastReply { print("    the server: \(reply)") }
                if let error = letter.lastError { print(letter.state == .sent ? "    \(error)" : "    last error: \(error)") }
            }
        case .retry:
            let id = id!
            let requeued = try client.call { try store.requeue(id, now: Date(), by: actor) }
            guard requeued else {
                printError("error: mail #\(id) is not a dead letter (see `nightshift mail list`); only dead letters are sent again")
                throw ExitCode(1)
            }
            try Audit(db: work).record(client.person(actor), command: client.command, outcome: .queued, detail: "mail #\(id) queued again")
            print("mail #\(id) queued again: the running service's mail sender delivers it")
        }
    }
}
