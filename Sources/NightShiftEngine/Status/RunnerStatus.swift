import Foundation
import NightShiftCore
import PostgresClient

/// What `nightshift status` shows: what runs now (with progress, rate and ETA), what waits and
/// why, the runners and their heartbeats, and anything stuck. Read from the runner tables.
public struct RunnerStatus: Codable, Sendable {
    public struct Running: Codable, Sendable {
        public let jobRunID: Int
        public let batchRunID: Int
        public let batch: String
        public let businessDate: String
        public let job: String
        public let priority: Int
        public let attempt: Int
        public let runner: String
        /// Rows done in this attempt, as of `progressAgeSeconds` ago.
        public let processed: Int?
        /// The rows the job's last successful run processed (the expected total), if any.
        public let expectedTotal: Int?
        public let percent: Double?
        public let rowsPerSecond: Double?
        /// Real seconds until the expected total at the current rate.
        public let etaSeconds: Double?
        public let progressAgeSeconds: Double?
        public let leaseSecondsLeft: Double
    }

    public struct Waiting: Codable, Sendable {
        public let jobRunID: Int
        public let batchRunID: Int
        public let batch: String
        public let job: String
        public let state: String
        public let priority: Int
        public let why: String
    }

    public struct RunnerInfo: Codable, Sendable {
        public let id: String
        public let state: String
        public let leader: Bool
        public let workers: Int
        public let mode: String
        public let heartbeatAgeSeconds: Double
        /// The runner's clock at its last heartbeat (simulated when it runs with --at/--speed).
        public let clock: String
        public let alive: Bool
    }

    public let at: String
    public let running: [Running]
    public let waiting: [Waiting]
    public let runners: [RunnerInfo]
    /// Things a person should look at: expired leases not yet rescued, summaries not written.
    public let stuck: [String]

    /// A request for work not finished yet (`nightshift requests` shows them all).
    public struct OpenRequest: Codable, Sendable {
        public let id: Int
        public let state: String
        public let what: String
        public let requestedBy: String
        /// What it waits for, or where it runs.
        public let situation: String
    }
    public let requests: [OpenRequest]

    /// The mail outbox: messages by state, and those waiting or dead (oldest first).
    public struct Mail: Codable, Sendable {
        public struct Letter: Codable, Sendable {
            public let id: Int
            public let subject: String
            public let state: String
            public let attempts: Int
            public let nextAttemptAt: String?
            public let lastError: String?
        }
        /// The SMTP server mail goes to (mail.smtp.url), nil when none is configured.
        public let server: String?
        public let queued: Int
        public let sending: Int
        public let sent: Int
        public let dead: Int
        /// When the oldest message not sent yet was queued (the runner's clock).
        public let oldestWaitingSince: String?
        public let letters: [Letter]
    }
    public var mail: Mail? = nil
    /// The delivery queue (nil: nothing was ever queued for delivery).
    public var deliveries: DeliveriesStatus? = nil

    /// Alerts raised in the last 24 hours (database clock), newest first.
    public struct Alert: Codable, Sendable {
        public let id: Int
        public let kind: String
        public let subject: String
        public let raisedAt: String
        /// Whether its mail went to the on-call list (nil: nobody is on call).
        public let mailState: String?
    }
    public var alerts: [Alert] = []

    /// Rows no part of this NightShift can read (a state no enum knows, written by hand or by
    /// another version): each names the table, the row, the column and the value. The runner
    /// leaves them alone; a person corrects or removes them.
    public var needsALook: [String] = []

    /// Reads the status; `leaseSeconds` decides when a silent runner counts as gone.
    public static func load(db: PostgresConnection, leaseSeconds: Int, zone: TimeZone, smtpServer: String? = nil) throws -> RunnerStatus {
        // A row that cannot be read is left out of its section and listed under "needs a look".
        var unreadableRows: [RowDecodingError] = []
        let unreadable = { (error: RowDecodingError) in unreadableRows.append(error) }
        let running = try db.query("""
            SELECT j.id, j.batch_run_id, b.batch, b.business_date::text AS business_date, j.job, j.priority, j.attempts, j.lease_owner,
                   j.progress_rows,
                   extract(epoch FROM clock_timestamp() - j.progress_at)::float8 AS progress_age,
                   extract(epoch FROM j.progress_at - j.attempt_started_real)::float8 AS elapsed,
                   extract(epoch FROM j.lease_expires_at - clock_timestamp())::float8 AS lease_left,
                   (SELECT p.rows_processed FROM nightshift.job_runs p
                    WHERE p.job = j.job AND p.state = ANY(\(JobState.successes)) AND p.rows_processed > 0 ORDER BY p.finished_at DESC LIMIT 1) AS expected
            FROM nightshift.job_runs j JOIN nightshift.batch_runs b ON b.id = j.batch_run_id
            WHERE j.state = 'running' ORDER BY j.priority, j.id
            """)
        var stuck: [String] = []
        let runningJobs = try running.decode(of: "nightshift.job_runs", unreadable: unreadable) { row -> Running in
            let processed = try row.optionalInt("progress_rows")
            let expected = try row.optionalInt("expected")
            let elapsed = try row.optionalDouble("elapsed")
            let rate = processed.flatMap { done in elapsed.flatMap { $0 > 0 ? Double(done) / $0 : nil } }
            let percent = processed.flatMap { done in expected.map { min(100, 100 * Double(done) / Double(max($0, 1))) } }
            let eta = rate.flatMap { r in processed.flatMap { done in expected.map { r > 0 ? max(0, Double($0 - done) / r) : 0 } } }
            let leaseLeft = try row.optionalDouble("lease_left") ?? 0
            let job = try row.text("job")
            let id = try row.int("id")
            let owner = try row.optionalText("lease_owner")
            if leaseLeft < 0 {
                stuck.append("job \(job) (job run \(id)): the lease of \(owner ?? "?") expired \(Int(-leaseLeft)) s ago; a runner's rescuer will put it back in the queue")
            }
            return Running(jobRunID: id, batchRunID: try row.int("batch_run_id"),
                           batch: try row.text("batch"), businessDate: try row.text("business_date"), job: job,
                           priority: try row.int("priority"), attempt: try row.int("attempts"),
                           runner: owner ?? "", processed: processed, expectedTotal: expected,
                           percent: percent, rowsPerSecond: rate, etaSeconds: eta,
                           progressAgeSeconds: try row.optionalDouble("progress_age"), leaseSecondsLeft: leaseLeft)
        }

        let waiting = try db.query("""
            SELECT j.id, j.batch_run_id, b.batch, j.job, j.state, j.priority, j.not_before, to_char(j.not_before AT TIME ZONE \(zone.identifier), 'YYYY-MM-DD HH24:MI:SS') AS not_before_local,
                   (SELECT string_agg(d.job || ' (' || d.state || ')', ', ' ORDER BY d.job) FROM nightshift.job_runs d
                    WHERE d.batch_run_id = j.batch_run_id AND d.job = ANY (j.depends_on)
                      AND NOT (d.state = ANY(\(JobState.successes)) OR (d.state = 'skipped' AND d.skipped_by_override))) AS blockers,
                   (SELECT t.reason FROM nightshift.state_transitions t WHERE t.job_run_id = j.id ORDER BY t.id DESC LIMIT 1) AS last_reason,
                   (SELECT count(*) FROM nightshift.job_runs r WHERE r.batch_run_id = j.batch_run_id AND r.state = 'running') AS running_in_batch,
                   j.wait_reason, to_char(j.wait_until AT TIME ZONE \(zone.identifier), 'YYYY-MM-DD HH24:MI') AS wait_until_local, b.waiting_for
            FROM nightshift.job_runs j JOIN nightshift.batch_runs b ON b.id = j.batch_run_id
            WHERE b.state = 'running' AND j.state = ANY(\(JobState.queued))
            ORDER BY j.priority, b.scheduled_for, j.id
            """)
        let waitingJobs = try waiting.decode(of: "nightshift.job_runs", unreadable: unreadable) { row -> Waiting in
            var why: String
            let lastReason = try row.optionalText("last_reason")
            if let held = try row.optionalText("waiting_for") {
                why = "the batch waits for \(held)"
            } else if let blockers = try row.optionalText("blockers") {
                why = "waits for \(blockers)"
            } else if let reason = try row.optionalText("wait_reason") {
                // What the dispatcher's decision model said on its last pass.
                why = try row.optionalText("wait_until_local").map { "waits until \($0) (runner clock): \(reason)" } ?? "waits: \(reason)"
            } else if let notBefore = try row.optionalText("not_before_local") {
                why = "retry back-off until \(notBefore) (runner clock); last: \(lastReason ?? "")"
            } else if let reason = lastReason, reason.hasPrefix("released") || reason.hasPrefix("lease of") {
                why = "ready to resume: \(reason)"
            } else if (try row.optionalInt("running_in_batch") ?? 0) > 0 {
                why = "ready; waits for a free slot (limits.concurrent_jobs per runner)"
            } else {
                why = "ready; waits for a runner to claim it"
            }
            let state = try row.value("state", as: JobState.self)
            if state == .paused {
                why = "paused: \(lastReason ?? "")" + (why.hasPrefix("ready") ? "" : "; \(why)")
            }
            return Waiting(jobRunID: try row.int("id"), batchRunID: try row.int("batch_run_id"),
                           batch: try row.text("batch"), job: try row.text("job"),
                           state: state.rawValue, priority: try row.int("priority"), why: why)
        }

        let runners = try db.query("""
            SELECT id, state, is_leader, workers, mode, problem, extract(epoch FROM clock_timestamp() - heartbeat_at)::float8 AS age,
                   to_char(clock_now AT TIME ZONE \(zone.identifier), 'YYYY-MM-DD HH24:MI:SS') AS clock
            FROM nightshift.runners
            WHERE state <> 'stopped' OR stopped_at > clock_timestamp() - interval '1 hour'
            ORDER BY started_at DESC LIMIT 50
            """)
        let runnerInfos = try runners.decode(of: "nightshift.runners", unreadable: unreadable) { row -> RunnerInfo in
            let age = try row.optionalDouble("age") ?? 0
            let state = try row.value("state", as: RunnerState.self)
            let alive = state != .stopped && age <= Double(leaseSeconds)
            if alive, let problem = try row.optionalText("problem") { stuck.append("runner \(try row.text("id")): \(problem)") }
            return RunnerInfo(id: try row.text("id"), state: state != .stopped && !alive ? "lost" : state.rawValue,
                              leader: try row.bool("is_leader") && alive, workers: try row.int("workers"),
                              mode: try row.text("mode"), heartbeatAgeSeconds: age,
                              clock: try row.optionalText("clock") ?? "", alive: alive)
        }

        let unsummarised = try db.query("""
            SELECT id, batch, business_date::text AS d, summary_error FROM nightshift.batch_runs
            WHERE state <> 'running' AND summary_at IS NULL ORDER BY id
            """)
        stuck += try unsummarised.decode(of: "nightshift.batch_runs", unreadable: unreadable) { row in
            "batch run \(try row.int("id")) (\(try row.text("batch")) \(try row.text("d"))) has ended but its summary is not written"
                + (try row.optionalText("summary_error").map { ": \($0)" } ?? " yet")
        }
        if !runningJobs.isEmpty || !waitingJobs.isEmpty, !runnerInfos.contains(where: \.alive) {
            stuck.append("work is waiting but no runner is alive: start `nightshift run` (or the systemd unit)")
        }
        let now = try db.query("SELECT extract(epoch FROM clock_timestamp())::float8 AS t").double(0, "t") ?? 0
        let requests = try RequestStore(db: db).list(since: Date(timeIntervalSince1970: now), unreadable: unreadable).filter(\.state.isOpen).map {
            OpenRequest(id: $0.id, state: $0.state.rawValue, what: $0.what, requestedBy: $0.requestedBy, situation: $0.situation)
        }
        let outbox = try OutboxStore(db: db).status()
        for letter in outbox.letters where letter.state == .dead {
            stuck.append("mail #\(letter.id) \"\(letter.subject)\" is a dead letter after \(letter.attempts) attempt\(letter.attempts == 1 ? "" : "s"): \(letter.lastError ?? "")"
                         + " — fix the cause, then `nightshift mail retry \(letter.id)`")
        }
        if smtpServer == nil, outbox.waiting > 0 {
            stuck.append("\(outbox.waiting) message\(outbox.waiting == 1 ? " waits" : "s wait") in the outbox and no SMTP server is configured: set mail.smtp in etc/nightshift.yaml")
        }
        let deliveries = try DeliveriesStatus.load(db: db, zone: zone)
        stuck += deliveries?.stuck ?? []
        var status = RunnerStatus(at: Date(timeIntervalSince1970: now).iso8601(in: zone), running: runningJobs, waiting: waitingJobs,
                                  runners: runnerInfos, stuck: stuck, requests: requests)
        let alerts = try db.query("""
            SELECT a.id, a.kind, a.subject, extract(epoch FROM a.raised_at)::float8 AS raised_at, m.state AS mail_state
            FROM nightshift.alerts a LEFT JOIN nightshift.mail_outbox m ON m.id = a.mail_id
            WHERE a.raised_at > now() - interval '24 hours' OR a.id IN (SELECT id FROM nightshift.alerts ORDER BY id DESC LIMIT 5)
            ORDER BY a.id DESC LIMIT 20
            """)
        status.alerts = try alerts.decode(of: "nightshift.alerts", unreadable: unreadable) { row in
            Alert(id: try row.int("id"), kind: try row.text("kind"), subject: try row.text("subject"),
                  raisedAt: (try row.optionalDate("raised_at") ?? Date(timeIntervalSince1970: 0)).iso8601(in: zone),
                  mailState: try row.optionalText("mail_state"))
        }
        status.mail = Mail(server: smtpServer, queued: outbox.counts[.queued] ?? 0, sending: outbox.counts[.sending] ?? 0,
                           sent: outbox.counts[.sent] ?? 0, dead: outbox.counts[.dead] ?? 0,
                           oldestWaitingSince: outbox.oldestWaiting?.iso8601(in: zone),
                           letters: outbox.letters.map {
                               Mail.Letter(id: $0.id, subject: $0.subject, state: $0.state.rawValue, attempts: $0.attempts,
                                           nextAttemptAt: $0.nextAttemptAt?.iso8601(in: zone), lastError: $0.lastError)
                           })
        status.deliveries = deliveries?.status
        // What this status could not read, and every row holding a state no enum knows.
        var seen: Set<String> = []
        for error in unreadableRows + (try SchemaStates.unknownValues(db: db)) where seen.insert("\(error.row) \(error.column)").inserted {
            status.needsALook.append(error.description)
        }
        return status
    }
}

/// What `nightshift history` shows: recent batch runs with their jobs.
public enum BatchHistory {
    /// Newest first; a batch run that cannot be read is its decoding error, in its place.
    public static func recent(db: PostgresConnection, limit: Int) throws -> [Result<BatchReport, RowDecodingError>] {
        let ids = try db.query("SELECT id FROM nightshift.batch_runs ORDER BY scheduled_for DESC, run_number DESC, id DESC LIMIT \(limit)")
        return try ids.decode(of: "nightshift.batch_runs") { try $0.int("id") }.map { id in
            do {
                return .success(try BatchReport.load(id, db: db))
            } catch let error as RowDecodingError {
                return .failure(error)
            }
        }
    }
}
