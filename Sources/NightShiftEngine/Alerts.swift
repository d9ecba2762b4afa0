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

    /// What happened (`nightshift.alerts.kind`).
    enum Kind: String, Sendable, CaseIterable {
        case p1Failed = "p1_failed", windowMiss = "window_miss", lateStart = "late_start", leaseLost = "lease_lost"
        case outboxBacklog = "outbox_backlog", mailDead = "mail_dead"
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
        try failedP1(db, now) + windowMisses(db, now) + lateStarts(db, now) + lostLeases(db, now) + outbox(db, now)
    }

    private var zone: TimeZone { configuration.settings.timeZone }
    private func local(_ date: Date) -> String { LocalDateTime(date, in: zone).description }
    private static let unseen = "NOT EXISTS (SELECT 1 FROM nightshift.alerts a WHERE a.incident = "

    private func failedP1(_ db: PostgresConnection, _ now: Date) throws -> [Incident] {
        let rows = try db.execute("""
            SELECT j.id, j.job, j.state, j.attempts, j.error_message, j.batch_run_id, b.batch, b.business_date::text AS d
            FROM nightshift.job_runs j JOIN nightshift.batch_runs b ON b.id = j.batch_run_id
            WHERE j.priority = 1 AND j.state IN ('failed', 'timed_out') AND j.finished_at >= $1::timestamptz - interval '1 day'
              AND \(Alerts.unseen)'p1_failed:job_run:' || j.id)
            """, [iso8601(now)])
        return (0..<rows.rowCount).map { row in
            let job = rows.string(row, "job")!, batch = rows.string(row, "batch")!, date = rows.string(row, "d")!
            let state = rows.string(row, "state")!
            return Incident(key: "p1_failed:job_run:\(rows.int(row, "id")!)", kind: .p1Failed, batchRunID: rows.int(row, "batch_run_id"),
                            jobRunID: rows.int(row, "id"), subject: "P1 job \(job) \(state == "timed_out" ? "TIMED OUT" : "FAILED") (\(batch) \(date))",
                            detail: ["\(job) (P1) of the \(batch) batch for \(date) ended \(state) after \(rows.int(row, "attempts") ?? 0) attempt(s).",
                                     "error: \(rows.string(row, "error_message") ?? "(none recorded)")",
                                     "Jobs that depend on it are skipped."],
                            todo: "Fix the cause named in the error, then run the batch again: nightshift run --once --batch \(batch) --rerun (or nightshift submit).")
        }
    }

    private func windowMisses(_ db: PostgresConnection, _ now: Date) throws -> [Incident] {
        let jobs = try db.execute("""
            SELECT b.id AS batch_run_id, b.batch, b.business_date::text AS d, extract(epoch FROM b.deadline)::float8 AS deadline,
                   j.job, j.depends_on::text AS depends_on, j.state, j.priority,
                   greatest(1, j.expected_seconds - j.run_seconds
                               - CASE WHEN j.state = 'running' THEN greatest(0, extract(epoch FROM $1::timestamptz - j.attempt_started_at)) ELSE 0 END)::float8 AS seconds
            FROM nightshift.batch_runs b JOIN nightshift.job_runs j ON j.batch_run_id = b.id
            WHERE b.state = 'running' AND b.waiting_for IS NULL AND b.deadline IS NOT NULL
              AND j.state IN ('pending', 'running', 'retrying', 'paused')
              AND \(Alerts.unseen)'window_miss:batch_run:' || b.id)
            ORDER BY b.id, j.priority, j.job
            """, [iso8601(now)])
        guard jobs.rowCount > 0 else { return [] }
        let slots = try db.execute("""
            SELECT coalesce(sum(workers), 0)::int FROM nightshift.runners
            WHERE state = 'running' AND heartbeat_at > clock_timestamp() - make_interval(secs => $1::int)
            """, [String(configuration.settings.service.leaseSeconds)]).int(0, 0) ?? 0
        var byBatch: [Int: [Int]] = [:]
        for row in 0..<jobs.rowCount { byBatch[jobs.int(row, "batch_run_id")!, default: []].append(row) }
        return byBatch.keys.sorted().compactMap { id -> Incident? in
            let rows = byBatch[id]!
            let first = rows[0]
            let deadline = Date(timeIntervalSince1970: jobs.double(first, "deadline")!)
            let work = rows.map { row in
                FinishForecast.Work(name: jobs.string(row, "job")!, dependsOn: parseTextArray(jobs.string(row, "depends_on") ?? "{}"),
                                    seconds: jobs.double(row, "seconds") ?? 1, running: jobs.string(row, "state") == "running")
            }
            let finish = FinishForecast.finish(of: work, now: now, slots: max(1, slots))
            guard finish > deadline else { return nil }
            let batch = jobs.string(first, "batch")!, date = jobs.string(first, "d")!
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
        let rows = try db.execute("""
            SELECT j.id, j.job, j.batch_run_id, b.batch, b.business_date::text AS d, j.attempts, j.late_start_seconds, j.wait_reason,
                   extract(epoch FROM j.due_at)::float8 AS due
            FROM nightshift.job_runs j JOIN nightshift.batch_runs b ON b.id = j.batch_run_id
            WHERE j.priority = 2 AND j.due_at IS NOT NULL
              AND ((j.attempts = 0 AND j.state = 'pending' AND b.state = 'running' AND b.waiting_for IS NULL)
                   OR (j.late_start_seconds > 0 AND j.attempt_started_at >= $1::timestamptz - interval '1 day'))
              AND \(Alerts.unseen)'late_start:job_run:' || j.id)
            """, [iso8601(now)])
        return (0..<rows.rowCount).compactMap { row -> Incident? in
            let due = Date(timeIntervalSince1970: rows.double(row, "due")!)
            guard let latest = configuration.priorityPolicy.latestStart(.p2, due: due), now > latest else { return nil }
            let job = rows.string(row, "job")!, batch = rows.string(row, "batch")!, date = rows.string(row, "d")!
            let started = (rows.int(row, "attempts") ?? 0) > 0
            let late = started ? Double(rows.int(row, "late_start_seconds") ?? 0) : now.timeIntervalSince(latest)
            return Incident(key: "late_start:job_run:\(rows.int(row, "id")!)", kind: .lateStart, batchRunID: rows.int(row, "batch_run_id"),
                            jobRunID: rows.int(row, "id"),
                            subject: "P2 job \(job) \(started ? "started" : "has not started") \(formatDuration(late)) after its start deadline (\(batch) \(date))",
                            detail: ["\(job) (P2) of the \(batch) batch for \(date) was due at \(local(due)) and had to start by \(local(latest)).",
                                     started ? "It started \(formatDuration(late)) late." : "It has not started yet\(rows.string(row, "wait_reason").map { ": it waits because \($0)" } ?? ".")"],
                            todo: "Look at `nightshift status` for what holds it (dependencies, slots, windows, locks); P2 work comes before P3 and P4.")
        }
    }

    private func lostLeases(_ db: PostgresConnection, _ now: Date) throws -> [Incident] {
        let rows = try db.execute("""
            SELECT t.id, t.reason, t.to_state, t.batch_run_id, t.job_run_id, j.job, b.batch, b.business_date::text AS d
            FROM nightshift.state_transitions t JOIN nightshift.job_runs j ON j.id = t.job_run_id JOIN nightshift.batch_runs b ON b.id = t.batch_run_id
            WHERE t.from_state = 'running' AND t.reason LIKE 'lease of % expired:%' AND t.at >= $1::timestamptz - interval '1 day'
              AND \(Alerts.unseen)'lease_lost:transition:' || t.id)
            ORDER BY t.id
            """, [iso8601(now)])
        return (0..<rows.rowCount).map { row in
            let job = rows.string(row, "job")!, reason = rows.string(row, "reason")!
            let owner = reason.dropFirst("lease of ".count).prefix { $0 != " " }
            let failed = rows.string(row, "to_state") == "failed"
            return Incident(key: "lease_lost:transition:\(rows.int(row, "id")!)", kind: .leaseLost, batchRunID: rows.int(row, "batch_run_id"),
                            jobRunID: rows.int(row, "job_run_id"),
                            subject: "runner \(owner) lost its lease on \(job) (\(rows.string(row, "batch")!) \(rows.string(row, "d")!))",
                            detail: ["Runner \(owner) stopped renewing its lease on \(job): it died, hung or lost the database.",
                                     failed ? "The job had used its retries and FAILED." : "The job went back to the queue and resumes from its last checkpoint on any live runner."],
                            todo: "Check runner \(owner)'s host and its log (journalctl -u nightshift); `nightshift status` shows the live runners.")
        }
    }

    private func outbox(_ db: PostgresConnection, _ now: Date) throws -> [Incident] {
        let minutes = configuration.settings.mail.outboxAlertMinutes
        let rows = try db.execute("""
            SELECT m.id, m.subject, m.state, m.attempts, m.last_error, extract(epoch FROM m.created_at)::float8 AS created,
                   (SELECT count(*) FROM nightshift.mail_outbox w WHERE w.state IN ('queued', 'sending')) AS waiting
            FROM nightshift.mail_outbox m
            WHERE m.kind <> 'alert' AND m.created_at >= $1::timestamptz - interval '1 day'
              AND ((m.state IN ('queued', 'sending') AND m.created_at < $1::timestamptz - make_interval(mins => $2::int)
                    AND \(Alerts.unseen)'outbox_backlog:mail:' || m.id))
                   OR (m.state = 'dead' AND \(Alerts.unseen)'mail_dead:mail:' || m.id)))
            ORDER BY m.id
            """, [iso8601(now), String(minutes)])
        var incidents: [Incident] = []
        var backlogRaised = false
        for row in 0..<rows.rowCount {
            let id = rows.int(row, "id")!, subject = rows.string(row, "subject")!
            let error = rows.string(row, "last_error") ?? "no attempt yet"
            if rows.string(row, "state") == "dead" {
                incidents.append(Incident(key: "mail_dead:mail:\(id)", kind: .mailDead, batchRunID: nil, jobRunID: nil,
                                          subject: "mail #\(id) was not delivered (dead letter): \(subject)",
                                          detail: ["After \(rows.int(row, "attempts") ?? 0) attempt(s): \(error)"],
                                          todo: "Fix the cause, then `nightshift mail retry \(id)`."))
            } else if !backlogRaised {
                // One backlog incident at a time: the oldest waiting message names it.
                backlogRaised = true
                let created = Date(timeIntervalSince1970: rows.double(row, "created")!)
                incidents.append(Incident(key: "outbox_backlog:mail:\(id)", kind: .outboxBacklog, batchRunID: nil, jobRunID: nil,
                                          subject: "the mail outbox is backing up: \(rows.int(row, "waiting") ?? 0) message(s) waiting, the oldest since \(local(created))",
                                          detail: ["The oldest, mail #\(id) \"\(subject)\", waits after \(rows.int(row, "attempts") ?? 0) attempt(s): \(error)"],
                                          todo: configuration.settings.mail.smtp == nil ? "No SMTP server is configured: set mail.smtp in etc/nightshift.yaml."
                                              : "Check the mail server (\(configuration.settings.mail.smtp!.url)) and `nightshift mail list`; the outbox sends everything once it answers."))
            }
        }
        return incidents
    }

    /// Records `incident` once; queues its mail when someone is on call. False when it was raised before.
    private func raise(_ incident: Incident, db: PostgresConnection, now: Date, runner: String) throws -> Bool {
        try db.transaction {
            let inserted = try db.execute("""
                INSERT INTO nightshift.alerts (incident, kind, batch_run_id, job_run_id, subject, detail, raised_at, raised_by)
                VALUES ($1, $2, $3::bigint, $4::bigint, $5, $6, $7::timestamptz, $8)
                ON CONFLICT (incident) DO NOTHING RETURNING id
                """, [incident.key, incident.kind.rawValue, incident.batchRunID.map(String.init), incident.jobRunID.map(String.init), incident.subject,
                      incident.detail.joined(separator: "\n"), iso8601(now), runner])
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
                try db.execute("UPDATE nightshift.alerts SET mail_id = $2 WHERE id = $1", [String(id), String(mailID)])
            }
            return true
        }
    }
}
