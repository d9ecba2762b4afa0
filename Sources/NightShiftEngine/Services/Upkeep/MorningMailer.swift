import Foundation
import PostgresClient

/// After `mail.morning`, queues the night's mail once (its dedupe key is the night). Runs after
/// `BatchCloser` in the same pass, so the batches that just ended are in it.
final class MorningMailer: UpkeepConcern {
    let name = "the night's mail"
    private let context: RunnerContext
    /// Called when the night's mail was queued (wakes the mail sender).
    var onQueued: () -> Void = {}

    init(context: RunnerContext) { self.context = context }

    func runOnce(db: PostgresConnection, now: Date) throws {
        if let id = try MorningMail(configuration: context.configuration)
            .queueIfDue(db: db, now: now, runner: context.identity.id, unreadable: context.unreadable.handler("the night's mail")) {
            context.logger.notice("the night's mail is queued", metadata: ["mail": "\(id)"])
            onQueued()
        }
    }
}
