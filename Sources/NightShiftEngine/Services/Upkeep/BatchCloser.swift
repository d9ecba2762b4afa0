import Foundation
import NightShiftCore
import PostgresClient

/// Batch runs to their end, in the order that matters: held batches released (month-end close),
/// waiting jobs that can no longer run skipped, runs whose jobs all ended closed (exactly one
/// runner closes each), then each closed run's summary written and its mail queued.
final class BatchCloser: UpkeepConcern {
    let name = "batch close"
    private let context: RunnerContext
    /// Called when held batches were released (wakes the dispatcher).
    var onReleased: () -> Void = {}
    /// Called with each batch run this pass closed or summarised.
    var onBatchEnded: (Int) -> Void = { _ in }

    init(context: RunnerContext) { self.context = context }

    func runOnce(db: PostgresConnection, now: Date) throws {
        let store = RunnerStore(db: db, zone: context.zone)
        let runner = context.identity.id
        let released = try MonthEndClose(configuration: context.configuration, db: db).releaseDue(now: now, runner: runner)
        for (id, why) in released {
            context.logger.notice("held batch released", metadata: ["batch_run": "\(id)", "why": "\(why)"])
        }
        if !released.isEmpty { onReleased() }
        let skipped = try store.skipBlockedJobs(now: now, runner: runner)
        if skipped > 0 { context.logger.warning("jobs skipped", metadata: ["count": "\(skipped)"]) }
        let closed = try store.closeFinishedBatches(now: now, runner: runner)
        if !closed.isEmpty {
            let batches = try db.query("""
                SELECT id, batch, state, extract(epoch FROM finished_at - started_at)::float8 AS seconds
                FROM nightshift.batch_runs WHERE id = ANY (\(closed)::bigint[])
                """)
            for row in batches.rows(of: "nightshift.batch_runs") {
                RunnerMetrics.batchClosed(batch: try row.text("batch"), state: try row.text("state"),
                                          seconds: try row.optionalDouble("seconds") ?? 0)
            }
        }
        for id in closed {
            context.logger.notice("batch closed", metadata: ["batch_run": "\(id)"])
            onBatchEnded(id)
        }
        try writeSummaries(store: store, db: db)
    }

    /// Every closed run without a summary gets one, whichever runner closed it. A failure is said
    /// on the batch run (status, run --once) and retried on the next pass; the others go on.
    private func writeSummaries(store: RunnerStore, db: PostgresConnection) throws {
        var failure: Error?
        for id in try store.dueSummaries() {
            do {
                let written = try store.writeSummary(id, now: context.clock.now(), runner: context.identity.id) { id in
                    try SummaryMail(configuration: context.configuration).write(try BatchReport.load(id, db: db))
                }
                if written { context.logger.info("summary written", metadata: ["batch_run": "\(id)"]) }
            } catch let error as PostgresError where error.isTransient {
                throw error
            } catch let error as RowDecodingError {
                context.unreadable.report(error, by: "batch close (summary of batch run \(id))")
            } catch {
                context.logger.error("summary not written", metadata: ["batch_run": "\(id)", "error": "\(error)"])
                failure = failure ?? error
            }
            onBatchEnded(id)
        }
        if let failure { throw failure }
    }
}
