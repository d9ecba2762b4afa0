import Foundation
import NightShiftCore
import PostgresClient

/// One attempt's claim on a job run: the runner and the attempt number. Every write of the
/// attempt's progress names all three (`fence`), so neither another runner nor an older attempt of
/// this runner (still retrying its bookkeeping after an outage) can write over the current one.
public struct Lease: Sendable, Hashable {
    public let jobRunID: Int
    public let owner: String
    public let attempt: Int
    public var key: LeaseKey { LeaseKey(jobRunID: jobRunID, attempt: attempt) }

    /// The predicate every fenced statement on `nightshift.job_runs` carries: this attempt of
    /// this runner holds the job, which is running. (`alias`: the table's alias in the statement.)
    func fence(_ alias: SQLIdentifier? = nil) -> SQL {
        let p = alias.map { SQL(unsafeSQL: $0.quoted + ".") } ?? ""
        return "\(p)id = \(jobRunID) AND \(p)lease_owner = \(owner) AND \(p)attempts = \(attempt) AND \(p)state = \(JobState.running)"
    }

    /// The fence as one UPDATE that renews the lease and records progress (`rows`, an SQL
    /// expression; NULL keeps the recorded progress), for a statement that does more in the same
    /// round trip; `from` may name a FROM item `rows` uses. It returns `pause_requested`: hand the
    /// row count and that to `JobContext.fenced`.
    func renewal(seconds: Int, rows: SQL, from: SQL? = nil) -> SQL {
        """
        UPDATE nightshift.job_runs SET lease_expires_at = clock_timestamp() + make_interval(secs => \(seconds)),
            progress_rows = coalesce(\(rows), progress_rows), progress_at = clock_timestamp()
        \(from.map { "FROM \($0)" as SQL } ?? "")
        WHERE \(fence())
        RETURNING pause_requested
        """
    }
}

/// A job run's attempt, as this runner tracks its running jobs.
public struct LeaseKey: Sendable, Hashable {
    public let jobRunID: Int
    public let attempt: Int
}

/// The lease of a job run is no longer this attempt's: another runner (or a later attempt) took
/// the job over, or it was closed. Nothing was written; the attempt stops here.
public struct LeaseLost: Error, CustomStringConvertible, Sendable {
    public let lease: Lease
    public var description: String {
        "attempt \(lease.attempt) of job run \(lease.jobRunID) no longer holds the lease of \(lease.owner) (it expired and the job was taken over); nothing was written"
    }
}

/// Leases: renewed by the heartbeat, rescued when they expire, and the fence around every write
/// of a job's end.
extension RunnerStore {
    /// Renews the leases `owner` holds (each a job run and its attempt); returns those it still
    /// holds, each with the pause a dispatcher asked for (nil: none).
    public func renewLeases(owner: String, leases: [LeaseKey], leaseSeconds: Int, progress: [LeaseKey: Int]) throws -> [LeaseKey: String?] {
        guard !leases.isEmpty else { return [:] }
        let result = try db.query("""
            UPDATE nightshift.job_runs j SET lease_expires_at = clock_timestamp() + make_interval(secs => \(leaseSeconds)),
                progress_rows = coalesce(p.rows, j.progress_rows),
                progress_at = CASE WHEN p.rows IS NOT NULL THEN clock_timestamp() ELSE j.progress_at END
            FROM unnest(\(leases.map(\.jobRunID))::bigint[], \(leases.map(\.attempt))::int[], \(leases.map { progress[$0] })::bigint[])
                AS p(id, attempt, rows)
            WHERE j.id = p.id AND j.attempts = p.attempt AND j.lease_owner = \(owner) AND j.state = \(JobState.running)
            RETURNING j.id, j.attempts, j.pause_requested
            """)
        var held: [LeaseKey: String?] = [:]
        for row in result.rows(of: "nightshift.job_runs") {
            held[LeaseKey(jobRunID: try row.int("id"), attempt: try row.int("attempts"))] = .some(try row.optionalText("pause_requested"))
        }
        return held
    }

    /// A job whose lease expired goes back to the queue (resuming from its checkpoint), or fails
    /// when its runner died more often than its retries allow. Never by elapsed time alone: only
    /// an expired lease, judged by the database's clock, which every runner shares.
    public struct Rescued: Sendable {
        public let jobRunID: Int
        public let job: String
        public let formerOwner: String
        public let state: JobState
    }

    /// Rescues every expired lease no other runner is rescuing (SKIP LOCKED); whether retries
    /// remain is Core's `RetryDecision` (a lost runner counts as a transient failure).
    public func rescueExpiredLeases(now: Date, runner: String) throws -> [Rescued] {
        // Nearly always nothing has expired: one round trip says so (the pass runs after every job end).
        let any = try db.query("""
            SELECT 1 FROM nightshift.job_runs WHERE state = \(JobState.running) AND lease_expires_at < clock_timestamp() LIMIT 1
            """)
        guard any.rowCount > 0 else { return [] }
        return try db.transaction {
            let expired = try db.query("""
                SELECT id, batch_run_id, job, failures, retries, lease_owner FROM nightshift.job_runs
                WHERE state = \(JobState.running) AND lease_expires_at < clock_timestamp()
                ORDER BY id FOR UPDATE SKIP LOCKED
                """)
            return try expired.decode(of: "nightshift.job_runs") { row in
                let id = try row.int("id"), failures = try row.int("failures") + 1
                let owner = try row.optionalText("lease_owner") ?? "?"
                let state: JobState, reason: String
                var message: String?
                switch RetryDecision.after(.transient, attempt: failures, retries: try row.int("retries")) {
                case .retry:
                    state = .pending
                    reason = "lease of \(owner) expired: back to the queue, resumes from its checkpoint"
                case .giveUp:
                    state = .failed
                    reason = "lease of \(owner) expired: retries exhausted"
                    message = "its runner \(owner) stopped renewing the lease \(failures) times"
                }
                try db.query("""
                    UPDATE nightshift.job_runs SET state = \(state), failures = \(failures), lease_owner = NULL, lease_expires_at = NULL,
                        finished_at = CASE WHEN \(state.isFinal) THEN \(now)::timestamptz END,
                        error_class = CASE WHEN \(state.isFinal) THEN \(FailureClass.transient) ELSE error_class END,
                        error_message = coalesce(\(message), error_message)
                    WHERE id = \(id)
                    """)
                try Transitions(db: db).job(id, batchRunID: try row.int("batch_run_id"), from: .running, to: state, reason: reason,
                                            at: now, runner: runner)
                return Rescued(jobRunID: id, job: try row.text("job"), formerOwner: owner, state: state)
            }
        }
    }

    /// Runs `body` in a transaction that holds the job's row lock, and only while `owner` holds
    /// its lease: a rescuer cannot take the job in the middle, and a runner that lost the lease
    /// writes nothing (`LeaseLost`).
    public func whileLeased<T>(_ lease: Lease, _ body: () throws -> T) throws -> T {
        try db.transaction {
            let held = try db.query("SELECT 1 FROM nightshift.job_runs WHERE \(lease.fence()) FOR UPDATE")
            guard held.rowCount == 1 else { throw LeaseLost(lease: lease) }
            return try body()
        }
    }

    /// Fields written together with a job's new state.
    public struct JobUpdate {
        public var rows: Int?
        public var failure: JobFailure?
        public var note: String?
        public var notBefore: Date?
        public var countFailure = false
        public init(rows: Int? = nil, failure: JobFailure? = nil, note: String? = nil, notBefore: Date? = nil, countFailure: Bool = false) {
            self.rows = rows
            self.failure = failure
            self.note = note
            self.notBefore = notBefore
            self.countFailure = countFailure
        }
    }

    /// Moves a job that `owner` runs out of `running` (to succeeded, failed, timed_out, retrying,
    /// paused or back to pending) and gives up the lease. Call inside `whileLeased` or on its own
    /// (then it is its own fenced transaction).
    public func leaveRunning(_ lease: Lease, batchRunID: Int, to: JobState, reason: String, now: Date,
                             update: JobUpdate = JobUpdate()) throws {
        let body = {
            try Transitions.check(job: .running, to: to)
            let result = try self.db.query("""
                UPDATE nightshift.job_runs SET
                    state = \(to), lease_owner = NULL, lease_expires_at = NULL,
                    finished_at = CASE WHEN \(to.isFinal) THEN \(now)::timestamptz END,
                    rows_processed = coalesce(\(update.rows)::bigint, rows_processed),
                    error_class = coalesce(\(update.failure?.failureClass), error_class),
                    error_sqlstate = coalesce(\(update.failure?.sqlState), error_sqlstate),
                    error_message = coalesce(\(update.failure?.message), error_message),
                    note = CASE WHEN \(update.note)::text IS NULL THEN note WHEN note IS NULL THEN \(update.note) ELSE \(update.note) || '; ' || note END,
                    not_before = \(update.notBefore)::timestamptz,
                    failures = failures + \(update.countFailure ? 1 : 0),
                    run_seconds = run_seconds + greatest(0, extract(epoch FROM \(now)::timestamptz - attempt_started_at)),
                    pauses = pauses + \(to == .paused ? 1 : 0),
                    pause_requested = NULL, pause_cause = NULL
                WHERE \(lease.fence())
                """)
            guard result.affectedRows == 1 else { throw LeaseLost(lease: lease) }
            try Transitions(db: self.db).job(lease.jobRunID, batchRunID: batchRunID, from: .running, to: to, reason: reason,
                                             at: now, runner: lease.owner)
        }
        if db.inTransaction { try body() } else { try db.transaction(body) }
    }
}
