import Foundation
import PostgresClient

/// Raises an alert for each new incident (`Alerts`): one mail to the on-call list each, and a
/// counter per kind.
final class Alerter: UpkeepConcern {
    let name = "alerts"
    private let context: RunnerContext
    /// Called when an alert was queued (wakes the mail sender).
    var onQueued: () -> Void = {}

    init(context: RunnerContext) { self.context = context }

    func runOnce(db: PostgresConnection, now: Date) throws {
        let alerts = Alerts(configuration: context.configuration, unreadable: context.unreadable.handler("alerts"))
        for incident in try alerts.runOnce(db: db, now: now, runner: context.identity.id) {
            RunnerMetrics.alertRaised(kind: incident.kind.rawValue)
            context.logger.error("ALERT: \(incident.subject)", metadata: ["incident": "\(incident.key)",
                                                                          "on_call": "\(context.configuration.settings.mail.onCall.isEmpty ? "nobody (mail.on_call)" : "mailed")"])
            onQueued()
        }
    }
}
