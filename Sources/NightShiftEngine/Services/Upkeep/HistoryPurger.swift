import Foundation
import PostgresClient

/// Deletes history past its retention (`HistoryPurge`), on the leader only (the scheduler's
/// advisory lock elects it), at its first pass as leader and then every hour of the runner's clock.
final class HistoryPurger: UpkeepConcern {
    let name = "history purge"
    private let context: RunnerContext
    private let isLeader: () -> Bool
    private var lastPurge: Date?

    init(context: RunnerContext, isLeader: @escaping () -> Bool) {
        self.context = context
        self.isLeader = isLeader
    }

    func runOnce(db: PostgresConnection, now: Date) throws {
        guard isLeader() else {
            lastPurge = nil
            return
        }
        if let lastPurge, now.timeIntervalSince(lastPurge) < 3600 { return }
        lastPurge = now
        let settings = context.configuration.settings
        let purged = try HistoryPurge(historyDays: settings.historyDays, mailDays: settings.mailDays).runOnce(db: db, now: now)
        if !purged.isEmpty {
            context.logger.notice("old history purged", metadata: ["batch_runs": "\(purged.batchRuns)", "requests": "\(purged.requests)",
                                                                   "alerts": "\(purged.alerts)", "mail": "\(purged.mail)",
                                                                   "history_days": "\(settings.historyDays)", "mail_days": "\(settings.mailDays)"])
        }
    }
}
