import Foundation
import NightShiftCore
import PostgresClient

/// Requests for work (`nightshift.requests`); their audit trail is `Audit`.
///
/// People's clients write only through the narrow functions of migration 0005
/// (`nightshift.submit_request`, `decide_request`, `refuse_attempt`), which the role
/// `nightshift_requester` may call; the runner's intake moves requests on with its own rights.
public struct RequestStore {
    let db: PostgresConnection

    public init(db: PostgresConnection) { self.db = db }

    /// What a request asks for.
    public struct Submission: Sendable, Equatable {
        public enum Source: String, Sendable, CaseIterable { case cli, event, api }
        /// A whole batch, or one job of it (`requests.target`).
        public enum Target: String, Sendable, CaseIterable { case batch, job }
        public var target: Target { job == nil ? .batch : .job }
        public let source: Source
        public let batch: BatchKind
        /// nil: the whole batch.
        public let job: String?
        /// nil: the batch's business date when it is queued.
        public let businessDate: LocalDate?
        /// nil: the jobs' own priorities.
        public let priority: Priority?
        public let reason: String

        public init(source: Source, batch: BatchKind, job: String?, businessDate: LocalDate?, priority: Priority?, reason: String) {
            self.source = source
            self.batch = batch
            self.job = job
            self.businessDate = businessDate
            self.priority = priority
            self.reason = reason
        }

        /// e.g. `daily batch`, `job delivery_charges (daily)`, with the date and priority asked for.
        public var summary: String {
            var text = job.map { "job \($0) (\(batch.rawValue))" } ?? "\(batch.rawValue) batch"
            if let businessDate { text += " for \(businessDate)" }
            if let priority { text += " at \(priority)" }
            return text
        }
    }

    /// What a person's action needs (nightshift.role_refusal): list needs an operator; submit,
    /// approve, reject, cancel, run_once, override, review, mail_retry, delivery_retry and archive_verify a
    /// manager; archive_restore a director.
    public enum GatedAction: String, Sendable {
        case list, submit, approve, reject, cancel, override, review
        case archiveList = "archive_list", runOnce = "run_once", mailRetry = "mail_retry", deliveryRetry = "delivery_retry", archiveVerify = "archive_verify", archiveRestore = "archive_restore"
    }

    public enum Outcome: Sendable, Equatable {
        case recorded(id: Int, state: RequestState)
        /// Refused, in one line (also an audit row).
        case refused(String)
    }

    // MARK: a person's calls (their own database login: who asks is the session, never an argument)

    /// A person's request (source cli) as the session's role: the database decides the role, the
    /// quota and whether a second manager must approve (nightshift.submit_request).
    public func submit(_ submission: Submission, host: String, command: String) throws -> Outcome {
        precondition(submission.source == .cli, "people's requests are cli requests; the runner makes api and event requests")
        let result = try db.query("""
            SELECT request_id, state, refusal FROM nightshift.submit_request(\(submission.target.rawValue), \(submission.batch.rawValue), \(submission.job), \(submission.businessDate?.description)::date, \(submission.priority.map { String($0.rawValue) })::smallint, \(submission.reason), \(host), \(command))
            """)
        return try outcome(result)
    }

    /// A person's backfill: the batch for every business date from `from` to `to`, each job at P4,
    /// as one request (nightshift.submit_backfill: the same gate, quota and approval as `submit`).
    public func submitBackfill(batch: BatchKind, from: LocalDate, to: LocalDate, reason: String, host: String, command: String) throws -> Outcome {
        let result = try db.query("""
            SELECT request_id, state, refusal
            FROM nightshift.submit_backfill(\(batch.rawValue), \(from.description)::date, \(to.description)::date, \(reason), \(host), \(command))
            """)
        return try outcome(result)
    }

    /// The one gate of a person's action (`Action`, e.g. run_once, override, review): the role it
    /// needs, and the production rules; audited either way. Returns who the database says is
    /// asking, and the refusal (nil: go ahead).
    public func authorize(_ action: GatedAction, detail: String, host: String, command: String) throws -> (actor: String, refusal: String?) {
        let row = try db.query("SELECT actor, refusal FROM nightshift.authorize(\(action.rawValue), \(detail), \(host), \(command))")
            .row(0, of: "nightshift.authorize", id: "actor")
        return (try row.text("actor"), try row.optionalText("refusal"))
    }

    /// Whether this login can reach the gate (false: no schema yet, or no nightshift_requester).
    public func gateIsReady() -> Bool {
        let probe = try? db.query("""
            SELECT coalesce(has_function_privilege(to_regprocedure('nightshift.authorize(text,text,text,text)'), 'EXECUTE'), false) AS ready
            """)
        return probe?.string(0, 0) == "t"
    }

    /// Audits an attempt the client refused before it reached the database's rules (as the session's role).
    public func refuseAttempt(host: String, command: String, reason: String, requestID: Int? = nil) throws {
        try db.query("SELECT nightshift.refuse_attempt(\(host), \(command), \(reason), \(requestID)::bigint)")
    }

    public enum Decision: String, Sendable { case approve, reject, cancel }

    /// Approves, rejects or cancels request `id` as the session's role (the database checks the
    /// role, the request's state, that nobody decides on their own request, and who may cancel).
    public func decide(_ id: Int, _ decision: Decision, host: String, command: String, reason: String?) throws -> Outcome {
        let result = try db.query("""
            SELECT state, refusal FROM nightshift.decide_request(\(id)::bigint, \(decision.rawValue), \(reason), \(host), \(command))
            """)
        let row = result.row(0, of: "nightshift.requests", id: "")
        if let refusal = try row.optionalText("refusal") { return .refused(refusal) }
        return .recorded(id: id, state: try row.value("state", as: RequestState.self))
    }

    // MARK: the runner's calls (the runner's login)

    /// A request the runner makes for the HTTP trigger or an event file: `requestedBy` is
    /// `api:<key>` or `event:<source>`; an API request keeps its key's name and scope. `quota`:
    /// requests per requester per day (nil: none).
    public func submitSystem(_ submission: Submission, requestedBy: String, apiKey: (name: String, scope: [String])? = nil,
                             host: String, command: String, quota: Int?) throws -> Outcome {
        precondition(submission.source != .cli, "people's requests go through submit(_:host:command:) as their own login")
        let result = try db.query("""
            SELECT request_id, state, refusal FROM nightshift.submit_system_request(\(submission.source.rawValue), \(requestedBy), \(apiKey?.name), \(apiKey?.scope)::text[], \(submission.target.rawValue), \(submission.batch.rawValue), \(submission.job), \(submission.businessDate?.description)::date,
                                                                                   \(submission.priority.map { String($0.rawValue) })::smallint, \(submission.reason), \(host), \(command), \(quota)::int)
            """)
        return try outcome(result)
    }

    /// Records a refusal made by the runner itself (the HTTP trigger, the inbox, a review item).
    public func refuse(by identity: OperatorIdentity, command: String, reason: String, requestID: Int? = nil) throws {
        try Audit(db: db).record(identity, command: command, outcome: .refused, requestID: requestID, detail: reason)
    }

    private func outcome(_ result: QueryResult) throws -> Outcome {
        let row = result.row(0, of: "nightshift.requests", id: "request_id")
        if let refusal = try row.optionalText("refusal") { return .refused(refusal) }
        return .recorded(id: try row.int("request_id"), state: try row.value("state", as: RequestState.self))
    }

    // MARK: reading

    /// A request as `nightshift requests` and `status` show it.
    public struct Listed: Sendable {
        public let id: Int
        public let state: RequestState
        public let stateReason: String?
        public let source: String
        public let batch: String
        public let job: String?
        public let businessDate: String?
        public let priority: Int?
        public let reason: String
        public let requestedBy: String
        public let host: String
        public let requestedAt: Date
        public let approvedBy: String?
        public let decidedBy: String?
        public let batchRunID: Int?
        public let outcome: String?
        /// For a queued request: its batch run's jobs not started yet, and why the first of them waits.
        public let waitingJobs: Int
        public let runningJobs: Int
        public let waitReason: String?
        /// A backfill's last business date (`businessDate` is its first).
        public var businessDateTo: String? = nil

        /// e.g. `daily batch for 2026-11-22 at P1`, `job delivery_charges (daily)`.
        public var what: String {
            var text = job.map { "job \($0) (\(batch))" } ?? "\(batch) batch"
            if let businessDate { text += businessDateTo.map { " for \(businessDate) to \($0) (backfill)" } ?? " for \(businessDate)" }
            if let priority { text += " at P\(priority)" }
            return text
        }

        /// One line: what it is waiting for, or how it ended.
        public var situation: String {
            switch state {
            case .awaitingApproval: return "awaiting a second manager's approval"
            case .accepted: return "accepted; the runner queues it within 2 s (is `nightshift run` running?)"
            case .queued:
                if runningJobs > 0 { return "running in batch run #\(batchRunID ?? 0)" }
                if let waitReason { return "queued in batch run #\(batchRunID ?? 0), waiting: \(waitReason)" }
                return "queued in batch run #\(batchRunID ?? 0)"
            case .finished: return "finished: batch run #\(batchRunID ?? 0) \(outcome ?? "ended")"
            case .rejected, .cancelled, .refused, .expired:
                return "\(state.rawValue)\(decidedBy.map { " by \($0)" } ?? "")\(stateReason.map { ": \($0)" } ?? "")"
            }
        }
    }

    /// Open requests, and the others made since `since`, newest first.
    /// A request that cannot be read goes to `unreadable` when given (else it throws).
    public func list(since: Date, limit: Int = 200, unreadable: ((RowDecodingError) -> Void)? = nil) throws -> [Listed] {
        try listed(where: "r.state = ANY(\([RequestState.awaitingApproval, .accepted, .queued])) OR r.requested_at >= \(since)::timestamptz",
                   limit: limit, unreadable: unreadable)
    }

    /// One request, by number.
    public func request(_ id: Int) throws -> Listed? {
        try listed(where: "r.id = \(id)::bigint", limit: 1).first
    }

    private func listed(where condition: SQL, limit: Int, unreadable: ((RowDecodingError) -> Void)? = nil) throws -> [Listed] {
        let rows = try db.query("""
            SELECT r.id, r.state, r.state_reason, r.source, r.batch, r.job, r.business_date::text AS business_date,
                   r.business_date_to::text AS business_date_to, r.priority,
                   r.reason, r.requested_by, r.host, extract(epoch FROM r.requested_at) AS requested_at, r.approved_by, r.decided_by,
                   r.batch_run_id, r.outcome,
                   (SELECT count(*) FROM nightshift.job_runs j WHERE j.batch_run_id = r.batch_run_id
                        AND j.state = ANY(\(JobState.queued))) AS waiting,
                   (SELECT count(*) FROM nightshift.job_runs j WHERE j.batch_run_id = r.batch_run_id AND j.state = \(JobState.running)) AS running,
                   (SELECT j.wait_reason FROM nightshift.job_runs j WHERE j.batch_run_id = r.batch_run_id
                        AND j.state = ANY(\(JobState.queued)) AND j.wait_reason IS NOT NULL ORDER BY j.priority, j.id LIMIT 1)
                        AS wait_reason
            FROM nightshift.requests r
            WHERE \(condition)
            ORDER BY r.id DESC LIMIT \(limit)
            """)
        return try rows.decode(of: "nightshift.requests", unreadable: unreadable) { row in
            var listed = Listed(id: try row.int("id"), state: try row.value("state", as: RequestState.self),
                   stateReason: try row.optionalText("state_reason"), source: try row.text("source"), batch: try row.text("batch"),
                   job: try row.optionalText("job"), businessDate: try row.optionalText("business_date"), priority: try row.optionalInt("priority"),
                   reason: try row.text("reason"), requestedBy: try row.text("requested_by"), host: try row.text("host"),
                   requestedAt: try row.date("requested_at"), approvedBy: try row.optionalText("approved_by"),
                   decidedBy: try row.optionalText("decided_by"), batchRunID: try row.optionalInt("batch_run_id"),
                   outcome: try row.optionalText("outcome"), waitingJobs: try row.optionalInt("waiting") ?? 0,
                   runningJobs: try row.optionalInt("running") ?? 0, waitReason: try row.optionalText("wait_reason"))
            listed.businessDateTo = try row.optionalText("business_date_to")
            return listed
        }
    }
}
