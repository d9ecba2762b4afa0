import Foundation
import NightShiftCore
import PostgresClient

/// The dispatcher's SQL (its statements bind their values; states come from Core's sets): the decision model's view of every runner's work, read under the
/// dispatch lock, and the decision written back — claims, pause requests, wait reasons, late
/// starts and window violations. The decision itself is Core's `DispatchModel`.
extension RunnerStore {
    /// What the decision model needs, read in one transaction.
    public struct DispatchSnapshot: Sendable {
        /// Ready jobs (dependencies done, back-off over, batch window open), with their states.
        public var queued: [QueuedJob] = []
        public var states: [Int: JobState] = [:]
        /// Every running job, on every runner.
        public var running: [ActiveJob] = []
        /// Batch runs with work running or paused, and the most urgent priority of that work.
        public var activeBatches: [Int: Priority] = [:]
        /// Job slots of the live runners (their workers).
        public var capacity = 0
        /// Rows that could not be read: left alone (never started, paused or counted), for the
        /// dispatcher to log once and `status` to show.
        public var unreadable: [RowDecodingError] = []
    }

    /// Reads the snapshot. Call inside the transaction that holds the dispatch lock.
    public func dispatchSnapshot(now: Date, onlyBatchRun: Int?, leaseSeconds: Int) throws -> DispatchSnapshot {
        var snapshot = DispatchSnapshot()
        // Ready = waiting, batch not held, back-off over, batch window open, every dependency done. Dependencies
        // are looked up once for the jobs that have any (a hashed anti-join), not per row.
        let ready = try db.query("""
            WITH waiting AS (
                SELECT j.*, b.batch, b.business_date FROM nightshift.batch_runs b JOIN nightshift.job_runs j ON j.batch_run_id = b.id
                WHERE b.state = \(BatchState.running) AND j.state = ANY(\(JobState.queued)) AND b.waiting_for IS NULL
                  AND (b.deadline IS NULL OR b.deadline > \(now)::timestamptz)
                  AND (j.not_before IS NULL OR j.not_before <= \(now)::timestamptz)
                  AND (\(onlyBatchRun)::bigint IS NULL OR b.id = \(onlyBatchRun)::bigint)
            ), unmet AS (
                SELECT w.id FROM waiting w JOIN nightshift.job_runs d ON d.batch_run_id = w.batch_run_id AND d.job = ANY (w.depends_on)
                WHERE cardinality(w.depends_on) > 0
                  AND NOT (d.state = ANY(\(JobState.successes)) OR (d.state = \(JobState.skipped) AND d.skipped_by_override))
            )
            SELECT w.id, w.job, w.batch_run_id, w.priority, w.state, extract(epoch FROM w.due_at)::float8 AS due,
                   greatest(1, w.expected_seconds - w.run_seconds)::int AS seconds, w.checkpointed, w.locks, w.writes_exports,
                   w.tail_seconds AS tail, w.batch, w.business_date::text AS business_date
            FROM waiting w WHERE w.id NOT IN (SELECT id FROM unmet)
            """)
        var unreadableRows: [RowDecodingError] = []
        let unreadable = { (error: RowDecodingError) in unreadableRows.append(error) }
        // What a claim will need is decoded here, so that a row that cannot be read is never claimed.
        for (job, state) in try ready.decode(of: "nightshift.job_runs", unreadable: unreadable, { row in
            _ = try row.value("batch", as: BatchKind.self)
            _ = try row.localDate("business_date")
            return (try queuedJob(row), try row.value("state", as: JobState.self))
        }) {
            snapshot.queued.append(job)
            snapshot.states[job.id] = state
        }
        let running = try db.query("""
            SELECT j.id, j.job, j.batch_run_id, j.priority, extract(epoch FROM j.due_at)::float8 AS due,
                   greatest(1, j.expected_seconds - j.run_seconds - greatest(0, extract(epoch FROM \(now)::timestamptz - j.attempt_started_at)))::int AS seconds,
                   j.checkpointed, j.locks, j.writes_exports, j.tail_seconds AS tail, extract(epoch FROM j.attempt_started_at)::float8 AS started,
                   j.pause_requested IS NOT NULL AS pausing
            FROM nightshift.job_runs j WHERE j.state = \(JobState.running)
            """)
        snapshot.running = try running.decode(of: "nightshift.job_runs", unreadable: unreadable) { row in
            ActiveJob(job: try queuedJob(row), started: try row.optionalDate("started") ?? Date(timeIntervalSince1970: 0),
                      pausing: try row.optionalBool("pausing") ?? false)
        }
        // Batch runs under way: those with work running or paused (a batch whose jobs all wait takes no place).
        let active = try db.query("""
            SELECT j.batch_run_id, min(j.priority) AS priority FROM nightshift.batch_runs b JOIN nightshift.job_runs j ON j.batch_run_id = b.id
            WHERE b.state = \(BatchState.running) AND j.state = ANY(\([JobState.running, .paused])) GROUP BY j.batch_run_id
            """)
        for (batchRun, priority) in try active.decode(of: "nightshift.job_runs", id: "batch_run_id", unreadable: unreadable, { row in
            (try row.int("batch_run_id"), try row.value("priority", as: Priority.self))
        }) {
            snapshot.activeBatches[batchRun] = priority
        }
        snapshot.unreadable = unreadableRows
        snapshot.capacity = try db.query("""
            SELECT coalesce(sum(workers), 0)::int FROM nightshift.runners
            WHERE state = \(RunnerState.running) AND heartbeat_at > clock_timestamp() - make_interval(secs => \(leaseSeconds))
            """).int(0, 0) ?? 0
        return snapshot
    }

    private func queuedJob(_ row: Row) throws -> QueuedJob {
        QueuedJob(id: try row.int("id"), name: try row.text("job"), batchRun: try row.int("batch_run_id"),
                  priority: try row.value("priority", as: Priority.self),
                  due: try row.optionalDate("due") ?? Date(timeIntervalSince1970: 0), seconds: try row.optionalInt("seconds") ?? 1,
                  checkpointed: try row.optionalBool("checkpointed") ?? false, locks: parseTextArray(try row.optionalText("locks") ?? "{}"),
                  writesExports: try row.optionalBool("writes_exports") ?? false, tail: try row.optionalInt("tail") ?? 0)
    }

    /// Writes what the decision says besides starts: pause requests (the lease holder pauses at
    /// its next checkpoint), why ready jobs wait, window violations (on the batch run, once).
    public func record(_ decision: DispatchDecision) throws {
        for pause in decision.pauses {
            try db.query("""
                UPDATE nightshift.job_runs SET pause_requested = \(pause.reason), pause_cause = \(pause.cause.rawValue)
                WHERE id = \(pause.job.job.id) AND state = \(JobState.running) AND pause_requested IS NULL
                """)
        }
        for violation in decision.violations {
            try addWarning(batchRunID: violation.job.job.batchRun, "\(violation.job.job.name) \(violation.reason)")
        }
        if !decision.waits.isEmpty {
            let until: [Date?] = decision.waits.map { wait in
                switch wait.obstacle {
                case let .window(until?), let .neverWindowAhead(until): until
                default: nil
                }
            }
            try db.query("""
                UPDATE nightshift.job_runs j SET wait_reason = w.reason, wait_until = w.until
                FROM unnest(\(decision.waits.map(\.job.id))::bigint[], \(decision.waits.map(\.reason))::text[], \(until)::timestamptz[])
                    AS w(id, reason, until)
                WHERE j.id = w.id AND (j.wait_reason IS DISTINCT FROM w.reason OR j.wait_until IS DISTINCT FROM w.until)
                """)
        }
    }

    /// A job run this runner claimed: everything a worker needs to run it.
    public struct ClaimedJob: Sendable {
        public let jobRunID: Int
        public let batchRunID: Int
        public let batch: BatchKind
        public let job: String
        public let businessDate: LocalDate
        public let attempt: Int
        public let failures: Int
        public let retries: Int
        /// When this attempt must stop: the job's timeout or the batch window, whichever is first.
        public let deadline: Date?
        public let deadlineReason: String?
        /// The runner that claimed it.
        public let owner: String

        public var lease: Lease { Lease(jobRunID: jobRunID, owner: owner, attempt: attempt) }
    }

    /// Claims the job runs the decision model chose to start, for `owner`, under a lease. A job
    /// whose state changed since the snapshot (skipped by the rescuer) is left out.
    public func claim(_ starts: [QueuedJob], lateBy: [Int: Int], from states: [Int: JobState], owner: String, now: Date,
                      leaseSeconds: Int) throws -> [ClaimedJob] {
        var claimed: [ClaimedJob] = []
        for job in starts {
            let row = try db.query("""
                UPDATE nightshift.job_runs j SET state = \(JobState.running), lease_owner = \(owner),
                    lease_expires_at = clock_timestamp() + make_interval(secs => \(leaseSeconds)),
                    attempts = j.attempts + 1, started_at = coalesce(j.started_at, \(now)::timestamptz), attempt_started_at = \(now)::timestamptz,
                    not_before = NULL, progress_rows = NULL, progress_at = NULL, attempt_started_real = clock_timestamp(),
                    wait_reason = NULL, wait_until = NULL, pause_requested = NULL, pause_cause = NULL,
                    late_start_seconds = coalesce(j.late_start_seconds, \(lateBy[job.id])::int)
                FROM nightshift.batch_runs b
                WHERE j.id = \(job.id) AND b.id = j.batch_run_id AND j.state = ANY(\(JobState.movable(to: .running)))
                  AND b.state = \(BatchState.running)
                RETURNING j.id, j.job, j.attempts, j.failures, j.retries, j.timeout_seconds, j.pauses, b.batch,
                          b.business_date::text AS business_date, extract(epoch FROM b.deadline)::float8 AS deadline
                """)
            guard row.rowCount == 1 else { continue }
            let claim = row.row(0, of: "nightshift.job_runs", id: "id")
            let attempt = try claim.int("attempts")
            let from = states[job.id] ?? .pending
            let reason = from == .paused ? "resumed from its checkpoint by \(owner)"
                : attempt == 1 ? "claimed by \(owner)" : "attempt \(attempt), claimed by \(owner)"
            try Transitions(db: db).job(job.id, batchRunID: job.batchRun, from: from, to: .running, reason: reason, at: now, runner: owner)
            if let late = lateBy[job.id] {
                try addWarning(batchRunID: job.batchRun,
                               "\(job.name) (\(job.priority)) started \(late / 60) min after its start deadline")
            }
            let batchDeadline = try claim.optionalDate("deadline")
            let timeout = try claim.optionalInt("timeout_seconds")
            let jobDeadline = timeout.map { now.addingTimeInterval(TimeInterval($0)) }
            let deadline: Date?
            let deadlineReason: String?
            if let jobDeadline, batchDeadline.map({ jobDeadline < $0 }) ?? true {
                deadline = jobDeadline
                deadlineReason = "job timeout of \((timeout ?? 0) / 60) min"
            } else {
                deadline = batchDeadline
                deadlineReason = batchDeadline.map { "batch window ended at \($0.iso8601(in: zone))" }
            }
            claimed.append(ClaimedJob(jobRunID: job.id, batchRunID: job.batchRun, batch: try claim.value("batch", as: BatchKind.self),
                                      job: try claim.text("job"), businessDate: try claim.localDate("business_date"),
                                      attempt: attempt, failures: try claim.int("failures"), retries: try claim.int("retries"),
                                      deadline: deadline, deadlineReason: deadlineReason, owner: owner))
        }
        return claimed
    }
}
