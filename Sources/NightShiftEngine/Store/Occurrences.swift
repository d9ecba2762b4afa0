import Foundation
import NightShiftCore
import PostgresClient

/// Batch occurrences: one batch run per (batch, scheduled instant, run number), created with its
/// jobs whatever the number of runners trying at once.
extension RunnerStore {
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
            let latest = try db.query("""
                SELECT id, state, run_number FROM nightshift.batch_runs WHERE batch = \(new.batch) AND scheduled_for = \(new.scheduledFor)
                ORDER BY run_number DESC LIMIT 1 FOR UPDATE
                """)
            var runNumber = 1
            if latest.rowCount == 1 {
                let row = latest.row(0, of: "nightshift.batch_runs")
                let state = try row.value("state", as: BatchState.self)
                let existing = Creation.exists(id: try row.int("id"), state: state, runNumber: try row.int("run_number"))
                guard rerun, state != .running else { return existing }
                runNumber = try row.int("run_number") + 1
            }
            let inserted = try db.query("""
                INSERT INTO nightshift.batch_runs (batch, business_date, scheduled_for, trigger, state, started_at, run_number,
                                                   deadline, warnings, request_id, waiting_for)
                VALUES (\(new.batch), \(new.businessDate), \(new.scheduledFor), \(new.trigger), \(BatchState.running), \(now), \(runNumber),
                        \(new.waitingFor == nil ? new.deadline : nil), \(new.warnings)::text[], \(new.requestID)::bigint, \(new.waitingFor))
                ON CONFLICT (batch, scheduled_for, run_number) DO NOTHING RETURNING id
                """)
            guard let id = try inserted.rowCount == 1 ? inserted.row(0, of: "nightshift.batch_runs").int("id") : nil else {
                // Another runner created it between our look and our insert.
                let other = try db.query("""
                    SELECT id, state, run_number FROM nightshift.batch_runs
                    WHERE batch = \(new.batch) AND scheduled_for = \(new.scheduledFor) AND run_number = \(runNumber)
                    """)
                let row = other.row(0, of: "nightshift.batch_runs")
                return .exists(id: try row.int("id"), state: try row.value("state", as: BatchState.self), runNumber: runNumber)
            }
            let transitions = Transitions(db: db)
            try transitions.batch(id, from: nil, to: .running,
                                  reason: "\(new.trigger): \(runNumber == 1 ? "occurrence created" : "run \(runNumber) of the occurrence")",
                                  at: now, runner: runner)
            let tails = RemainingPath.tails(of: new.jobs.map { ($0.name, $0.dependsOn) },
                                            seconds: Dictionary(new.jobs.map { job in
                                                (job.name, new.skipped[job.name] != nil ? 0 : new.expectedSeconds[job.name] ?? job.estimateSeconds)
                                            }, uniquingKeysWith: { a, _ in a }))
            for job in new.jobs {
                let skip = new.skipped[job.name]
                let row = try db.query("""
                    INSERT INTO nightshift.job_runs (batch_run_id, job, kind, priority, state, depends_on, retries, timeout_seconds,
                                                     skipped_by_override, skip_reason, finished_at, locks, checkpointed, writes_exports,
                                                     expected_seconds, tail_seconds, due_at, wait_reason)
                    VALUES (\(id), \(job.name), \(job.kind), \(job.priority), \(skip == nil ? JobState.pending : .skipped), \(job.dependsOn)::text[], \(job.retries),
                            \(job.timeoutSeconds), \(skip != nil), \(skip), \(skip == nil ? nil : now), \(job.locks)::text[],
                            \(job.kind.pausesAtCheckpoints), \(job.kind.writesExports), \(new.expectedSeconds[job.name] ?? job.estimateSeconds),
                            \(tails[job.name] ?? 0), \(new.scheduledFor), \(new.waitingFor.map { "the batch waits for \($0)" }))
                    RETURNING id
                    """)
                let jobRunID = try row.scalarInt(of: "nightshift.job_runs")
                try transitions.job(jobRunID, batchRunID: id, from: nil, to: .pending, reason: "planned", at: now, runner: runner)
                if let skip {
                    try transitions.job(jobRunID, batchRunID: id, from: .pending, to: .skipped, reason: skip, at: now, runner: runner)
                }
            }
            return .created(id)
        }
    }
}
