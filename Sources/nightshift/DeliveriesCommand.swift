import ArgumentParser
import Foundation
import NightShiftCore
import NightShiftEngine
import PostgresClient

struct DeliveriesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliveries",
        abstract: "Deliveries of outputs to other systems (SFTP): what arrived, what waits, what failed; send a file again.",
        discussion: """
            Every output of a job with `deliver_to:` is queued for each delivery target when it is \
            published, and uploaded by the running service's delivery sender (deliveries: in \
            etc/nightshift.yaml), retried with back-off, and made a dead letter after the target's \
            max_attempts or a permanent refusal (a host key that does not match, a login or folder \
            refused). `nightshift deliveries` lists the newest (--state queued|sending|delivered|dead), \
            with each receipt: the remote path, size, SHA-256 and time. `retry ID` sends a dead or \
            delivered file again. Both need an operator (etc/operators.yaml); a retry needs a \
            manager and is audited.
            """
    )

    enum Action: String, ExpressibleByArgument { case list, retry }

    @OptionGroup var options: GlobalOptions
    @Argument(help: "list (the default) or retry.") var action: Action = .list
    @Argument(help: "The delivery's number (retry).") var id: Int?
    @Option(help: "Only deliveries in this state (list): queued, sending, delivered or dead.") var state: String?
    @Option(help: "How many deliveries (list).") var limit = 20

    func validate() throws {
        if let state, DeliveryState(rawValue: state) == nil {
            throw ValidationError("--state \(state) is not one of \(DeliveryState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if action == .retry, id == nil { throw ValidationError("give the delivery's number: nightshift deliveries retry ID") }
        if action == .list, id != nil { throw ValidationError("a number goes with retry: nightshift deliveries retry ID") }
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        let client = try RequestClient(options)
        let actor = try client.require(action == .retry ? .deliveryRetry : .list,
                                       detail: id.map { "delivery retry of #\($0)" } ?? "deliveries list")
        let work = try client.runnerDatabase()
        defer { work.close() }
        let store = DeliveryStore(db: work)
        let zone = client.configuration.settings.timeZone
        switch action {
        case .list:
            let deliveries = try client.call {
                try store.list(states: state.flatMap(DeliveryState.init(rawValue:)).map { [$0] } ?? DeliveryState.allCases, limit: limit)
            }
            if deliveries.isEmpty { print("no deliveries" + (state.map { " \($0)" } ?? "")) }
            for delivery in deliveries {
                print("#\(delivery.id) \(delivery.state.rawValue) \(delivery.remoteName) → \(delivery.target) (\(delivery.job), \(delivery.businessDate))")
                var detail = "    queued \(delivery.createdAt.iso8601(in: zone)), \(delivery.attempts) attempt\(delivery.attempts == 1 ? "" : "s")"
                if let next = delivery.nextAttemptAt, delivery.attempts > 0 { detail += ", next attempt \(next.iso8601(in: zone))" }
                print(detail)
                if delivery.state == .delivered, let at = delivery.deliveredAt, let path = delivery.remotePath {
                    print("    receipt: \(path), \(delivery.remoteBytes ?? 0) bytes, sha256 \(delivery.sha256), \(at.iso8601(in: zone))")
                }
                if let error = delivery.lastError { print("    last error: \(error)") }
            }
        case .retry:
            let id = id!
            guard let was = try client.call({ try store.requeue(id, now: Date(), by: actor) }) else {
                printError("error: delivery #\(id) is not dead or delivered (see `nightshift deliveries`); a waiting delivery is sent by itself")
                throw ExitCode(1)
            }
            try Audit(db: work).record(client.person(actor), command: client.command, outcome: .queued,
                                       detail: "delivery #\(id) (\(was.rawValue)) queued again")
            print("delivery #\(id) queued again: the running service's delivery sender uploads it")
        }
    }
}
