import Foundation
import NightShiftCore
import PostgresClient

/// Deletes what is older than the configured retention (`retention:`), in small transactions:
/// - run history: batch runs that ended and were summarised more than `history_days` ago, with
///   their job runs, state transitions, output records, checkpoints, alerts and resolved review
///   items. The record of a file still kept (`OutputRetention`) stays, unlinked from the run, until
///   the file is removed; its deliveries go with the job run. Never a running batch, one whose summary is not written, or one with a review item
///   still open. The archive catalog keeps its entries (their job run link is cleared);
/// - finished manager requests (the request side of the audit) and alerts older than `history_days`;
/// - sent mail and dead letters, with their transitions, older than `mail_days`.
/// The audit table is append-only and keeps its own rule: nothing here touches it.
/// Times are the runner's clock. Run by the scheduler leader, at most hourly.
struct HistoryPurge {
    let historyDays: Int
    let mailDays: Int
    /// Batch runs per transaction.
    var chunk = 100

    struct Purged: Equatable {
        var batchRuns = 0
        var requests = 0
        var alerts = 0
        var mail = 0
        var isEmpty: Bool { batchRuns == 0 && requests == 0 && alerts == 0 && mail == 0 }
    }

    func runOnce(db: PostgresConnection, now: Date) throws -> Purged {
        var purged = Purged()
        let history = iso8601(now.addingTimeInterval(-Double(historyDays) * 86_400))
        while true {
            let deleted = try db.transaction {
                try db.query("""
                    WITH doomed AS (
                        SELECT b.id FROM nightshift.batch_runs b
                        WHERE b.state <> 'running' AND b.summary_at IS NOT NULL AND b.finished_at < \(history)::timestamptz
                          AND NOT EXISTS (SELECT 1 FROM nightshift.job_runs j JOIN nightshift.review_queue r ON r.job_run_id = j.id
                                          WHERE j.batch_run_id = b.id AND r.state = 'open')
                          AND NOT EXISTS (SELECT 1 FROM nightshift.job_runs j JOIN nightshift.deliveries d ON d.job_run_id = j.id
                                          WHERE j.batch_run_id = b.id AND d.state <> \(DeliveryState.delivered))
                        ORDER BY b.id LIMIT \(chunk)
                        FOR UPDATE SKIP LOCKED
                    ), jobs AS (
                        SELECT j.id FROM nightshift.job_runs j WHERE j.batch_run_id IN (SELECT id FROM doomed)
                    ), unlinked_archives AS (
                        UPDATE nightshift.archive_catalog SET job_run_id = NULL WHERE job_run_id IN (SELECT id FROM jobs) RETURNING 1
                    ), unlinked_overrides AS (
                        UPDATE nightshift.manual_overrides SET applied_to = NULL WHERE applied_to IN (SELECT id FROM jobs) RETURNING 1
                    ), unlinked_requests AS (
                        UPDATE nightshift.requests SET batch_run_id = NULL WHERE batch_run_id IN (SELECT id FROM doomed) RETURNING 1
                    ), unlinked_mail AS (
                        UPDATE nightshift.mail_outbox SET batch_run_id = NULL WHERE batch_run_id IN (SELECT id FROM doomed) RETURNING 1
                    ), alerts AS (
                        DELETE FROM nightshift.alerts WHERE batch_run_id IN (SELECT id FROM doomed) OR job_run_id IN (SELECT id FROM jobs) RETURNING 1
                    ), reviews AS (
                        DELETE FROM nightshift.review_queue WHERE job_run_id IN (SELECT id FROM jobs) RETURNING 1
                    ), outputs AS (
                        DELETE FROM nightshift.outputs
                        WHERE batch_run_id IN (SELECT id FROM doomed) AND (removed_at IS NOT NULL OR kind = 'summary_mail') RETURNING 1
                    ), kept_outputs AS (
                        UPDATE nightshift.outputs SET batch_run_id = NULL, job_run_id = NULL
                        WHERE batch_run_id IN (SELECT id FROM doomed) AND removed_at IS NULL AND kind <> 'summary_mail' RETURNING 1
                    ), transitions AS (
                        DELETE FROM nightshift.state_transitions WHERE batch_run_id IN (SELECT id FROM doomed) RETURNING 1
                    ), checkpoints AS (
                        DELETE FROM nightshift.checkpoints WHERE job_run_id IN (SELECT id FROM jobs) RETURNING 1
                    )
                    SELECT count(*)::int AS n,
                           (SELECT count(*) FROM unlinked_archives) + (SELECT count(*) FROM unlinked_overrides) + (SELECT count(*) FROM unlinked_requests)
                           + (SELECT count(*) FROM unlinked_mail) + (SELECT count(*) FROM alerts) + (SELECT count(*) FROM reviews)
                           + (SELECT count(*) FROM outputs) + (SELECT count(*) FROM kept_outputs) + (SELECT count(*) FROM transitions) + (SELECT count(*) FROM checkpoints) AS dependents
                    FROM doomed
                    """)
                // The rows that pointed at them are gone or unlinked in the statement above (its
                // data-modifying parts all run); now the runs themselves, oldest first.
                return try db.query("""
                    WITH doomed AS (
                        SELECT b.id FROM nightshift.batch_runs b
                        WHERE b.state <> 'running' AND b.summary_at IS NOT NULL AND b.finished_at < \(history)::timestamptz
                          AND NOT EXISTS (SELECT 1 FROM nightshift.state_transitions t WHERE t.batch_run_id = b.id)
                          AND NOT EXISTS (SELECT 1 FROM nightshift.outputs o WHERE o.batch_run_id = b.id)
                          AND NOT EXISTS (SELECT 1 FROM nightshift.job_runs j JOIN nightshift.review_queue r ON r.job_run_id = j.id WHERE j.batch_run_id = b.id)
                        ORDER BY b.id LIMIT \(chunk)
                        FOR UPDATE SKIP LOCKED
                    ), jobs AS (
                        DELETE FROM nightshift.job_runs WHERE batch_run_id IN (SELECT id FROM doomed) RETURNING 1
                    ), runs AS (
                        DELETE FROM nightshift.batch_runs WHERE id IN (SELECT id FROM doomed) AND (SELECT count(*) FROM jobs) >= 0 RETURNING 1
                    )
                    SELECT count(*)::int AS n FROM runs
                    """).int(0, "n") ?? 0
            }
            purged.batchRuns += deleted
            if deleted < chunk { break }
        }
        purged.requests = try db.query("""
            WITH gone AS (
                DELETE FROM nightshift.requests r
                WHERE r.state <> ALL(\(RequestState.open)) AND r.requested_at < \(history)::timestamptz
                  AND NOT EXISTS (SELECT 1 FROM nightshift.batch_runs b WHERE b.request_id = r.id)
                  AND NOT EXISTS (SELECT 1 FROM nightshift.events e WHERE e.request_id = r.id)
                RETURNING 1
            )
            SELECT count(*)::int FROM gone
            """).int(0, 0) ?? 0
        purged.alerts = try db.query("""
            WITH gone AS (DELETE FROM nightshift.alerts WHERE raised_at < \(history)::timestamptz RETURNING 1) SELECT count(*)::int FROM gone
            """).int(0, 0) ?? 0
        purged.mail = try db.query("""
            WITH gone AS (
                DELETE FROM nightshift.mail_outbox m
                WHERE m.state = ANY(\(MailState.ended)) AND m.created_at < \(now.addingTimeInterval(-Double(mailDays) * 86_400))::timestamptz
                  AND NOT EXISTS (SELECT 1 FROM nightshift.alerts a WHERE a.mail_id = m.id)
                RETURNING 1
            )
            SELECT count(*)::int FROM gone
            """).int(0, 0) ?? 0
        return purged
    }
}
