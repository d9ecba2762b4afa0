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
        let batch = try db.execute("""
            SELECT batch, business_date::text AS business_date, run_number, trigger, state, warnings::text AS warnings, summary_error,
                   extract(epoch FROM scheduled_for)::float8 AS scheduled_for, extract(epoch FROM started_at)::float8 AS started_at,
                   extract(epoch FROM finished_at)::float8 AS finished_at, extract(epoch FROM deadline)::float8 AS deadline
            FROM nightshift.batch_runs WHERE id = $1
            """, [String(id)])
        guard batch.rowCount == 1 else {
            throw PostgresError(operation: .execute, sqlState: nil, message: "batch run \(id) does not exist", context: "nightshift.batch_runs")
        }
        let date = { (column: String) in batch.double(0, column).map { Date(timeIntervalSince1970: $0) } }
        let outputs = try db.execute("""
            SELECT job_run_id, kind, path, sha256, bytes, rows FROM nightshift.outputs WHERE batch_run_id = $1 ORDER BY id
            """, [String(id)])
        var byJob: [Int: [JobOutput]] = [:]
        var summary: JobOutput?
        for row in 0..<outputs.rowCount {
            let output = JobOutput(kind: JobOutput.Kind(rawValue: outputs.string(row, "kind")!)!, path: outputs.string(row, "path")!,
                                   sha256: outputs.string(row, "sha256")!, bytes: outputs.int(row, "bytes")!, rows: outputs.int(row, "rows"))
            if let jobRunID = outputs.int(row, "job_run_id") {
                byJob[jobRunID, default: []].append(output)
            } else if output.kind == .summaryMail {
                summary = output
            }
        }
        let rows = try db.execute("""
            SELECT id, job, kind, priority, state, depends_on::text AS depends_on, rows_processed, attempts, error_class, error_sqlstate,
                   error_message, skip_reason, note, rejected_rows, failures, late_start_seconds, wait_reason,
                   extract(epoch FROM wait_until)::float8 AS wait_until, extract(epoch FROM started_at)::float8 AS started_at,
                   extract(epoch FROM finished_at)::float8 AS finished_at,
                   coalesce(extract(epoch FROM finished_at - started_at)::float8, 0) AS seconds
            FROM nightshift.job_runs WHERE batch_run_id = $1
            """, [String(id)])
        let changes = try db.execute("""
            SELECT job_run_id, from_state, to_state, reason, extract(epoch FROM at)::float8 AS at
            FROM nightshift.state_transitions WHERE batch_run_id = $1 AND job_run_id IS NOT NULL ORDER BY job_run_id, at, id
            """, [String(id)])
        var history: [Int: [JobHistory.Change]] = [:]
        var lastChange = 0.0
        for row in 0..<changes.rowCount {
            let at = changes.double(row, "at") ?? 0
            lastChange = max(lastChange, at)
            history[changes.int(row, "job_run_id")!, default: []].append(
                JobHistory.Change(to: changes.string(row, "to_state")!, reason: changes.string(row, "reason"), at: Date(timeIntervalSince1970: at)))
        }
        var jobs: [Job] = []
        var dependencies: [String: [String]] = [:]
        for row in 0..<rows.rowCount {
            let name = rows.string(row, "job")!
            dependencies[name] = parseTextArray(rows.string(row, "depends_on") ?? "{}")
            let failure = rows.string(row, "error_class").flatMap(FailureClass.init(rawValue:)).map {
                JobFailure(failureClass: $0, sqlState: rows.string(row, "error_sqlstate"), message: rows.string(row, "error_message") ?? "")
            }
            let state = JobState(rawValue: rows.string(row, "state")!)!
            let jobRunID = rows.int(row, "id")!
            var job = Job(job: JobInfo(name: name, kind: rows.string(row, "kind")!, priority: Priority(rawValue: rows.int(row, "priority")!) ?? .p3),
                          jobRunID: jobRunID, state: state, rows: rows.int(row, "rows_processed") ?? 0,
                          attempts: rows.int(row, "attempts") ?? 0, seconds: rows.double(row, "seconds") ?? 0,
                          failure: state.isSuccess ? nil : failure, skipReason: rows.string(row, "skip_reason"),
                          outputs: byJob[jobRunID] ?? [], note: rows.string(row, "note"))
            let instant = { (column: String) in rows.double(row, column).map(Date.init(timeIntervalSince1970:)) }
            job.startedAt = instant("started_at")
            job.finishedAt = instant("finished_at")
            job.rejectedRows = rows.int(row, "rejected_rows") ?? 0
            job.lateStartSeconds = rows.int(row, "late_start_seconds")
            if !state.isFinal {
                job.waitReason = rows.string(row, "wait_reason")
                job.waitUntil = instant("wait_until")
            }
            let changes = JobHistory(history[jobRunID] ?? [])
            job.retries = changes.retries
            job.pauses = changes.pauses
            job.bars = changes.bars(until: now ?? date("finished_at") ?? Date(timeIntervalSince1970: lastChange))
            jobs.append(job)
        }
        let rejected = try db.execute("""
            SELECT r.id, r.job, r.record_key, r.sqlstate, r.message, count(*) OVER () AS total
            FROM nightshift.review_queue r JOIN nightshift.job_runs j ON j.id = r.job_run_id
            WHERE j.batch_run_id = $1 ORDER BY r.job, r.record_key LIMIT 100
            """, [String(id)])
        let rejects = (0..<rejected.rowCount).map { row in
            Reject(reviewID: rejected.int(row, "id")!, job: rejected.string(row, "job")!, key: rejected.int(row, "record_key")!,
                   sqlState: rejected.string(row, "sqlstate"), message: rejected.string(row, "message")!)
        }
        let mail = try db.execute("""
            SELECT id, state, attempts, array_to_string(envelope_to, ', ') AS recipients, last_reply, last_error
            FROM nightshift.mail_outbox WHERE dedupe_key = $1
            """, ["summary:batch_run:\(id)"])
        var report = BatchReport(batchRunID: id, batch: BatchKind(rawValue: batch.string(0, "batch")!)!,
                           businessDate: LocalDate(iso: batch.string(0, "business_date")!)!, scheduledFor: date("scheduled_for")!,
                           runNumber: batch.int(0, "run_number")!, trigger: batch.string(0, "trigger")!,
                           state: BatchState(rawValue: batch.string(0, "state")!)!,
                           jobs: dependencyOrder(jobs, dependencies: dependencies), startedAt: date("started_at")!,
                           finishedAt: date("finished_at"), warnings: parseTextArray(batch.string(0, "warnings") ?? "{}"),
                           summary: summary, summaryError: batch.string(0, "summary_error"), rejects: rejects,
                           rejectCount: rejected.int(0, "total") ?? 0)
        report.deadline = date("deadline")
        if mail.rowCount == 1 {
            report.summaryMail = MailDelivery(id: mail.int(0, "id")!, state: MailState(rawValue: mail.string(0, "state")!) ?? .queued,
                                              attempts: mail.int(0, "attempts")!, recipients: [mail.string(0, "recipients")!],
                                              lastReply: mail.string(0, "last_reply"), lastError: mail.string(0, "last_error"))
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
