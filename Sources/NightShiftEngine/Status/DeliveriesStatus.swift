import Foundation
import NightShiftCore
import PostgresClient

/// What `status` shows of the delivery queue: files by state, and those waiting or dead.
public struct DeliveriesStatus: Codable, Sendable {
    public struct File: Codable, Sendable {
        public let id: Int
        public let name: String
        public let target: String
        public let state: String
        public let attempts: Int
        public let nextAttemptAt: String?
        public let lastError: String?
    }
    public let queued: Int
    public let sending: Int
    public let delivered: Int
    public let dead: Int
    /// Waiting and dead files, newest first (at most 20).
    public let files: [File]

    /// The queue's state, and a line for `stuck` per dead file. nil when nothing was ever queued.
    static func load(db: PostgresConnection, zone: TimeZone) throws -> (status: DeliveriesStatus, stuck: [String])? {
        let counts = try db.query("SELECT state, count(*) AS n FROM nightshift.deliveries GROUP BY state")
        guard counts.rowCount > 0 else { return nil }
        var byState: [DeliveryState: Int] = [:]
        for row in counts.rows(of: "nightshift.deliveries", id: "state") {
            byState[try row.value("state", as: DeliveryState.self)] = try row.int("n")
        }
        let open = try DeliveryStore(db: db).list(states: [.queued, .sending, .dead], limit: 20)
        let stuck = open.filter { $0.state == .dead }.map { file in
            "delivery #\(file.id) of \(file.remoteName) to \(file.target) is a dead letter after \(file.attempts) attempt\(file.attempts == 1 ? "" : "s"): "
                + "\(file.lastError ?? "") — fix the cause, then `nightshift deliveries retry \(file.id)`"
        }
        let status = DeliveriesStatus(queued: byState[.queued] ?? 0, sending: byState[.sending] ?? 0, delivered: byState[.delivered] ?? 0,
                                      dead: byState[.dead] ?? 0, files: open.map {
                                          File(id: $0.id, name: $0.remoteName, target: $0.target, state: $0.state.rawValue, attempts: $0.attempts,
                                               nextAttemptAt: $0.nextAttemptAt?.iso8601(in: zone), lastError: $0.lastError)
                                      })
        return (status, stuck)
    }
}
