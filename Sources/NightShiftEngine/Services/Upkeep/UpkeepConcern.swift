import Foundation
import PostgresClient

/// One concern of the runner's upkeep (rescuing leases, closing batches, the morning mail,
/// alerts, sweeping staged files, sampling gauges, purging history): a single pass over the
/// database, apart from any loop, so a test calls it directly and a failing concern holds up no
/// other. `Upkeep` runs several in a fixed order on one connection and thread.
protocol UpkeepConcern: AnyObject {
    /// For the log ("alerts cannot be raised: …").
    var name: String { get }
    func runOnce(db: PostgresConnection, now: Date) throws
}

/// Runs concerns in order, each on its own: a transient database error ends the pass (the loop
/// reconnects and retries it after a back-off); any other failure is logged once per distinct
/// error and the next concern runs. Order is what it is given: `BatchCloser` before
/// `MorningMailer`, so a batch that just ended is closed and summarised before the night's mail.
final class Upkeep: @unchecked Sendable {
    let concerns: [UpkeepConcern]
    private let context: RunnerContext
    private let keeper: ConnectionKeeper
    private var lastFailure: [String: String] = [:]

    init(context: RunnerContext, concerns: [UpkeepConcern]) {
        self.context = context
        self.concerns = concerns
        keeper = ConnectionKeeper(connect: context.connect)
    }

    func runOnce() throws {
        try keeper.use { db in
            for concern in concerns {
                do {
                    try concern.runOnce(db: db, now: context.clock.now())
                    if lastFailure.removeValue(forKey: concern.name) != nil {
                        context.logger.notice("\(concern.name) recovered")
                    }
                } catch let error as PostgresError where error.isTransient {
                    throw error
                } catch {
                    if lastFailure[concern.name] != "\(error)" {
                        context.logger.error("\(concern.name) failed; retrying on the next pass", metadata: ["error": "\(error)"])
                        lastFailure[concern.name] = "\(error)"
                    }
                }
            }
        }
    }

    func close() { keeper.close() }
}
