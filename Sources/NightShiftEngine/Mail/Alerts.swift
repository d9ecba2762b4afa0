import Foundation
import NightShiftConfig
import NightShiftCore
import NightShiftMail
import PostgresClient

/// Immediate alerts to the on-call list (`mail.on_call`), one per incident (`nightshift.alerts`,
/// UNIQUE incident: a retry, another runner or the next pass never alerts twice):
/// - a P1 job failed for good;
/// - a batch will miss its window: the earliest likely finish of its remaining work
///   (`FinishForecast`, from each job's expected duration) passes the window's end — said before
///   it happens — or the window ended with work not done;
/// - a P2 job has not started by its start deadline (`PriorityPolicy.latestStart`, the rule the
///   dispatcher's late-start warning uses), or started after it;
/// - a runner lost its lease on a job (rescued from its checkpoint);
/// - the outbox backs up: a message has waited more than `mail.outbox_alert_minutes`, or became a
///   dead letter.
/// Every incident is recorded and logged; its mail is queued in the outbox (kind `alert`).
/// Incidents are looked for in the last day of the runner's clock only.
struct Alerts {
    let configuration: Configuration
    /// A row that cannot be read raises nothing and goes here; the other incidents are raised.
    var unreadable: (RowDecodingError) -> Void = { _ in }

    /// What happened (`nightshift.alerts.kind`).
    enum Kind: String, Sendable, CaseIterable {
        case p1Failed = "p1_failed", windowMiss = "window_miss", lateStart = "late_start", leaseLost = "lease_lost"
        case outboxBacklog = "outbox_backlog", mailDead = "mail_dead", runnerProblem = "runner_problem", deliveryDead = "delivery_dead"
    }

    struct Incident: Equatable {
        let key: String
        let kind: Kind
        let batchRunID: Int?
        let jobRunID: Int?
        let subject: String
        let detail: [String]
        let todo: String
    }

    /// Raises what is new; returns the incidents raised now.
    func runOnce(db: PostgresConnection, now: Date, runner: String) throws -> [Incident] {
        var raised: [Incident] = []
        for incident in try incidents(db: db, now: now) where try raise(incident, db: db, now: now, runner: runner) {
            raised.append(incident)
        }
        return raised
    }

    func incidents(db: PostgresConnection, now: Date) throws -> [Incident] {
        try failedP1(db, now) + windowMisses(db, now) + lateStarts(db, now) + lostLeases(db, now) + outbox(db, now) + runnerProblems(db)
            + deadDeliveries(db)
    }

    private var zone: TimeZone { configuration.settings.timeZone }
    private func local(_ date: Date) -> String { LocalDateTime(date, in: zone).description }
    /// No alert was raised yet for the incident `prefix || key` (`key`: an SQL expression of the row).
    private static func unseen(_ prefix: String, _ key: SQL) -> SQL {
        "NOT EXISTS (SELECT 1 FROM nightshift.alerts a WHERE a.incident = \(prefix)::text || \(key))"
    }

    private func failedP1(_ db: PostgresConnection, _ now: Date) throws -> [Incident] {
        let rows = try db.query("""
            SELECT j.id, j.job, j.state, j.attempts, j.error_message, j.batch_run_id, b.batch, b.business_date::text AS d
            FROM nightshift.job_runs j JOIN nightshift.batch_runs b ON b.id = j.batch_run_id
            WHERE j.priority = 1 AND j.state = ANY(\(JobState.failures)) AND j.finished_at >= \(now)::timestamptz - interval '1 day'
              AND \(Alerts.unseen("p1_failed:job_run:", "j.id"))
            """)
        return try rows.decode(of: "nightshift.job_runs", unreadable: unreadable) { row in
            let job = try row.text("job"), batch = try row.text("batch"), date = try row.text("d")
            let state = try row.value("state", as: JobState.self)
            let id = try row.int("id")
            return Incident(key: "p1_failed:job_run:\(id)", kind: .p1Failed, batchRunID: try row.int("batch_run_id"),
                            jobRunID: id, subject: "P1 job \(job) \(state == .timedOut ? "TIMED OUT" : "FAILED") (\(batch) \(date))",
                            detail: ["\(job) (P1) of the \(batch) batch for \(date) ended \(state.rawValue) after \(try row.optionalInt("attempts") ?? 0) attempt(s).",
                                     "error: \(try row.optionalText("error_message") ?? "(none recorded)")",
                                     "Jobs that depend on it are skipped."],
                            todo: "Fix the cause named in the error, then run the batch again: nightshift run --once --batch \(batch) --rerun (or nightshift submit).")
        }
    }

    private func windowMisses(_ db: PostgresConnection, _ now: Date) throws -> [Incident] {
        let jobs = try db.query("""
            SELECT b.id AS batch_run_id, b.batch, b.business_date::text AS d, extract(epoch FROM b.deadline)::float8 AS deadline,
                   j.job, j.depends_on::text AS depends_on, j.state, j.priority,
                   greatest(1, j.expected_seconds - j.run_seconds
                               - CASE WHEN j.state = 'running' THEN greatest(0, extract(epoch FROM \(now)::timestamptz - j.attempt_started_at)) ELSE 0 END)::float8 AS seconds
            FROM nightshift.batch_runs b JOIN nightshift.job_runs j ON j.batch_run_id = b.id
            WHERE b.state = 'running' AND b.waiting_for IS NULL AND b.deadline IS NOT NULL
              AND j.state = ANY(\(JobState.open))
              AND \(Alerts.unseen("window_miss:batch_run:", "b.id"))
            ORDER BY b.id, j.priority, greatest(1, j.expected_seconds - j.run_seconds) + j.tail_seconds DESC, j.job
            """)
        guard jobs.rowCount > 0 else { return [] }
        let slots = try db.query("""
            SELECT coalesce(sum(workers), 0)::int FROM nightshift.runners
            WHERE state = 'running' AND heartbeat_at > clock_timestamp() - make_interval(secs => \(configuration.settings.service.leaseSeconds)::int)
            """).int(0, 0) ?? 0
        struct Remaining { let batchRun: Int; let batch: String; let date: String; let deadline: Date; let work: FinishForecast.Work }
        let remaining = try jobs.decode(of: "nightshift.batch_runs", id: "batch_run_id", unreadable: unreadable) { row in
            Remaining(batchRun: try row.int("batch_run_id"), batch: try row.text("batch"), date: try row.text("d"), deadline: try row.date("deadline"),
                      work: FinishForecast.Work(name: try row.text("job"), dependsOn: parseTextArray(try row.optionalText("depends_on") ?? "{}"),
                                                seconds: try row.optionalDouble("seconds") ?? 1,
                                                running: try row.value("state", as: JobState.self) == .running))
        }
        let byBatch = Dictionary(grouping: remaining, by: \.batchRun)
        return byBatch.keys.sorted().compactMap { id -> Incident? in
            guard let rows = byBatch[id], let first = rows.first else { return nil }
            let deadline = first.deadline
            let work = rows.map(\.work)
            let finish = FinishForecast.finish(of: work, now: now, slots: max(1, slots))
            guard finish > deadline else { return nil }
            let batch = first.batch, date = first.date
            let remaining = work.map(\.seconds).reduce(0, +)
            let passed = now >= deadline
            return Incident(
                key: "window_miss:batch_run:\(id)", kind: .windowMiss, batchRunID: id, jobRunID: nil,
                subject: passed ? "the \(batch) batch (\(date)) MISSED its window (ended \(local(deadline)))"
                    : "the \(batch) batch (\(date)) will miss its window: likely done \(local(finish)), window ends \(local(deadline))",
                detail: [passed ? "Its window ended at \(local(deadline)) with \(work.count) job(s) not done."
                    : "From each job's expected duration (its recent runs), the \(work.count) job(s) left need about \(formatDuration(remaining)) of work on \(max(1, slots)) job slot(s): the earliest likely end is \(local(finish)), \(formatDuration(finish.timeIntervalSince(deadline))) after the window ends at \(local(deadline)).",
                         "Not done: " + work.map { "\($0.name)\($0.running ? " (running)" : "")" }.joined(separator: ", ")],
                todo: passed ? "Jobs not started are skipped when the window ends; run them again in the next window (nightshift run --once --batch \(batch) --rerun) or tomorrow night."
                    : "Look at `nightshift status` for what runs and waits; add a runner or job slots, or decide which P4 work may wait for tomorrow (nightshift override).")
        }
    }

    private func lateStarts(_ db: PostgresConnection, _ now: Date) throws -> [Incident] {
        let rows = try db.query("""
            SELECT j.id, j.job, j.batch_run_id, b.batch, b.business_date::text AS d, j.attempts, j.late_start_seconds, j.wait_reason,
                   extract(epoch FROM j.due_at)::float8 AS due
            FROM nightshift.job_runs j JOIN nightshift.batch_runs b ON b.id = j.batch_run_id
            WHERE j.priority = 2 AND j.due_at IS NOT NULL
              AND ((j.attempts = 0 AND j.state = 'pending' AND b.state = 'running' AND b.waiting_for IS NULL)
                   OR (j.late_start_seconds > 0 AND j.attempt_started_at >= \(now)::timestamptz - interval '1 day'))
              AND \(Alerts.unseen("late_start:job_run:", "j.id"))
            """)
        return try rows.decode(of: "nightshift.job_runs", unreadable: unreadable) { row -> Incident? in
            let due = try row.date("due")
            guard let latest = configuration.priorityPolicy.latestStart(.p2, due: due), now > latest else { return nil }
            let job = try row.text("job"), batch = try row.text("batch"), date = try row.text("d")
            let started = (try row.optionalInt("attempts") ?? 0) > 0
            let late = started ? Double(try row.optionalInt("late_start_seconds") ?? 0) : now.timeIntervalSince(latest)
            let waitReason = try row.optionalText("wait_reason")
            let id = try row.int("id")
            return Incident(key: "late_start:job_run:\(id)", kind: .lateStart, batchRunID: try row.int("batch_run_id"),
                            jobRunID: id,
                            subject: "P2 job \(job) \(started ? "started" : "has not started") \(formatDuration(late)) after its start deadline (\(batch) \(date))",
                            detail: ["\(job) (P2) of the \(batch) batch for \(date) was due at \(local(due)) and had to start by \(local(latest)).",
                                     started ? "It started \(formatDuration(late)) late." : "It has not started yet\(waitReason.map { ": it waits because \($0)" } ?? ".")"],
                            todo: "Look at `nightshift status` for what holds it (dependencies, slots, windows, locks); P2 work comes before P3 and P4.")
        }.compactMap { $0 }
    }

    private func lostLeases(_ db: PostgresConnection, _ now: Date) throws -> [Incident] {
        let rows = try db.query("""
            SELECT t.id, t.reason, t.to_state, t.batch_run_id, t.job_run_id, j.job, b.batch, b.business_date::text AS d
            FROM nightshift.state_transitions t JOIN nightshift.job_runs j ON j.id = t.job_run_id JOIN nightshift.batch_runs b ON b.id = t.batch_run_id
            WHERE t.from_state = 'running' AND t.reason LIKE 'lease of % expired:%' AND t.at >= \(now)::timestamptz - interval '1 day'
              AND \(Alerts.unseen("lease_lost:transition:", "t.id"))
            ORDER BY t.id
            """)
        return try rows.decode(of: "nightshift.state_transitions", unreadable: unreadable) { row in
            let job = try row.text("job"), reason = try row.text("reason")
            let owner = reason.dropFirst("lease of ".count).prefix { $0 != " " }
            let failed = try row.text("to_state") == JobState.failed.rawValue
            let batch = try row.text("batch"), date = try row.text("d")
            return Incident(key: "lease_lost:transition:\(try row.int("id"))", kind: .leaseLost, batchRunID: try row.int("batch_run_id"),
                            jobRunID: try row.optionalInt("job_run_id"),
                            subject: "runner \(owner) lost its lease on \(job) (\(batch) \(date))",
                            detail: ["Runner \(owner) stopped renewing its lease on \(job): it died, hung or lost the database.",
                                     failed ? "The job had used its retries and FAILED." : "The job went back to the queue and resumes from its last checkpoint on any live runner."],
                            todo: "Check runner \(owner)'s host and its log (journalctl -u nightshift); `nightshift status` shows the live runners.")
        }
    }

    /// A live runner that says something keeps one of its services from working (its inbox), once
    /// per runner and problem.
    private func runnerProblems(_ db: PostgresConnection) throws -> [Incident] {
        let rows = try db.query("""
            SELECT id, problem, md5(problem) AS digest FROM nightshift.runners r
            WHERE problem IS NOT NULL AND state <> 'stopped'
              AND \(Alerts.unseen("runner_problem:", "r.id || ':' || md5(r.problem)"))
            """)
        return try rows.decode(of: "nightshift.runners", unreadable: unreadable) { row in
            let runner = try row.text("id"), problem = try row.text("problem")
            return Incident(key: "runner_problem:\(runner):\(try row.text("digest"))", kind: .runnerProblem, batchRunID: nil, jobRunID: nil,
                            subject: "runner \(runner): \(problem.prefix(120))",
                            detail: ["Runner \(runner) says: \(problem)", "It keeps working on everything else."],
                            todo: "Fix what it names (for the inbox: the folders under paths.inbox must be real directories of the runner's account, mode 0750); the runner sees the fix on its next pass.")
        }
    }

    private func deadDeliveries(_ db: PostgresConnection) throws -> [Incident] {
        let rows = try db.query("""
            SELECT d.id, d.target, d.remote_name, d.attempts, d.last_error, d.job_run_id, j.batch_run_id
            FROM nightshift.deliveries d JOIN nightshift.job_runs j ON j.id = d.job_run_id
            WHERE d.state = \(DeliveryState.dead) AND \(Alerts.unseen("delivery_dead:delivery:", "d.id"))
            ORDER BY d.id
            """)
        return try rows.decode(of: "nightshift.deliveries", unreadable: unreadable) { row in
            let id = try row.int("id"), name = try row.text("remote_name"), target = try row.text("target")
            return Incident(key: "delivery_dead:delivery:\(id)", kind: .deliveryDead, batchRunID: try row.int("batch_run_id"),
                            jobRunID: try row.int("job_run_id"), subject: "\(name) was not delivered to \(target) (dead letter)",
                            detail: ["After \(try row.int("attempts")) attempt(s): \(try row.optionalText("last_error") ?? "")",
                                     "The file stays on the runner's disk; the other files of its job wait behind it."],
                            todo: "Fix the cause, then `nightshift deliveries retry \(id)`.")
        }
    }

    private func outbox(_ db: PostgresConnection, _ now: Date) throws -> [Incident] {
        let minutes = configuration.settings.mail.outboxAlertMinutes
        let rows = try db.query("""
            SELECT m.id, m.subject, m.state, m.attempts, m.last_error, extract(epoch FROM m.created_at)::float8 AS created,
                   (SELECT count(*) FROM nightshift.mail_outbox w WHERE w.state = ANY(\(MailState.waiting))) AS waiting
            FROM nightshift.mail_outbox m
            WHERE m.kind <> 'alert' AND m.created_at >= \(now)::timestamptz - interval '1 day'
              AND ((m.state = ANY(\(MailState.waiting)) AND m.created_at < \(now)::timestamptz - make_interval(mins => \(minutes)::int)
                    AND \(Alerts.unseen("outbox_backlog:mail:", "m.id")))
                   OR (m.state = \(MailState.dead) AND \(Alerts.unseen("mail_dead:mail:", "m.id"))))
            ORDER BY m.id
            """)
        var incidents: [Incident] = []
        var backlogRaised = false
        struct Waiting { let id: Int; let subject: String; let error: String; let state: MailState; let attempts: Int; let created: Date; let waiting: Int }
        let waiting = try rows.decode(of: "nightshift.mail_outbox", unreadable: unreadable) { row in
            Waiting(id: try row.int("id"), subject: try row.text("subject"), error: try row.optionalText("last_error") ?? "no attempt yet",
                    state: try row.value("state", as: MailState.self), attempts: try row.optionalInt("attempts") ?? 0,
                    created: try row.date("created"), waiting: try row.optionalInt("waiting") ?? 0)
        }
        for mail in waiting {
            let id = mail.id, subject = mail.subject, error = mail.error
            if mail.state == .dead {
                incidents.append(Incident(key: "mail_dead:mail:\(id)", kind: .mailDead, batchRunID: nil, jobRunID: nil,
                                          subject: "mail #\(id) was not delivered (dead letter): \(subject)",
                                          detail: ["After \(mail.attempts) attempt(s): \(error)"],
                                          todo: "Fix the cause, then `nightshift mail retry \(id)`."))
            } else if !backlogRaised {
                // One backlog incident at a time: the oldest waiting message names it.
                backlogRaised = true
                incidents.append(Incident(key: "outbox_backlog:mail:\(id)", kind: .outboxBacklog, batchRunID: nil, jobRunID: nil,
                                          subject: "the mail outbox is backing up: \(mail.waiting) message(s) waiting, the oldest since \(local(mail.created))",
                                          detail: ["The oldest, mail #\(id) \"\(subject)\", waits after \(mail.attempts) attempt(s): \(error)"],
                                          todo: configuration.settings.mail.smtp.map {
                                              "Check the mail server (\($0.url)) and `nightshift mail list`; the outbox sends everything once it answers."
                                          } ?? "No SMTP server is configured: set mail.smtp in etc/nightshift.yaml."))
            }
        }
        return incidents
    }

    /// Records `incident` once; queues its mail when someone is on call. False when it was raised before.
    private func raise(_ incident: Incident, db: PostgresConnection, now: Date, runner: String) throws -> Bool {
        try db.transaction {
            let inserted = try db.query("""
                INSERT INTO nightshift.alerts (incident, kind, batch_run_id, job_run_id, subject, detail, raised_at, raised_by)
                VALUES (\(incident.key), \(incident.kind.rawValue), \(incident.batchRunID)::bigint, \(incident.jobRunID)::bigint, \(incident.subject), \(incident.detail.joined(separator: "\n")), \(now)::timestamptz, \(runner))
                ON CONFLICT (incident) DO NOTHING RETURNING id
                """)
            guard inserted.rowCount == 1, let id = inserted.int(0, "id") else { return false }
            let mail = configuration.settings.mail
            guard !mail.onCall.isEmpty else { return true }
            let templates = try MailTemplates(directory: configuration.settings.templatesDirectory, name: "alert")
            let rendered = templates.render([
                "subject": incident.subject, "kind": incident.kind.rawValue, "detail": incident.detail, "todo": incident.todo,
                "raised_at": local(now), "zone": zone.identifier, "alert_id": id, "runner": runner,
            ])
            let message = MailMessage(from: mail.from, to: mail.onCall, subject: rendered.subject, date: now, text: rendered.text, html: rendered.html)
            if let mailID = try OutboxStore(db: db).enqueue(kind: "alert", dedupeKey: "alert:\(incident.key)", batchRunID: incident.batchRunID,
                                                           message: message, now: now, by: runner) {
                try db.query("UPDATE nightshift.alerts SET mail_id = \(mailID) WHERE id = \(id)")
            }
            return true
        }
    }
}
