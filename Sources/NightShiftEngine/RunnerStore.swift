import Foundation
import NightShiftCore
import NightShiftMail
import PostgresClient

/// The runner's own tables (`nightshift.*`): occurrences, job runs, leases, runners. Every batch
/// and job state change goes through here and is recorded in `state_transitions` in the same
/// transaction as the new state.
///
/// Every write of a job that a runner is running is fenced by its lease: the UPDATE names the
/// owner and the `running` state, and finding no row means the lease is gone (`LeaseLost`) — the
/// write is rolled back and the job belongs to someone else.
public final class RunnerStore {
    let db: PostgresConnection
    /// The zone times are shown in, in reasons written to the database.
    let zone: TimeZone

    public init(db: PostgresConnection, zone: TimeZone = TimeZone(identifier: "Asia/Taipei")!) {
        self.db = db
        self.zone = zone
    }

    // MARK: runners

    /// Registers the runner unless its connections would take the live runners' total past
    /// `totalConnections` (serialised by an advisory lock). Returns nil when registered, else the
    /// connections the live runners hold now.
    public func registerRunner(_ identity: RunnerIdentity, clock: RunnerClock, workers: Int, mode: String, connections: Int,
                               totalConnections: Int, liveWithinSeconds: Int) throws -> Int? {
        try db.transaction {
            try db.execute("SELECT pg_advisory_xact_lock(hashtext('nightshift.connections'))")
            let inUse = try db.execute("""
                SELECT coalesce(sum(connections), 0)::int FROM nightshift.runners
                WHERE id <> $1 AND state <> 'stopped' AND heartbeat_at > clock_timestamp() - make_interval(secs => $2::int)
                """, [identity.id, String(liveWithinSeconds)]).int(0, 0) ?? 0
            guard inUse + connections <= totalConnections else { return inUse }
            try db.execute("""
                INSERT INTO nightshift.runners (id, host, pid, clock_start, clock_speed, clock_now, state, workers, mode, connections)
                VALUES ($1, $2, $3, $4, $5, $6, 'running', $7, $8, $9)
                ON CONFLICT (id) DO UPDATE SET heartbeat_at = clock_timestamp(), state = 'running'
                """, [identity.id, identity.host, String(identity.pid), iso8601(clock.start), String(clock.speed),
                      iso8601(clock.now()), String(workers), mode, String(connections)])
            return nil
        }
    }

    /// The runner's heartbeat. `is_leader` is not written here: the scheduler, which holds the
    /// leader lock, is its only writer.
    public func beatRunner(_ id: String, clockNow: Date, stopping: Bool) throws {
        try db.execute("""
            UPDATE nightshift.runners SET heartbeat_at = clock_timestamp(), clock_now = $2,
                state = CASE WHEN $3 THEN 'stopping' ELSE state END
            WHERE id = $1
            """, [id, iso8601(clockNow), stopping ? "true" : "false"])
    }

    public func stopRunner(_ id: String) throws {
        try db.execute("""
            UPDATE nightshift.runners SET state = 'stopped', stopped_at = clock_timestamp(), is_leader = false WHERE id = $1
            """, [id])
    }

    // MARK: occurrences

    /// One batch run to create: the occurrence of `batch` at `scheduledFor`, with its jobs.
    public struct NewBatchRun {
        public var batch: BatchKind
        public var scheduledFor: Date
        public var deadline: Date
        public var businessDate: LocalDate
        public var trigger: String
        public var jobs: [JobDefinition]
        /// Jobs an operator's override skips, with the override's summary.
        public var skipped: [String: String]
        public var warnings: [String]
        /// Expected seconds per job (mean of recent runs, else the estimate): the decision model's duration.
        public var expectedSeconds: [String: Int] = [:]
        /// The request this run was made for (`nightshift.requests`), if any.
        public var requestID: Int?
        /// Held until a condition is met (the month-end close), in words. Its window (`deadline`)
        /// then counts from the release.
        public var waitingFor: String?
    }

    public enum Creation: Equatable {
        /// A new batch run was created.
        case created(Int)
        /// The occurrence exists already: its latest run.
        case exists(id: Int, state: BatchState, runNumber: Int)
    }

    /// Creates run 1 of the occurrence unless it exists (the unique key on batch, instant and run
    /// number decides, whatever the number of runners trying at once). With `rerun`, a finished
    /// occurrence gets a new run (2, 3, …); a running one never does.
    public func createBatchRun(_ new: NewBatchRun, now: Date, runner: String, rerun: Bool = false) throws -> Creation {
        try db.transaction {
            let latest = try db.execute("""
                SELECT id, state, run_number FROM nightshift.batch_runs WHERE batch = $1 AND scheduled_for = $2
                ORDER BY run_number DESC LIMIT 1 FOR UPDATE
                """, [new.batch.rawValue, iso8601(new.scheduledFor)])
            var runNumber = 1
            if latest.rowCount == 1 {
                let row = latest.row(0, of: "nightshift.batch_runs")
                let state = try row.value("state", as: BatchState.self)
                let existing = Creation.exists(id: try row.int("id"), state: state, runNumber: try row.int("run_number"))
                guard rerun, state != .running else { return existing }
                runNumber = try row.int("run_number") + 1
            }
            let inserted = try db.execute("""
                INSERT INTO nightshift.batch_runs (batch, business_date, scheduled_for, trigger, state, started_at, run_number,
                                                   deadline, warnings, request_id, waiting_for)
                VALUES ($1, $2, $3, $4, 'running', $5, $6, $7, $8::text[], $9::bigint, $10)
                ON CONFLICT (batch, scheduled_for, run_number) DO NOTHING RETURNING id
                """, [new.batch.rawValue, new.businessDate.description, iso8601(new.scheduledFor), new.trigger, iso8601(now),
                      String(runNumber), new.waitingFor == nil ? iso8601(new.deadline) : nil, pgArray(new.warnings),
                      new.requestID.map(String.init), new.waitingFor])
            guard let id = try inserted.rowCount == 1 ? inserted.row(0, of: "nightshift.batch_runs").int("id") : nil else {
                // Another runner created it between our look and our insert.
                let other = try db.execute("""
                    SELECT id, state, run_number FROM nightshift.batch_runs WHERE batch = $1 AND scheduled_for = $2 AND run_number = $3
                    """, [new.batch.rawValue, iso8601(new.scheduledFor), String(runNumber)])
                let row = other.row(0, of: "nightshift.batch_runs")
                return .exists(id: try row.int("id"), state: try row.value("state", as: BatchState.self), runNumber: runNumber)
            }
            try transition(batchRunID: id, jobRunID: nil, from: nil, to: BatchState.running.rawValue,
                           reason: "\(new.trigger): \(runNumber == 1 ? "occurrence created" : "run \(runNumber) of the occurrence")",
                           at: now, runner: runner)
            for job in new.jobs {
                let skip = new.skipped[job.name]
                let row = try db.execute("""
                    INSERT INTO nightshift.job_runs (batch_run_id, job, kind, priority, state, depends_on, retries, timeout_seconds,
                                                     skipped_by_override, skip_reason, finished_at, locks, checkpointed, writes_exports,
                                                     expected_seconds, due_at, wait_reason)
                    VALUES ($1, $2, $3, $4, $5, $6::text[], $7, $8, $9, $10, CASE WHEN $9 THEN $11::timestamptz END,
                            $12::text[], $13, $14, $15, $16, $17)
                    RETURNING id
                    """, [String(id), job.name, job.kind.rawValue, String(job.priority.rawValue), skip == nil ? "pending" : "skipped",
                          pgArray(job.dependsOn), String(job.retries), job.timeoutSeconds.map(String.init),
                          skip == nil ? "false" : "true", skip, iso8601(now), pgArray(job.locks),
                          String(job.kind.pausesAtCheckpoints), String(job.kind.writesExports),
                          String(new.expectedSeconds[job.name] ?? job.estimateSeconds), iso8601(new.scheduledFor),
                          new.waitingFor.map { "the batch waits for \($0)" }])
                let jobRunID = try row.scalarInt(of: "nightshift.job_runs")
                try transition(batchRunID: id, jobRunID: jobRunID, from: nil, to: JobState.pending.rawValue, reason: "planned",
                               at: now, runner: runner)
                if let skip {
                    try transition(batchRunID: id, jobRunID: jobRunID, from: JobState.pending.rawValue, to: JobState.skipped.rawValue,
                                   reason: skip, at: now, runner: runner)
                }
            }
            return .created(id)
        }
    }

    // MARK: dispatching

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

    /// Skips the waiting jobs that can no longer run: a dependency failed, timed out or was
    /// skipped (not by an override), or their batch's window ended before they started.
    /// Repeats until nothing changes, so a skip travels down a chain. Returns how many it skipped.
    @discardableResult
    public func skipBlockedJobs(now: Date, runner: String) throws -> Int {
        var total = 0
        while true {
            // Driven from the few jobs that block (failed, timed out, skipped) and the batches
            // past their window, not by probing every waiting job.
            let result = try db.execute("""
                WITH by_dependency AS (
                    SELECT DISTINCT ON (j.id) j.id, 'dependency ' || d.job || ' ' || d.state AS reason
                    FROM nightshift.batch_runs b
                    JOIN nightshift.job_runs d ON d.batch_run_id = b.id
                        AND (d.state IN ('failed', 'timed_out') OR (d.state = 'skipped' AND NOT d.skipped_by_override))
                    JOIN nightshift.job_runs j ON j.batch_run_id = b.id AND d.job = ANY (j.depends_on) AND j.state IN ('pending', 'retrying', 'paused')
                    WHERE b.state = 'running'
                    ORDER BY j.id, d.job
                ), by_window AS (
                    SELECT j.id, 'batch window ended at ' || to_char(b.deadline AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI')
                           || CASE WHEN j.state = 'paused' THEN ' before it could resume' ELSE ' before it could start' END AS reason
                    FROM nightshift.batch_runs b JOIN nightshift.job_runs j ON j.batch_run_id = b.id AND j.state IN ('pending', 'retrying', 'paused')
                    WHERE b.state = 'running' AND b.deadline <= $1::timestamptz
                ), blocked AS (
                    SELECT j.id, j.batch_run_id, j.state AS from_state, coalesce(dep.reason, win.reason) AS reason
                    FROM nightshift.job_runs j
                    LEFT JOIN by_dependency dep ON dep.id = j.id LEFT JOIN by_window win ON win.id = j.id
                    WHERE j.id IN (SELECT id FROM by_dependency UNION SELECT id FROM by_window) AND j.state IN ('pending', 'retrying', 'paused')
                    FOR UPDATE OF j SKIP LOCKED
                ), moved AS (
                    UPDATE nightshift.job_runs j SET state = 'skipped', skip_reason = blocked.reason, finished_at = $1::timestamptz,
                        not_before = NULL
                    FROM blocked WHERE j.id = blocked.id
                    RETURNING j.id, j.batch_run_id, blocked.from_state, blocked.reason
                )
                INSERT INTO nightshift.state_transitions (batch_run_id, job_run_id, from_state, to_state, reason, at, runner)
                SELECT batch_run_id, id, from_state, 'skipped', reason, $1::timestamptz, $2 FROM moved
                """, [iso8601(now), runner, zone.identifier])
            let n = result.affectedRows
            total += n
            if n == 0 { return total }
        }
    }

    // MARK: leases

    /// Renews the leases `owner` holds (each a job run and its attempt); returns those it still
    /// holds, each with the pause a dispatcher asked for (nil: none).
    public func renewLeases(owner: String, leases: [LeaseKey], leaseSeconds: Int, progress: [LeaseKey: Int]) throws -> [LeaseKey: String?] {
        guard !leases.isEmpty else { return [:] }
        let result = try db.execute("""
            UPDATE nightshift.job_runs j SET lease_expires_at = clock_timestamp() + make_interval(secs => $4::int),
                progress_rows = coalesce(nullif(p.rows, '')::bigint, j.progress_rows),
                progress_at = CASE WHEN p.rows <> '' THEN clock_timestamp() ELSE j.progress_at END
            FROM unnest($2::bigint[], $3::int[], $5::text[]) AS p(id, attempt, rows)
            WHERE j.id = p.id AND j.attempts = p.attempt AND j.lease_owner = $1 AND j.state = 'running'
            RETURNING j.id, j.attempts, j.pause_requested
            """, [owner, pgArray(leases.map { String($0.jobRunID) }), pgArray(leases.map { String($0.attempt) }), String(leaseSeconds),
                  pgArray(leases.map { progress[$0].map(String.init) ?? "" })])
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

    public func rescueExpiredLeases(now: Date, runner: String) throws -> [Rescued] {
        let result = try db.execute("""
            WITH expired AS (
                SELECT id, lease_owner FROM nightshift.job_runs
                WHERE state = 'running' AND lease_expires_at < clock_timestamp()
                FOR UPDATE SKIP LOCKED
            ), moved AS (
                UPDATE nightshift.job_runs j SET
                    state = CASE WHEN j.failures + 1 > j.retries THEN 'failed' ELSE 'pending' END,
                    failures = j.failures + 1, lease_owner = NULL, lease_expires_at = NULL,
                    finished_at = CASE WHEN j.failures + 1 > j.retries THEN $1::timestamptz END,
                    error_class = CASE WHEN j.failures + 1 > j.retries THEN 'transient' ELSE j.error_class END,
                    error_message = CASE WHEN j.failures + 1 > j.retries
                        THEN 'its runner ' || expired.lease_owner || ' stopped renewing the lease ' || (j.failures + 1) || ' times'
                        ELSE j.error_message END
                FROM expired WHERE j.id = expired.id
                RETURNING j.id, j.batch_run_id, j.job, j.state, expired.lease_owner
            ), recorded AS (
                INSERT INTO nightshift.state_transitions (batch_run_id, job_run_id, from_state, to_state, reason, at, runner)
                SELECT batch_run_id, id, 'running', state,
                       'lease of ' || lease_owner || ' expired: ' ||
                       CASE WHEN state = 'pending' THEN 'back to the queue, resumes from its checkpoint' ELSE 'retries exhausted' END,
                       $1::timestamptz, $2
                FROM moved
            )
            SELECT id, job, state, lease_owner FROM moved
            """, [iso8601(now), runner])
        return try result.decode(of: "nightshift.job_runs") { row in
            Rescued(jobRunID: try row.int("id"), job: try row.text("job"), formerOwner: try row.optionalText("lease_owner") ?? "?",
                    state: try row.value("state", as: JobState.self))
        }
    }

    // MARK: fenced job writes

    /// Runs `body` in a transaction that holds the job's row lock, and only while `owner` holds
    /// its lease: a rescuer cannot take the job in the middle, and a runner that lost the lease
    /// writes nothing (`LeaseLost`).
    public func whileLeased<T>(_ lease: Lease, _ body: () throws -> T) throws -> T {
        try db.transaction {
            let held = try db.execute("""
                SELECT 1 FROM nightshift.job_runs WHERE id = $1 AND lease_owner = $2 AND attempts = $3 AND state = 'running' FOR UPDATE
                """, [String(lease.jobRunID), lease.owner, String(lease.attempt)])
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

    /// Moves a job that `owner` runs out of `running` (to succeeded, failed, timed_out, retrying
    /// or back to pending) and gives up the lease. Call inside `whileLeased` or on its own
    /// (then it is its own fenced transaction).
    public func leaveRunning(_ lease: Lease, batchRunID: Int, to: JobState, reason: String, now: Date,
                             update: JobUpdate = JobUpdate()) throws {
        precondition(JobState.running.canMove(to: to), "illegal job transition running → \(to)")
        let body = {
            let result = try self.db.execute("""
                UPDATE nightshift.job_runs SET
                    state = $3, lease_owner = NULL, lease_expires_at = NULL,
                    finished_at = CASE WHEN $3 IN ('succeeded', 'succeeded_with_rejects', 'failed', 'timed_out') THEN $4::timestamptz END,
                    rows_processed = coalesce($5::bigint, rows_processed),
                    error_class = coalesce($6, error_class),
                    error_sqlstate = coalesce($7, error_sqlstate),
                    error_message = coalesce($8, error_message),
                    note = CASE WHEN $9::text IS NULL THEN note WHEN note IS NULL THEN $9 ELSE $9 || '; ' || note END,
                    not_before = $10::timestamptz,
                    failures = failures + CASE WHEN $11 THEN 1 ELSE 0 END,
                    run_seconds = run_seconds + greatest(0, extract(epoch FROM $4::timestamptz - attempt_started_at)),
                    pauses = pauses + CASE WHEN $3 = 'paused' THEN 1 ELSE 0 END,
                    pause_requested = NULL, pause_cause = NULL
                WHERE id = $1 AND lease_owner = $2 AND state = 'running' AND attempts = $12
                """, [String(lease.jobRunID), lease.owner, to.rawValue, iso8601(now), update.rows.map(String.init),
                      update.failure?.failureClass.rawValue, update.failure?.sqlState, update.failure?.message, update.note,
                      update.notBefore.map(iso8601), update.countFailure ? "true" : "false", String(lease.attempt)])
            guard result.affectedRows == 1 else { throw LeaseLost(lease: lease) }
            try self.transition(batchRunID: batchRunID, jobRunID: lease.jobRunID, from: JobState.running.rawValue, to: to.rawValue,
                                reason: reason, at: now, runner: lease.owner)
        }
        if db.inTransaction { try body() } else { try db.transaction(body) }
    }

    // MARK: batches

    /// Closes every running batch whose jobs have all reached a final state (a conditional
    /// update: exactly one runner closes each). Returns the ids closed.
    @discardableResult
    public func closeFinishedBatches(now: Date, runner: String) throws -> [Int] {
        let result = try db.execute("""
            WITH done AS (
                SELECT b.id,
                       count(*) FILTER (WHERE j.state IN ('succeeded', 'succeeded_with_rejects')) AS succeeded,
                       count(*) FILTER (WHERE j.state IN ('failed', 'timed_out')) AS failed,
                       count(*) FILTER (WHERE j.state = 'skipped') AS skipped,
                       count(*) FILTER (WHERE j.state = 'skipped' AND NOT j.skipped_by_override) AS blocking_skips,
                       count(j.id) AS total
                FROM nightshift.batch_runs b LEFT JOIN nightshift.job_runs j ON j.batch_run_id = b.id
                WHERE b.state = 'running'
                GROUP BY b.id
                HAVING count(*) FILTER (WHERE j.state IN ('pending', 'running', 'paused', 'retrying')) = 0
            ), closed AS (
                UPDATE nightshift.batch_runs b SET
                    state = CASE WHEN done.failed + done.blocking_skips = 0 AND done.total > 0 THEN 'succeeded' ELSE 'failed' END,
                    finished_at = $1::timestamptz, closed_by = $2,
                    jobs_total = done.total, jobs_succeeded = done.succeeded, jobs_failed = done.failed, jobs_skipped = done.skipped
                FROM done WHERE b.id = done.id AND b.state = 'running'
                RETURNING b.id, b.state, done.succeeded, done.failed, done.skipped
            ), recorded AS (
                INSERT INTO nightshift.state_transitions (batch_run_id, from_state, to_state, reason, at, runner)
                SELECT id, 'running', state, succeeded || ' succeeded, ' || failed || ' failed or timed out, ' || skipped || ' skipped',
                       $1::timestamptz, $2 FROM closed
            )
            SELECT id FROM closed ORDER BY id
            """, [iso8601(now), runner])
        return try result.decode(of: "nightshift.batch_runs") { try $0.int("id") }
    }

    /// Closed batches whose summary is not written yet, oldest first.
    public func dueSummaries(limit: Int = 20) throws -> [Int] {
        let due = try db.execute("""
            SELECT id FROM nightshift.batch_runs WHERE state <> 'running' AND summary_at IS NULL ORDER BY id LIMIT $1
            """, [String(limit)])
        return try due.decode(of: "nightshift.batch_runs") { try $0.int("id") }
    }

    /// Claims batch run `id`'s summary (FOR UPDATE SKIP LOCKED: one runner at a time), lets
    /// `write` produce it, and records it and queues its message in the outbox in the same
    /// transaction. False when another runner has it or it is written already. A failure is
    /// recorded on the batch run and rethrown.
    public func writeSummary(_ id: Int, now: Date, runner: String, _ write: (Int) throws -> (output: JobOutput, message: MailMessage?)) throws -> Bool {
        do {
            return try db.transaction {
                let due = try db.execute("""
                    SELECT id FROM nightshift.batch_runs WHERE id = $1 AND state <> 'running' AND summary_at IS NULL
                    FOR UPDATE SKIP LOCKED
                    """, [String(id)])
                guard due.rowCount == 1 else { return false }
                let (output, message) = try write(id)
                try recordOutput(batchRunID: id, jobRunID: nil, output: output)
                if let message {
                    try OutboxStore(db: db).enqueue(kind: "summary", dedupeKey: "summary:batch_run:\(id)", batchRunID: id, message: message,
                                                    now: now, by: runner)
                }
                try db.execute("UPDATE nightshift.batch_runs SET summary_at = clock_timestamp(), summary_error = NULL WHERE id = $1",
                               [String(id)])
                return true
            }
        } catch let error as PostgresError where error.isTransient {
            throw error
        } catch {
            _ = try? db.execute("UPDATE nightshift.batch_runs SET summary_error = $2 WHERE id = $1", [String(id), "\(error)"])
            throw error
        }
    }

    /// The state of a batch run, whether its summary is written, and why it could not be.
    public func batchStatus(_ id: Int) throws -> (state: BatchState, summaryWritten: Bool, summaryError: String?)? {
        let result = try db.execute("""
            SELECT id, state, summary_at IS NOT NULL AS written, summary_error FROM nightshift.batch_runs WHERE id = $1
            """, [String(id)])
        guard result.rowCount == 1 else { return nil }
        let row = result.row(0, of: "nightshift.batch_runs")
        return (try row.value("state", as: BatchState.self), try row.bool("written"), try row.optionalText("summary_error"))
    }

    public func recordOutput(batchRunID: Int, jobRunID: Int?, output: JobOutput) throws {
        try db.execute("""
            INSERT INTO nightshift.outputs (batch_run_id, job_run_id, kind, path, sha256, bytes, rows)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """, [String(batchRunID), jobRunID.map(String.init), output.kind.rawValue, output.path, output.sha256,
                  String(output.bytes), output.rows.map(String.init)])
    }

    // MARK: schedule cursors

    public func scheduleCursor(_ batch: BatchKind) throws -> Date? {
        try db.execute("SELECT extract(epoch FROM evaluated_through)::float8 AS t FROM nightshift.schedule_cursors WHERE batch = $1",
                       [batch.rawValue]).double(0, "t").map { Date(timeIntervalSince1970: $0) }
    }

    public func advanceScheduleCursor(_ batch: BatchKind, to instant: Date, runner: String) throws {
        try db.execute("""
            INSERT INTO nightshift.schedule_cursors (batch, evaluated_through, updated_by) VALUES ($1, $2, $3)
            ON CONFLICT (batch) DO UPDATE SET evaluated_through = $2, updated_by = $3, updated_at = clock_timestamp()
            """, [batch.rawValue, iso8601(instant), runner])
    }

    // MARK: transitions

    func transition(batchRunID: Int, jobRunID: Int?, from: String?, to: String, reason: String, at: Date, runner: String) throws {
        try db.execute("""
            INSERT INTO nightshift.state_transitions (batch_run_id, job_run_id, from_state, to_state, reason, at, runner)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """, [String(batchRunID), jobRunID.map(String.init), from, to, reason, iso8601(at), runner])
    }
}

/// One attempt's claim on a job run: the runner and the attempt number. Every write of the
/// attempt's progress names all three, so neither another runner nor an older attempt of this
/// runner (still retrying its bookkeeping after an outage) can write over the current one.
public struct Lease: Sendable, Hashable {
    public let jobRunID: Int
    public let owner: String
    public let attempt: Int
    public var key: LeaseKey { LeaseKey(jobRunID: jobRunID, attempt: attempt) }
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

func iso8601(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.string(from: date)
}

/// A PostgreSQL array literal of text values, passed as one bound parameter.
func pgArray(_ values: [String]) -> String {
    "{" + values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        .joined(separator: ",") + "}"
}
