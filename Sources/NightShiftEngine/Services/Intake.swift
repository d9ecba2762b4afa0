import Foundation
import NightShiftConfig
import NightShiftCore
import PostgresClient

/// Takes work into the queue: event files from the inbox and requests. One pass, on a
/// connection that LISTENs on channel `nightshift_requests` (every accepted or approved request
/// NOTIFYs it):
///
/// 0. complete event files in the inbox are claimed, recorded and turned into requests (`Inbox`);
/// 1. requests awaiting approval longer than `approval_hours` expire;
/// 2. each accepted request is checked again against this runner's own configuration (role,
///    approval in production, quota, the job) and either refused or made a batch run — in one
///    transaction with the request's row locked (FOR UPDATE SKIP LOCKED: one runner takes it,
///    a crash leaves it accepted for the next pass). The batch run then waits in the one queue
///    until windows, priorities and limits let it start, with the reason recorded on its jobs;
/// 3. queued requests whose batch run ended are finished, with its outcome.
///
/// Every step is an audit row. Between passes the service waits for a notification or an inbox
/// change (inotify), at most `runner.poll_milliseconds` (the polling fallback when a notification
/// is missed, or when the inbox's file system has no inotify).
final class Intake: @unchecked Sendable {
    private let context: RunnerContext
    private let keeper: ConnectionKeeper
    /// The session that LISTENs (a reconnect LISTENs again).
    private var listening: Int32 = 0
    /// Called when a request became a batch run (wakes the dispatcher).
    var onQueued: () -> Void = {}
    private let inbox: Inbox
    private var notifier: InboxNotifier?
    private var inboxReady = false
    /// Files still settling: look again soon.
    private var settling = false
    /// The inbox's last failure (said once, not every pass).
    private var inboxFailure: String?

    init(context: RunnerContext) {
        self.context = context
        keeper = ConnectionKeeper(connect: context.connect)
        inbox = Inbox(root: context.configuration.settings.inboxDirectory)
    }

    private var actor: String { "runner \(context.identity.id)" }

    /// What keeps this runner's intake from working, on its runners row (status, alerts); nil: nothing.
    private func sayProblem(_ problem: String?, _ db: PostgresConnection) throws {
        try db.query("UPDATE nightshift.runners SET problem = \(problem) WHERE id = \(context.identity.id) AND problem IS DISTINCT FROM \(problem)")
    }

    func runOnce() throws {
        try keeper.use { db in
            if listening != db.backendPID {
                try db.query("LISTEN nightshift_requests")
                listening = db.backendPID
            }
            // A broken inbox (unwritable folder, full disk) must not hold up people's requests.
            do {
                try processInbox(db)
                if inboxFailure != nil { try sayProblem(nil, db) }
                inboxFailure = nil
            } catch let error as PostgresError {
                throw error
            } catch {
                if inboxFailure != "\(error)" {
                    context.logger.error("the inbox cannot be used; requests are still taken", metadata: ["inbox": "\(inbox.root)", "error": "\(error)"])
                    try sayProblem("the inbox cannot be used: \(error)", db)
                }
                inboxFailure = "\(error)"
            }
            try expire(db)
            while try takeNext(db) {}
            try finishEnded(db)
        }
    }

    /// Waits for a request notification or an inbox change, at most `seconds` (less while files settle).
    func waitForWork(upTo seconds: TimeInterval) throws {
        let wait = settling ? min(seconds, inbox.settle) : seconds
        try keeper.use { db in
            guard listening == db.backendPID else { return } // a new session: the next pass LISTENs and looks
            _ = try db.notifications(waitingUpTo: wait, orUntilReadable: notifier?.waitDescriptor)
        }
    }

    func close() {
        keeper.close()
        notifier?.close()
    }

    private func processInbox(_ db: PostgresConnection) throws {
        if !inboxReady {
            try inbox.prepare()
            inboxReady = true
            do {
                notifier = try InboxNotifier(watching: inbox.root)
            } catch {
                context.logger.warning("inotify is not available for the inbox; polling it every runner.poll_milliseconds",
                                       metadata: ["inbox": "\(inbox.root)", "error": "\(error)"])
            }
        }
        // The runner's folders are checked at every pass: swapped for a link or opened to others,
        // the intake stops using them and says why (log, status, alert) until they are fixed.
        try inbox.checkDirectories()
        if let notifier { inbox.noteRenamedIn(notifier.changes().filter(\.renamedIn).map(\.name)) }
        let today = LocalDate(context.clock.now(), in: context.zone)
        var claimed = try inbox.leftInProcessing()
        let (ready, settling) = try inbox.ready()
        self.settling = settling
        for stray in inbox.strays {
            let reason = "\(stray.name) is \(stray.what), not a regular file: event files must be regular files; it was moved aside, never followed or read"
            try inbox.setAside(stray.name, because: reason)
            context.logger.warning("inbox entry set aside", metadata: ["entry": "\(stray.name)", "reason": "\(reason)"])
        }
        for name in ready { if try inbox.claim(name) != nil { claimed.append(name) } }
        for name in claimed {
            do {
                let handling = try inbox.handle(name, db: db, configuration: context.configuration, today: today,
                                                runner: context.identity.id, host: context.identity.host)
                switch handling {
                case let .processed(event, request):
                    context.logger.notice("event file processed", metadata: ["file": "\(name)", "event": "\(event)",
                                                                             "request": "\(request.map(String.init) ?? "none")"])
                case let .rejected(event, reason):
                    context.logger.warning("event file rejected", metadata: ["file": "\(name)", "event": "\(event)", "reason": "\(reason)"])
                case let .duplicate(of):
                    context.logger.notice("event file is a duplicate; not run again", metadata: ["file": "\(name)", "event": "\(of)"])
                }
            } catch let error as PostgresError {
                throw error // the database: the pass is retried, the file stays in processing/
            } catch {
                // The file itself cannot be read: set aside with the reason.
                context.logger.error("event file set aside", metadata: ["file": "\(name)", "error": "\(error)"])
                try inbox.finish(name, rejectedBecause: "the file could not be read: \(error)")
            }
        }
    }

    private func expire(_ db: PostgresConnection) throws {
        let hours = context.configuration.requestPolicy.approvalHours
        let (from, to) = (RequestState.awaitingApproval, RequestState.expired)
        try Transitions.check(request: from, to: to)
        try db.query("""
            WITH gone AS (
                UPDATE nightshift.requests SET state = \(to), decided_by = \(actor), decided_at = clock_timestamp(),
                       state_reason = format('not approved within %s hours (approval_hours in etc/operators.yaml)', \(hours)::int)
                WHERE state = \(from) AND requested_at < clock_timestamp() - make_interval(hours => \(hours)::int)
                RETURNING id, requested_by)
            \(Audit.each(of: "gone", actor: actor, host: context.identity.host, command: "expire", outcome: .expired,
                         detail: "format('%s''s request was not approved within %s hours', requested_by, \(hours)::int)"))
            """)
    }

    /// Takes one accepted request: refuses it or makes it a batch run. False when none is left.
    private func takeNext(_ db: PostgresConnection) throws -> Bool {
        let queued: Bool? = try db.transaction {
            let rows = try db.query("""
                SELECT id, source, batch, job, business_date::text AS business_date, business_date_to::text AS business_date_to, priority,
                       reason, requested_by, approved_by,
                       api_key, api_scope::text AS api_scope,
                       (SELECT count(*) FROM nightshift.requests o WHERE o.requested_by = r.requested_by AND o.quota_day = r.quota_day
                            AND o.id <= r.id AND o.state <> \(RequestState.refused)) AS nth_today
                FROM nightshift.requests r WHERE state = \(RequestState.accepted) ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
                """)
            guard rows.rowCount == 1 else { return nil }
            let row = rows.row(0, of: "nightshift.requests")
            let id = try row.int("id")
            let requester: String, batch: BatchKind, job: String?, source: RequestStore.Submission.Source
            let priority: Priority?, businessDate: LocalDate?, reason: String, lastDate: LocalDate?
            do {
                requester = try row.text("requested_by")
                batch = try row.value("batch", as: BatchKind.self)
                job = try row.optionalText("job")
                source = try row.value("source", as: RequestStore.Submission.Source.self)
                priority = try row.optionalValue("priority", as: Priority.self)
                businessDate = try row.optionalText("business_date").map { _ in try row.localDate("business_date") }
                lastDate = try row.optionalText("business_date_to").map { _ in try row.localDate("business_date_to") }
                reason = try row.text("reason")
            } catch let error as RowDecodingError {
                // Set aside (refused, with what could not be read), never retried pass after pass.
                let refusal = "the request cannot be read: \(error)"
                try Transitions.check(request: .accepted, to: .refused)
                try db.query("""
                    UPDATE nightshift.requests SET state = \(RequestState.refused), state_reason = \(refusal), decided_by = \(actor), decided_at = clock_timestamp()
                    WHERE id = \(id)
                    """)
                try audit(db, "queue", .refused, id, refusal)
                context.logger.error("request refused: it cannot be read", metadata: ["request": "\(id)", "error": "\(error)"])
                return false
            }
            let today = LocalDate(context.clock.now(), in: context.zone)
            if let refusal = refusal(source: source, requester: requester, approvedBy: try row.optionalText("approved_by"),
                                     nthToday: try row.optionalInt("nth_today") ?? 0, batch: batch, job: job,
                                     apiKey: try row.optionalText("api_key"))
                ?? lastDate.flatMap({ $0 >= today ? "a backfill is for past business dates; \($0) is not before today (\(today))" : nil }) {
                try db.query("""
                    UPDATE nightshift.requests SET state = \(RequestState.refused), state_reason = \(refusal), decided_by = \(actor), decided_at = clock_timestamp()
                    WHERE id = \(id)
                    """)
                try audit(db, "queue", .refused, id, refusal)
                context.logger.warning("request refused", metadata: ["request": "\(id)", "by": "\(requester)", "reason": "\(refusal)"])
                return false
            }
            // A backfill is a batch run per business date of its range, all made here in one transaction.
            let dates: [LocalDate?] = if let first = businessDate, let last = lastDate {
                (first.dayNumber...last.dayNumber).map { LocalDate(dayNumber: $0) }
            } else {
                [businessDate]
            }
            // A cron occurrence is on a whole minute: a request's instant never is, so the two never share a key.
            var instant = context.clock.now()
            if instant.timeIntervalSince1970.truncatingRemainder(dividingBy: 60) == 0 { instant.addTimeInterval(0.001) }
            var created: [Int] = []
            for (index, date) in dates.enumerated() {
                let request = OccurrenceFactory.Requested(id: id, job: job, businessDate: date, priority: priority)
                // Each run of a backfill at its own instant (a millisecond apart): its own key.
                let at = instant.addingTimeInterval(Double(index) / 1000)
                let trigger = "request #\(id) by \(requester): \(reason)" + (dates.count > 1 ? " (backfill \(index + 1) of \(dates.count))" : "")
                let creation = try OccurrenceFactory(configuration: context.configuration, db: db)
                    .create(batch: batch, at: at, trigger: trigger, now: at, runner: context.identity.id, request: request)
                guard case let .created(batchRunID) = creation else {
                    throw RequestIntakeError(request: id, problem: "its batch run\(date.map { " for \($0)" } ?? "") could not be created (\(creation))")
                }
                created.append(batchRunID)
            }
            try Transitions.check(request: .accepted, to: .queued)
            try db.query("UPDATE nightshift.requests SET state = \(RequestState.queued), state_reason = NULL, batch_run_id = \(created[0]) WHERE id = \(id)")
            let runs = created.count == 1 ? "batch run #\(created[0])" : "\(created.count) batch runs #\(created[0])–#\(created.last!) (backfill)"
            try audit(db, "queue", .queued, id, runs)
            context.logger.notice("request queued", metadata: ["request": "\(id)", "by": "\(requester)", "batch_run": "\(runs)"])
            return true
        }
        guard let queued else { return false }
        if queued { onQueued() }
        return true
    }

    /// The runner's own check of every accepted request, of every source, with its configuration
    /// (the database decided with its copy of it; a client could have gone around anything else):
    /// a person's role, approval and quota; an API request's key, still configured and scoped to
    /// the batch; for all, that the batch and job exist.
    private func refusal(source: RequestStore.Submission.Source, requester: String, approvedBy: String?, nthToday: Int, batch: BatchKind,
                         job: String?, apiKey: String?) -> String? {
        let policy = context.configuration.requestPolicy
        if source == .api {
            guard let apiKey, requester == "api:\(apiKey)" else { return "an API request must name the key it came with" }
            guard let file = context.configuration.settings.api?.keyFile else { return "the HTTP trigger is not configured (api:)" }
            guard let key = APIKeysFile.read(path: file).keys.first(where: { $0.name == apiKey }) else {
                return "API key \(apiKey) is no longer configured (\(file))"
            }
            if !key.batches.contains(batch) { return "API key \(apiKey) may not start the \(batch.rawValue) batch" }
        } else if source == .event, !requester.hasPrefix("event:") {
            return "an event request must name its event's source"
        }
        let person = source == .cli
        if person, let refusal = policy.refusal(requester, .submit) { return refusal }
        if person && policy.needsApproval {
            guard let approvedBy else { return "production: the request was not approved by a second manager" }
            if approvedBy == requester { return "production: \(requester) approved their own request" }
            if let refusal = policy.refusal(approvedBy, .approve) { return "approval by \(approvedBy) does not count: \(refusal)" }
        }
        if person && nthToday > policy.quotaPerDay {
            return "\(requester)'s request number \(nthToday) of the day passes quota_per_day: \(policy.quotaPerDay) (etc/operators.yaml)"
        }
        let jobs = context.configuration.jobs(in: batch)
        if jobs.isEmpty { return "the \(batch.rawValue) batch has no jobs" }
        if let job, !jobs.contains(where: { $0.name == job }) { return "\(job) is not a \(batch.rawValue) job" }
        return nil
    }

    private func finishEnded(_ db: PostgresConnection) throws {
        try Transitions.check(request: .queued, to: .finished)
        // Finished when every batch run it made has ended (one; a backfill's, one per date): failed if
        // any failed, else succeeded if any did, else cancelled.
        try db.query("""
            WITH ended AS (
                SELECT r.id, min(b.id) AS batch_run_id, count(*) AS runs,
                       CASE WHEN bool_or(b.state = \(BatchState.failed)) THEN \(BatchState.failed)
                            WHEN bool_or(b.state = \(BatchState.succeeded)) THEN \(BatchState.succeeded)
                            ELSE \(BatchState.cancelled) END AS state
                FROM nightshift.requests r JOIN nightshift.batch_runs b ON b.request_id = r.id OR b.id = r.batch_run_id
                WHERE r.state = \(RequestState.queued)
                GROUP BY r.id HAVING bool_and(b.state <> \(BatchState.running))
            ), done AS (
                UPDATE nightshift.requests r SET state = \(RequestState.finished), outcome = ended.state
                FROM ended WHERE r.id = ended.id
                RETURNING r.id, ended.batch_run_id, ended.runs, ended.state)
            \(Audit.each(of: "done", actor: actor, host: context.identity.host, command: "finish", outcome: .finished,
                         detail: "CASE WHEN runs > 1 THEN format('%s batch runs from #%s: %s', runs, batch_run_id, state) ELSE format('batch run #%s %s', batch_run_id, state) END"))
            """)
    }

    private func audit(_ db: PostgresConnection, _ command: String, _ outcome: AuditOutcome, _ request: Int, _ detail: String) throws {
        try Audit(db: db).record(OperatorIdentity(account: actor, host: context.identity.host), command: command, outcome: outcome,
                                 requestID: request, detail: detail)
    }
}

/// A request that could not be taken into the queue (the pass is retried).
struct RequestIntakeError: Error, CustomStringConvertible {
    let request: Int
    let problem: String
    var description: String { "request #\(request): \(problem)" }
}
