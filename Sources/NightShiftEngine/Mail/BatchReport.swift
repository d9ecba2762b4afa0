import Foundation
import NightShiftConfig
import NightShiftCore
import PostgresClient

/// A batch run as the runner tables tell it: what the summary mail, `run --once` and `history`
/// show. Loaded from the database, so any runner can report on a batch another one ran.
public struct BatchReport: Sendable {
    public struct JobInfo: Sendable, Equatable {
        public let name: String
        public let kind: String
        public let priority: Priority
    }

    /// One delivery of an output to a target (`deliver_to:`), as it stands.
    public struct Delivery: Sendable, Equatable {
        public let id: Int
        public let target: String
        public let state: DeliveryState
        public let attempts: Int
        public let remotePath: String?
        public let deliveredAt: Date?
        public let lastError: String?
    }

    public struct Job: Sendable {
        public let job: JobInfo
        public let jobRunID: Int
        public let state: JobState
        public let rows: Int
        public let attempts: Int
        /// From its first start to its end, on the runner's clock.
        public let seconds: Double
        public let failure: JobFailure?
        public let skipReason: String?
        public let outputs: [JobOutput]
        public let note: String?
        /// Its first start and its end, on the runner's clock (nil: not yet).
        public var startedAt: Date? = nil
        public var finishedAt: Date? = nil
        /// Records set aside for review.
        public var rejectedRows = 0
        /// Attempts that failed and were retried (or rescued after a lost lease).
        public var retries = 0
        /// Why it paused, once per pause (window, load, preempted by …).
        public var pauses: [String] = []
        /// Seconds past its priority's start deadline (P1/P2) when it started late.
        public var lateStartSeconds: Int? = nil
        /// Each output's deliveries (by the output's path), in target order.
        public var deliveries: [String: [Delivery]] = [:]
        /// Why a job that has not run yet waits, and until when.
        public var waitReason: String? = nil
        public var waitUntil: Date? = nil
        /// What it did over time: its attempts and pauses, for the timeline.
        public var bars: [NightTimeline.Bar] = []
    }

    public let batchRunID: Int
    public let batch: BatchKind
    public let businessDate: LocalDate
    public let scheduledFor: Date
    public let runNumber: Int
    public let trigger: String
    public let state: BatchState
    public let jobs: [Job]
    public let startedAt: Date
    public let finishedAt: Date?
    public let warnings: [String]
    /// The end of the batch's window (its deadline), nil while it waits to be released.
    public var deadline: Date? = nil
    /// Why it ended, as its last transition says (a cancelled run: "request #5 cancelled by chen").
    public var endReason: String? = nil
    public let summary: JobOutput?
    /// Why the summary could not be written (it is retried by the rescuer).
    public let summaryError: String?
    /// The summary's message in the outbox: whether it was delivered, and the server's last word.
    public var summaryMail: MailDelivery? = nil

    public struct MailDelivery: Sendable, Equatable {
        public let id: Int
        public let state: MailState
        public let attempts: Int
        public let recipients: [String]
        public let lastReply: String?
        public let lastError: String?
    }
    /// Bad records its jobs set aside for review (the first 100), and how many in all.
    public let rejects: [Reject]
    public let rejectCount: Int

    public struct Reject: Sendable {
        public let reviewID: Int
        public let job: String
        public let key: Int
        public let sqlState: String?
        public let message: String
    }

    public var succeeded: Bool { state == .succeeded }

    /// Loads batch run `id`; jobs in dependency order (ties: priority, then name).
    /// - Parameter now: the runner's instant, where the bars of jobs still running or paused end
    ///   (default: the batch's end, else its last recorded change).
    public static func load(_ id: Int, db: PostgresConnection, now: Date? = nil) throws -> BatchReport {
        let batch = try db.query("""
            SELECT id, batch, business_date::text AS business_date, run_number, trigger, state, warnings::text AS warnings, summary_error,
                   extract(epoch FROM scheduled_for)::float8 AS scheduled_for, extract(epoch FROM started_at)::float8 AS started_at,
                   extract(epoch FROM finished_at)::float8 AS finished_at, extract(epoch FROM deadline)::float8 AS deadline
            FROM nightshift.batch_runs WHERE id = \(id)
            """)
        guard batch.rowCount == 1 else {
            throw PostgresError(operation: .execute, sqlState: nil, message: "batch run \(id) does not exist", context: "nightshift.batch_runs")
        }
        return try load(id, run: batch.row(0, of: "nightshift.batch_runs"), db: db, now: now)
    }

    private static func load(_ id: Int, run: Row, db: PostgresConnection, now: Date?) throws -> BatchReport {
        let outputs = try db.query("""
            SELECT id, job_run_id, kind, path, sha256, bytes, rows FROM nightshift.outputs WHERE batch_run_id = \(id) ORDER BY id
            """)
        var byJob: [Int: [JobOutput]] = [:]
        var summary: JobOutput?
        for row in outputs.rows(of: "nightshift.outputs") {
            let output = JobOutput(kind: try row.value("kind", as: JobOutput.Kind.self), path: try row.text("path"),
                                   sha256: try row.text("sha256"), bytes: try row.int("bytes"), rows: try row.optionalInt("rows"))
            if let jobRunID = try row.optionalInt("job_run_id") {
                byJob[jobRunID, default: []].append(output)
            } else if output.kind == .summaryMail {
                summary = output
            }
        }
        let sent = try db.query("""
            SELECT d.id, o.path, d.target, d.state, d.attempts, d.remote_path, d.last_error,
                   extract(epoch FROM d.delivered_at)::float8 AS delivered_at
            FROM nightshift.deliveries d JOIN nightshift.outputs o ON o.id = d.output_id
            WHERE o.batch_run_id = \(id) ORDER BY d.target, d.seq
            """)
        var deliveries: [String: [Delivery]] = [:]
        for row in sent.rows(of: "nightshift.deliveries") {
            deliveries[try row.text("path"), default: []].append(
                Delivery(id: try row.int("id"), target: try row.text("target"), state: try row.value("state", as: DeliveryState.self),
                         attempts: try row.int("attempts"), remotePath: try row.optionalText("remote_path"),
                         deliveredAt: try row.optionalDate("delivered_at"), lastError: try row.optionalText("last_error")))
        }
        let rows = try db.query("""
            SELECT id, job, kind, priority, state, depends_on::text AS depends_on, rows_processed, attempts, error_class, error_sqlstate,
                   error_message, skip_reason, note, rejected_rows, failures, late_start_seconds, wait_reason,
                   extract(epoch FROM wait_until)::float8 AS wait_until, extract(epoch FROM started_at)::float8 AS started_at,
                   extract(epoch FROM finished_at)::float8 AS finished_at,
                   coalesce(extract(epoch FROM finished_at - started_at)::float8, 0) AS seconds
            FROM nightshift.job_runs WHERE batch_run_id = \(id)
            """)
        let changes = try db.query("""
            SELECT id, job_run_id, from_state, to_state, reason, extract(epoch FROM at)::float8 AS at
            FROM nightshift.state_transitions WHERE batch_run_id = \(id) AND job_run_id IS NOT NULL ORDER BY job_run_id, at, id
            """)
        var history: [Int: [JobHistory.Change]] = [:]
        var lastChange = 0.0
        for row in changes.rows(of: "nightshift.state_transitions") {
            let at = try row.optionalDouble("at") ?? 0
            lastChange = max(lastChange, at)
            history[try row.int("job_run_id"), default: []].append(
                JobHistory.Change(to: try row.text("to_state"), reason: try row.optionalText("reason"), at: Date(timeIntervalSince1970: at)))
        }
        let batchFinished = try run.optionalDate("finished_at")
        var jobs: [Job] = []
        var dependencies: [String: [String]] = [:]
        for row in rows.rows(of: "nightshift.job_runs") {
            let name = try row.text("job")
            dependencies[name] = parseTextArray(try row.optionalText("depends_on") ?? "{}")
            let failure = try row.optionalValue("error_class", as: FailureClass.self).map {
                JobFailure(failureClass: $0, sqlState: try row.optionalText("error_sqlstate"), message: try row.optionalText("error_message") ?? "")
            }
            let state = try row.value("state", as: JobState.self)
            let jobRunID = try row.int("id")
            var job = Job(job: JobInfo(name: name, kind: try row.text("kind"), priority: try row.value("priority", as: Priority.self)),
                          jobRunID: jobRunID, state: state, rows: try row.optionalInt("rows_processed") ?? 0,
                          attempts: try row.optionalInt("attempts") ?? 0, seconds: try row.optionalDouble("seconds") ?? 0,
                          failure: state.isSuccess ? nil : failure, skipReason: try row.optionalText("skip_reason"),
                          outputs: byJob[jobRunID] ?? [], note: try row.optionalText("note"))
            for output in job.outputs { if let sent = deliveries[output.path] { job.deliveries[output.path] = sent } }
            job.startedAt = try row.optionalDate("started_at")
            job.finishedAt = try row.optionalDate("finished_at")
            job.rejectedRows = try row.optionalInt("rejected_rows") ?? 0
            job.lateStartSeconds = try row.optionalInt("late_start_seconds")
            if !state.isFinal {
                job.waitReason = try row.optionalText("wait_reason")
                job.waitUntil = try row.optionalDate("wait_until")
            }
            let changes = JobHistory(history[jobRunID] ?? [])
            job.retries = changes.retries
            job.pauses = changes.pauses
            job.bars = changes.bars(until: now ?? batchFinished ?? Date(timeIntervalSince1970: lastChange))
            jobs.append(job)
        }
        let rejected = try db.query("""
            SELECT r.id, r.job, r.record_key, r.sqlstate, r.message, count(*) OVER () AS total
            FROM nightshift.review_queue r JOIN nightshift.job_runs j ON j.id = r.job_run_id
            WHERE j.batch_run_id = \(id) ORDER BY r.job, r.record_key LIMIT 100
            """)
        let rejects = try rejected.rows(of: "nightshift.review_queue").map { row in
            Reject(reviewID: try row.int("id"), job: try row.text("job"), key: try row.int("record_key"),
                   sqlState: try row.optionalText("sqlstate"), message: try row.text("message"))
        }
        let mail = try db.query("""
            SELECT id, state, attempts, array_to_string(envelope_to, ', ') AS recipients, last_reply, last_error
            FROM nightshift.mail_outbox WHERE dedupe_key = \("summary:batch_run:\(id)")
            """)
        var report = BatchReport(batchRunID: id, batch: try run.value("batch", as: BatchKind.self),
                                 businessDate: try run.localDate("business_date"), scheduledFor: try run.date("scheduled_for"),
                                 runNumber: try run.int("run_number"), trigger: try run.text("trigger"),
                                 state: try run.value("state", as: BatchState.self),
                                 jobs: dependencyOrder(jobs, dependencies: dependencies), startedAt: try run.date("started_at"),
                                 finishedAt: batchFinished, warnings: parseTextArray(try run.optionalText("warnings") ?? "{}"),
                                 summary: summary, summaryError: try run.optionalText("summary_error"), rejects: rejects,
                                 rejectCount: rejected.rowCount > 0 ? try rejected.row(0, of: "nightshift.review_queue").int("total") : 0)
        report.deadline = try run.optionalDate("deadline")
        if report.state.isFinal {
            let ended = try db.query("""
                SELECT id, reason FROM nightshift.state_transitions WHERE batch_run_id = \(id) AND job_run_id IS NULL AND to_state = \(report.state.rawValue)
                ORDER BY id DESC LIMIT 1
                """)
            if ended.rowCount == 1 { report.endReason = try ended.row(0, of: "nightshift.state_transitions").optionalText("reason") }
        }
        if mail.rowCount == 1 {
            let row = mail.row(0, of: "nightshift.mail_outbox")
            report.summaryMail = MailDelivery(id: try row.int("id"), state: try row.value("state", as: MailState.self),
                                              attempts: try row.int("attempts"), recipients: [try row.optionalText("recipients") ?? ""],
                                              lastReply: try row.optionalText("last_reply"), lastError: try row.optionalText("last_error"))
        }
        return report
    }

    /// Dependencies first; among jobs ready together, higher priority, then name.
    static func dependencyOrder(_ jobs: [Job], dependencies: [String: [String]]) -> [Job] {
        var remaining = jobs.sorted { ($0.job.priority, $0.job.name) < ($1.job.priority, $1.job.name) }
        var done: Set<String> = []
        var ordered: [Job] = []
        let names = Set(jobs.map(\.job.name))
        while !remaining.isEmpty {
            let index = remaining.firstIndex { job in
                (dependencies[job.job.name] ?? []).allSatisfy { done.contains($0) || !names.contains($0) }
            } ?? 0
            let job = remaining.remove(at: index)
            done.insert(job.job.name)
            ordered.append(job)
        }
        return ordered
    }
}

/// Parses a PostgreSQL text array literal (`{a,"b c"}`) as PostgreSQL prints it.
func parseTextArray(_ literal: String) -> [String] {
    var items: [String] = []
    var current = ""
    var quoted = false
    var escaped = false
    var any = false
    for character in literal.dropFirst().dropLast() {
        if escaped {
            current.append(character)
            escaped = false
        } else if character == "\\" {
            escaped = true
        } else if character == "\"" {
            quoted.toggle()
            any = true
        } else if character == "," && !quoted {
            items.append(current)
            current = ""
            any = false
        } else {
            current.append(character)
            any = true
        }
    }
    if any || !current.isEmpty { items.append(current) }
    return items
}
