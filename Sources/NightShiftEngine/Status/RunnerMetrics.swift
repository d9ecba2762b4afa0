import Foundation
import Metrics
import NightShiftCore
import PostgresClient

/// The runner's metrics, through swift-metrics: `nightshift run` bootstraps Prometheus as the
/// backend (served on `metrics.listen`, or written to `metrics.textfile` by `run --once`); without
/// a backend these calls do nothing. Counters and histograms count what this process did; the
/// gauges are sampled from the database (`sample`), so every runner shows the same queue.
public enum RunnerMetrics {
    /// An attempt ended: its state (succeeded, succeeded_with_rejects, failed, timed_out,
    /// retrying, paused, pending when released), duration, rows and rejected records.
    static func attemptEnded(job: String, priority: Priority?, state: JobState, seconds: Double, rows: Int, rejects: Int) {
        Counter(label: "nightshift_job_attempts_total",
                dimensions: [("job", job), ("priority", priority?.description ?? "unknown"), ("state", state.rawValue)]).increment()
        Metrics.Timer(label: "nightshift_job_attempt_duration_seconds", dimensions: [("job", job), ("state", state.rawValue)])
            .recordNanoseconds(Int64(max(0, seconds) * 1e9))
        if rows > 0 { Counter(label: "nightshift_rows_processed_total", dimensions: [("job", job)]).increment(by: Int64(rows)) }
        if rejects > 0 { Counter(label: "nightshift_rejected_records_total", dimensions: [("job", job)]).increment(by: Int64(rejects)) }
    }

    /// A batch run was closed by this runner.
    static func batchClosed(batch: String, state: String, seconds: Double) {
        Counter(label: "nightshift_batch_runs_total", dimensions: [("batch", batch), ("state", state)]).increment()
        Metrics.Timer(label: "nightshift_batch_duration_seconds", dimensions: [("batch", batch)]).recordNanoseconds(Int64(max(0, seconds) * 1e9))
    }

    /// Leases found lost: by this runner's own jobs (it could not record their end), or expired
    /// leases of other runners this runner rescued.
    static func leasesLost(_ count: Int, rescued: Bool = false) {
        guard count > 0 else { return }
        Counter(label: "nightshift_lease_losses_total", dimensions: [("seen_by", rescued ? "rescuer" : "owner")]).increment(by: Int64(count))
    }

    static func alertRaised(kind: String) {
        Counter(label: "nightshift_alerts_total", dimensions: [("kind", kind)]).increment()
    }

    /// Sets the gauges from the database: the queue by priority, running and paused jobs, the
    /// outbox by state, deliveries by target and state, and the oldest checkpoint of a
    /// running checkpointed job (a calculation that stopped committing shows here).
    public static func sample(db: PostgresConnection) throws {
        let jobs = try db.query("""
            SELECT j.priority, j.state, count(*)::int AS n FROM nightshift.job_runs j JOIN nightshift.batch_runs b ON b.id = j.batch_run_id
            WHERE b.state = 'running' AND j.state = ANY(\(JobState.open)) GROUP BY 1, 2
            """)
        var queued: [Int: Int] = [:]
        var paused = 0, running = 0
        for row in 0..<jobs.rowCount {
            let n = jobs.int(row, "n") ?? 0
            switch jobs.string(row, "state") {
            case "running": running += n
            case "paused": paused += n
            default: queued[jobs.int(row, "priority") ?? 4, default: 0] += n
            }
        }
        for priority in Priority.allCases {
            Gauge(label: "nightshift_queue_depth", dimensions: [("priority", priority.description)]).record(queued[priority.rawValue] ?? 0)
        }
        Gauge(label: "nightshift_jobs_paused").record(paused)
        Gauge(label: "nightshift_jobs_running").record(running)
        let outbox = try db.query("""
            SELECT s.state, count(m.id)::int AS n FROM unnest(\(MailState.allCases.map(\.rawValue))::text[]) AS s(state)
            LEFT JOIN nightshift.mail_outbox m ON m.state = s.state GROUP BY 1
            """)
        for (state, count) in try outbox.decode(of: "nightshift.mail_outbox", id: "state", { row in (try row.text("state"), try row.optionalInt("n") ?? 0) }) {
            Gauge(label: "nightshift_outbox_messages", dimensions: [("state", state)]).record(count)
        }
        let deliveries = try db.query("""
            SELECT t.target, s.state, count(d.id)::int AS n
            FROM (SELECT DISTINCT target FROM nightshift.deliveries) t CROSS JOIN unnest(\(DeliveryState.allCases.map(\.rawValue))::text[]) AS s(state)
            LEFT JOIN nightshift.deliveries d ON d.target = t.target AND d.state = s.state GROUP BY 1, 2
            """)
        for (target, state, count) in try deliveries.decode(of: "nightshift.deliveries", id: "target", { row in
            (try row.text("target"), try row.text("state"), try row.optionalInt("n") ?? 0)
        }) {
            Gauge(label: "nightshift_deliveries", dimensions: [("target", target), ("state", state)]).record(count)
        }
        // Checkpoints are stamped with the database's clock (real time, whatever the runner's clock).
        let ages = try db.query("""
            SELECT coalesce(max(extract(epoch FROM clock_timestamp() - c.updated_at)), 0)::float8 AS checkpoint
            FROM nightshift.job_runs j
            JOIN nightshift.batch_runs b ON b.id = j.batch_run_id
            LEFT JOIN nightshift.checkpoints c ON c.job = j.job AND c.business_date = b.business_date
            WHERE j.state = 'running' AND j.checkpointed
            """)
        Gauge(label: "nightshift_checkpoint_age_seconds").record(max(0, ages.double(0, "checkpoint") ?? 0))
    }
}
