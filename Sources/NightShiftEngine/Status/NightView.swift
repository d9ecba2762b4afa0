import Foundation
import NightShiftConfig
import NightShiftCore
import PostgresClient

/// The night on one page (the console's Tonight): every batch run of the night with each job as it
/// is — ended, running, waiting and why — and, for what has not ended, the forecast start and end.
/// The forecast is `Planner.plan` from now with each job's progress (`JobProgress`): the same
/// simulation and decision model as `plan` and the dispatcher, the same expected durations as the
/// dispatcher (`job_runs.expected_seconds`), the same critical path and slack.
public struct NightView: Sendable {
    public struct Job: Sendable {
        public let jobRunID: Int
        public let name: String
        public let priority: Priority
        public let state: JobState
        public let attempts: Int
        /// When it first started and when it ended (runner clock).
        public let startedAt: Date?
        public let finishedAt: Date?
        /// The running attempt's (or resumption's) start.
        public let attemptStartedAt: Date?
        /// Its last change of state (when a retrying or paused job's last attempt ended).
        public let changedAt: Date?
        /// Why it waits, as `status` says it.
        public let why: String?
        /// How it failed (with SQLSTATE), or why it was skipped.
        public let problem: String?
        public let expectedSeconds: Int
        /// The forecast for what has not ended: when it starts (or started) and ends.
        public let forecastStart: Date?
        public let forecastFinish: Date?
        /// What keeps it from running, when the forecast says it cannot.
        public let blocked: String?
        public let slack: Int?
        public let critical: Bool
    }

    public struct Batch: Sendable {
        public let batchRunID: Int
        public let batch: BatchKind
        public let businessDate: LocalDate
        public let state: BatchState
        public let scheduledFor: Date
        public let finishedAt: Date?
        /// Its window's end (the batch run's deadline).
        public let windowEnd: Date?
        /// The batch run waits before any job may start (month-end close).
        public let waitingFor: String?
        /// Jobs in the forecast's order.
        public let jobs: [Job]
        /// When its P1–P3 jobs are forecast to end (or ended), and whether that is within the window.
        public let requiredFinish: Date
        public let predictedFinish: Date
        public let fitsWindow: Bool
        public let criticalPath: [String]
    }

    /// The runner's clock.
    public let now: Date
    public let batches: [Batch]
    /// Job slots of the live runners (what the forecast runs on).
    public let slots: Int
    public let problems: [String]

    /// The batch runs scheduled in the last `hours` before `now`, and any still running.
    public static func load(db: PostgresConnection, configuration: Configuration, now: Date, hours: Int = 16) throws -> NightView {
        var problems: [String] = []
        let unreadable = { (error: RowDecodingError) in problems.append(error.description) }
        let since = now.addingTimeInterval(-Double(hours) * 3600)
        let runs = try db.query("""
            SELECT id, batch, business_date::text AS business_date, state, extract(epoch FROM scheduled_for)::float8 AS scheduled_for,
                   extract(epoch FROM finished_at)::float8 AS finished_at, extract(epoch FROM deadline)::float8 AS deadline, waiting_for
            FROM nightshift.batch_runs
            WHERE state = 'running' OR (scheduled_for >= \(since) AND scheduled_for <= \(now)) OR (started_at >= \(since) AND started_at <= \(now))
            ORDER BY scheduled_for, id LIMIT 20
            """)
        struct Run { let id: Int; let batch: BatchKind; let date: LocalDate; let state: BatchState; let scheduled: Date; let finished: Date?
                     let deadline: Date?; let waitingFor: String? }
        let batchRuns = try runs.decode(of: "nightshift.batch_runs", unreadable: unreadable) { row -> Run in
            let text = try row.text("business_date")
            guard let date = LocalDate(iso: text) else { throw row.error("business_date", text, expected: "a date") }
            return Run(id: try row.int("id"), batch: try row.value("batch", as: BatchKind.self), date: date,
                       state: try row.value("state", as: BatchState.self), scheduled: try row.date("scheduled_for"),
                       finished: try row.optionalDate("finished_at"), deadline: try row.optionalDate("deadline"),
                       waitingFor: try row.optionalText("waiting_for"))
        }
        guard !batchRuns.isEmpty else { return NightView(now: now, batches: [], slots: 0, problems: problems) }

        let jobs = try db.query("""
            SELECT id, batch_run_id, job, priority, state, attempts, expected_seconds, run_seconds,
                   extract(epoch FROM started_at)::float8 AS started_at, extract(epoch FROM finished_at)::float8 AS finished_at,
                   extract(epoch FROM attempt_started_at)::float8 AS attempt_started_at, extract(epoch FROM not_before)::float8 AS not_before,
                   error_sqlstate, error_message, skip_reason, skipped_by_override,
                   (SELECT extract(epoch FROM max(t.at)) FROM nightshift.state_transitions t WHERE t.job_run_id = job_runs.id)::float8 AS changed_at
            FROM nightshift.job_runs WHERE batch_run_id = ANY(\(batchRuns.map(\.id))::bigint[])
            ORDER BY batch_run_id, id
            """)
        struct Row { let id: Int; let run: Int; let name: String; let priority: Priority; let state: JobState; let attempts: Int
                     let expected: Int; let ran: Double; let started: Date?; let finished: Date?; let attemptStarted: Date?
                     let notBefore: Date?; let problem: String?; let skippedByOverride: Bool; let changed: Date? }
        let jobRows = try jobs.decode(of: "nightshift.job_runs", unreadable: unreadable) { row -> Row in
            let state = try row.value("state", as: JobState.self)
            let sqlState = try row.optionalText("error_sqlstate")
            let message = try row.optionalText("error_message")
            let skipReason = try row.optionalText("skip_reason")
            let problem = message.map { text in sqlState.map { text.contains($0) ? text : "SQLSTATE \($0): \(text)" } ?? text } ?? skipReason
            return Row(id: try row.int("id"), run: try row.int("batch_run_id"), name: try row.text("job"),
                       priority: try row.value("priority", as: Priority.self), state: state, attempts: try row.int("attempts"),
                       expected: try row.optionalInt("expected_seconds") ?? 60, ran: try row.optionalDouble("run_seconds") ?? 0,
                       started: try row.optionalDate("started_at"), finished: try row.optionalDate("finished_at"),
                       attemptStarted: try row.optionalDate("attempt_started_at"), notBefore: try row.optionalDate("not_before"),
                       problem: problem, skippedByOverride: try row.optionalBool("skipped_by_override") ?? false,
                       changed: try row.optionalDate("changed_at"))
        }
        let slots = max(1, try db.query("""
            SELECT coalesce(sum(workers), 0)::int FROM nightshift.runners
            WHERE state = 'running' AND heartbeat_at > clock_timestamp() - make_interval(secs => \(configuration.settings.service.leaseSeconds)::int)
            """).int(0, 0) ?? 0)
        let status = try RunnerStatus.load(db: db, leaseSeconds: configuration.settings.service.leaseSeconds,
                                           zone: configuration.settings.timeZone)
        let why = Dictionary(status.waiting.map { ($0.jobRunID, $0.why) }, uniquingKeysWith: { a, _ in a })

        let byRun = Dictionary(grouping: jobRows, by: \.run)
        func progress(_ job: Row) -> JobProgress {
            switch job.state {
            case .succeeded, .succeededWithRejects:
                return .done(start: job.started, end: job.finished ?? now)
            case .skipped where job.skippedByOverride:
                return .done(start: nil, end: job.finished ?? job.started ?? now)
            case .skipped, .failed, .timedOut:
                return .ended(start: job.started, end: job.finished, why: "\(job.state.rawValue)" + (job.problem.map { ": \($0)" } ?? ""))
            case .running:
                let since = job.attemptStarted ?? job.started ?? now
                return .running(since: since, left: max(1, job.expected - Int(job.ran) - Int(max(0, now.timeIntervalSince(since)))))
            case .pending, .retrying, .paused:
                return .waiting(left: max(1, job.expected - Int(job.ran)), notBefore: job.notBefore)
            }
        }
        // The definitions of a run's jobs (a job no longer configured is shown, not forecast).
        func definitions(_ run: Run) -> [JobDefinition] {
            let names = Set((byRun[run.id] ?? []).map(\.name))
            return configuration.jobs(in: run.batch).filter { names.contains($0.name) }
                .map { job in job.with(name: job.name, dependsOn: job.dependsOn.filter(names.contains)) }
        }
        func occurrence(_ run: Run) -> PlanOccurrence {
            PlanOccurrence(batch: run.batch, start: run.scheduled, jobs: definitions(run),
                           progress: Dictionary((byRun[run.id] ?? []).map { ($0.name, progress($0)) }, uniquingKeysWith: { a, _ in a }))
        }
        let running = batchRuns.filter { $0.state == .running }
        var batches: [Batch] = []
        for run in batchRuns {
            let rows = byRun[run.id] ?? []
            // Each batch run planned with the night's other running ones sharing the slots.
            let others = run.state == .running ? running.filter { $0.id != run.id }.map(occurrence) : []
            let mine = occurrence(run)
            let expected = Dictionary(rows.map { ($0.name, (seconds: Double($0.expected), runs: 1)) }, uniquingKeysWith: { a, _ in a })
            let plan: Plan
            do {
                plan = try Planner.plan(PlanRequest(batch: run.batch, jobs: mine.jobs, start: run.scheduled, schedule: configuration.schedule(run.batch),
                                                    windows: configuration.windows, policy: configuration.priorityPolicy, history: expected,
                                                    slots: slots, others: others, maxBatches: configuration.settings.maxConcurrentBatches,
                                                    now: run.state == .running ? now : max(run.scheduled, run.finished ?? now), progress: mine.progress))
            } catch {
                problems.append("batch run #\(run.id): no forecast: \(error)")
                continue
            }
            let entries = Dictionary(plan.entries.filter { $0.occurrence == 0 }.map { ($0.job.name, $0) }, uniquingKeysWith: { a, _ in a })
            // By when each started (or is forecast to), then as the plan met them.
            let order = plan.entries.filter { $0.occurrence == 0 }.map(\.job.name)
            func key(_ row: Row) -> (Double, Int, Int) {
                let start = row.started ?? entries[row.name]?.start ?? .distantFuture
                return (start.timeIntervalSince1970, order.firstIndex(of: row.name) ?? Int.max, row.id)
            }
            let sorted = rows.sorted { key($0) < key($1) }
            let viewJobs = sorted.map { row -> Job in
                let entry = entries[row.name]
                let open = !row.state.isFinal
                var blocked: String?
                if case let .blocked(reason)? = entry?.status, open { blocked = reason }
                return Job(jobRunID: row.id, name: row.name, priority: row.priority, state: row.state, attempts: row.attempts,
                           startedAt: row.started, finishedAt: row.finished, attemptStartedAt: row.attemptStarted, changedAt: row.changed,
                           why: open ? why[row.id] : nil, problem: row.problem, expectedSeconds: row.expected,
                           forecastStart: open ? entry?.start : nil, forecastFinish: open ? entry?.finish : nil,
                           blocked: blocked, slack: entry?.slack, critical: entry?.critical ?? false)
            }
            batches.append(Batch(batchRunID: run.id, batch: run.batch, businessDate: run.date, state: run.state, scheduledFor: run.scheduled,
                                 finishedAt: run.finished, windowEnd: run.deadline ?? plan.windowEnd, waitingFor: run.waitingFor,
                                 jobs: viewJobs, requiredFinish: plan.requiredFinish, predictedFinish: plan.predictedFinish,
                                 fitsWindow: run.deadline.map { plan.requiredFinish <= $0 && plan.fitsWindow } ?? plan.fitsWindow,
                                 criticalPath: plan.criticalPath))
        }
        return NightView(now: now, batches: batches, slots: slots, problems: problems)
    }
}
