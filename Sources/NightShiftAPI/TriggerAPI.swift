import Foundation
import Logging
import Metrics
import NightShiftConfig
import NightShiftCore
import NightShiftEngine
import Packaging
import PostgresClient

/// The HTTP trigger: what each call gets, apart from the HTTP server itself (`APIServer`).
///
///     POST /api/v1/batches/{batch}/runs        {"reason": "...", "business_date": "2026-11-22",
///                                               "priority": "P2", "job": "delivery_charges"}
///          202 {"request_id": 7, "state": "accepted", "status_url": "/api/v1/batches/daily/runs/7"}
///     GET  /api/v1/batches/{batch}/runs/{id}   200 {"request_id": 7, "state": "queued", "situation": "..."}
///
/// The key is `Authorization: Bearer KEY` (or `X-API-Key: KEY`). A missing or unknown key gets 401
/// with no detail; a key not allowed for the batch 403; a bad body 400 naming the field; a quota
/// used up 429. API requests go through the same function, quota, queue and audit as a manager's
/// (source `api`, requested by `api:<key name>`); every refusal of a key holder is an audit row.
/// A call without a valid key writes nothing to the database: it is counted
/// (`nightshift_api_unauthorized_total`) and logged at most once a minute per address.
public final class TriggerAPI: @unchecked Sendable {
    private let configuration: Configuration
    private let keyring: APIKeyring
    private let database: DatabaseThread
    private let logger: Logger?
    private let keys: Limiter
    private let lock = NSLock()
    /// When each address's unauthorised calls were last logged (pruned as it grows).
    private var lastLogged: [String: Date] = [:]

    public init(configuration: Configuration, keyFile: String, logger: Logger? = nil,
                connect: @escaping @Sendable () throws -> PostgresConnection, perKeyPerMinute: Int = 60) {
        self.configuration = configuration
        self.logger = logger
        keys = Limiter(RateLimiter(perMinute: perKeyPerMinute))
        keyring = APIKeyring(path: keyFile)
        database = DatabaseThread(connect: connect)
    }

    /// Counts a call without a valid key; logs it unless this address was logged within a minute.
    private func unauthorized(_ call: Call) {
        Counter(label: "nightshift_api_unauthorized_total").increment()
        let now = Date()
        let log: Bool = lock.withLock {
            if let last = lastLogged[call.remoteAddress], now.timeIntervalSince(last) < 60 { return false }
            if lastLogged.count >= 10_000 { lastLogged = lastLogged.filter { now.timeIntervalSince($0.value) < 60 } }
            lastLogged[call.remoteAddress] = now
            return true
        }
        if log {
            logger?.warning("HTTP trigger: a call without a valid API key (logged once a minute per address; counted in nightshift_api_unauthorized_total)",
                            metadata: ["address": "\(call.remoteAddress)", "method": "\(call.method.prefix(16))", "path": "\(call.path.prefix(120))"])
        }
    }

    public func close() { database.close() }

    /// One call, as the server hands it over.
    public struct Call: Sendable {
        public let method: String
        public let path: String
        public let headers: [String: String]
        public let body: Data
        public let remoteAddress: String

        public init(method: String, path: String, headers: [String: String], body: Data, remoteAddress: String) {
            self.method = method
            self.path = path
            self.headers = headers
            self.body = body
            self.remoteAddress = remoteAddress
        }

        func header(_ name: String) -> String? { headers.first { $0.key.lowercased() == name.lowercased() }?.value }
    }

    public struct Response: Sendable, Equatable {
        public let status: Int
        public let json: String
        /// Seconds for `Retry-After` (429).
        public var retryAfter: Int?

        public init(status: Int, json: String, retryAfter: Int? = nil) {
            self.status = status
            self.json = json
            self.retryAfter = retryAfter
        }
    }

    public static let maxBodyBytes = 16 * 1024

    public func handle(_ call: Call) async -> Response {
        let parts = call.path.split(separator: "?").first.map { $0.split(separator: "/").map(String.init) } ?? []
        // api v1 batches {batch} runs [id]
        guard parts.count >= 5, parts.count <= 6, parts[0] == "api", parts[1] == "v1", parts[2] == "batches", parts[4] == "runs" else {
            return Response.error(404, "no such resource: use POST /api/v1/batches/{batch}/runs or GET /api/v1/batches/{batch}/runs/{id}")
        }
        let command = "\(call.method) \(call.path)"
        // Who calls: the key. Nothing is said about a missing or wrong key.
        guard let key = keyring.key(presented: presentedKey(call)) else {
            unauthorized(call)
            return Response(status: 401, json: #"{"error":"unauthorized"}"#)
        }
        if let wait = keys.take(key.name) {
            Counter(label: "nightshift_api_rate_limited_total", dimensions: [("by", "key")]).increment()
            return Response.tooMany(wait, "too many calls with key \(key.name): at most \(keys.perMinute) a minute")
        }
        guard let batch = BatchKind(rawValue: parts[3]) else {
            return Response.error(404, "\(parts[3]) is not a batch (daily, weekly, monthly, yearend)")
        }
        guard key.batches.contains(batch) else {
            await audit(actor: "api:\(key.name)", host: call.remoteAddress, command: command,
                        reason: "key \(key.name) may not start the \(batch.rawValue) batch")
            return Response.error(403, "this key may not start the \(batch.rawValue) batch")
        }
        switch (call.method, parts.count) {
        case ("POST", 5): return await submit(call, key: key, batch: batch, command: command)
        case ("GET", 6):
            guard let id = Int(parts[5]) else { return Response.error(404, "\(parts[5]) is not a request number") }
            return await state(of: id, batch: batch)
        default:
            return Response.error(405, "use POST /api/v1/batches/\(batch.rawValue)/runs or GET /api/v1/batches/\(batch.rawValue)/runs/{id}")
        }
    }

    private func presentedKey(_ call: Call) -> String? {
        if let bearer = call.header("Authorization"), bearer.lowercased().hasPrefix("bearer ") {
            return String(bearer.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        }
        return call.header("X-API-Key")
    }

    private func submit(_ call: Call, key: APIKey, batch: BatchKind, command: String) async -> Response {
        let actor = "api:\(key.name)"
        let submission: RequestStore.Submission
        switch TriggerBody.parse(call.body, batch: batch, jobs: configuration.jobs(in: batch),
                                 today: LocalDate(Date(), in: configuration.settings.timeZone)) {
        case let .failure(problem):
            await audit(actor: actor, host: call.remoteAddress, command: command, reason: "bad body: \(problem.message)")
            return Response(status: 400, json: encodeJSON(["error": problem.message, "field": problem.field]))
        case let .success(parsed):
            submission = parsed
        }
        // People's approval is for people; the key's quota is the people's quota. The request keeps
        // the key's name and scope, which the intake checks again before it queues it.
        let quota = configuration.requestPolicy.quotaPerDay
        let scope = key.batches.map(\.rawValue).sorted()
        let outcome: Result<RequestStore.Outcome, Error> = await database.run { db in
            try RequestStore(db: db).submitSystem(submission, requestedBy: actor, apiKey: (key.name, scope), host: call.remoteAddress,
                                                  command: command, quota: quota)
        }
        switch outcome {
        case let .success(.recorded(id, state)):
            return Response(status: 202, json: encodeJSON(["request_id": id, "state": state.rawValue,
                                                     "status_url": "/api/v1/batches/\(batch.rawValue)/runs/\(id)"]))
        case let .success(.refused(reason)):
            return Response.error(429, reason)
        case .failure:
            return Response.error(503, "the database is not reachable; try again")
        }
    }

    private func state(of id: Int, batch: BatchKind) async -> Response {
        let found: Result<RequestStore.Listed?, Error> = await database.run { db in try RequestStore(db: db).request(id) }
        switch found {
        case let .success(listed?) where listed.batch == batch.rawValue:
            var fields: [String: Any] = ["request_id": listed.id, "state": listed.state.rawValue, "situation": listed.situation,
                                         "requested_by": listed.requestedBy, "what": listed.what]
            if let run = listed.batchRunID { fields["batch_run_id"] = run }
            if let outcome = listed.outcome { fields["outcome"] = outcome }
            return Response(status: 200, json: encodeJSON(fields))
        case .success:
            return Response.error(404, "no request \(id) for the \(batch.rawValue) batch")
        case .failure:
            return Response.error(503, "the database is not reachable; try again")
        }
    }

    private func audit(actor: String, host: String, command: String, reason: String) async {
        _ = await database.run { db in
            try RequestStore(db: db).refuse(by: OperatorIdentity(account: actor, host: host), command: command, reason: reason)
        }
    }
}

extension TriggerAPI.Response {
    static func error(_ status: Int, _ message: String) -> Self { Self(status: status, json: encodeJSON(["error": message])) }
    static func tooMany(_ wait: Int, _ message: String) -> Self {
        Self(status: 429, json: encodeJSON(["error": "\(message); retry in \(wait) s", "retry_after_seconds": wait]), retryAfter: wait)
    }
}

/// Compact, key-sorted JSON of plain values.
func encodeJSON(_ object: [String: Any]) -> String {
    guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return "{}" }
    return String(decoding: data, as: UTF8.self)
}

/// The body of a POST: a JSON object with `reason` (required), and optionally `business_date`,
/// `priority` and `job`. Anything else is a 400 that names the field.
enum TriggerBody {
    struct Problem: Error {
        let field: String
        let message: String
    }

    static func parse(_ body: Data, batch: BatchKind, jobs: [JobDefinition], today: LocalDate)
        -> Result<RequestStore.Submission, Problem> {
        guard body.count <= TriggerAPI.maxBodyBytes else {
            return .failure(Problem(field: "body", message: "body: \(body.count) bytes, more than \(TriggerAPI.maxBodyBytes)"))
        }
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            return .failure(Problem(field: "body", message: "body: not a JSON object; send {\"reason\": \"...\"}"))
        }
        let known: Set<String> = ["reason", "business_date", "priority", "job"]
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            return .failure(Problem(field: unknown, message: "\(unknown): unknown field; use reason, business_date, priority, job"))
        }
        guard let reason = object["reason"] as? String, !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            return .failure(Problem(field: "reason", message: "reason: required, a non-empty string saying why"))
        }
        guard reason.count <= 500, !reason.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            return .failure(Problem(field: "reason", message: "reason: at most 500 characters of plain text, one line"))
        }
        var date: LocalDate?
        if let value = object["business_date"] {
            guard let text = value as? String, let parsed = LocalDate(iso: text) else {
                return .failure(Problem(field: "business_date", message: "business_date: a date YYYY-MM-DD"))
            }
            if let problem = InboxEventRules.dateProblem(parsed, today: today) {
                return .failure(Problem(field: "business_date", message: "business_date: \(problem)"))
            }
            date = parsed
        }
        var priority: Priority?
        if let value = object["priority"] {
            guard let text = value as? String, let parsed = Priority(text: text) else {
                return .failure(Problem(field: "priority", message: "priority: P1, P2, P3 or P4"))
            }
            priority = parsed
        }
        var job: String?
        if let value = object["job"] {
            guard let text = value as? String, jobs.contains(where: { $0.name == text }) else {
                return .failure(Problem(field: "job", message: "job: not a job of the \(batch.rawValue) batch"))
            }
            job = text
        }
        return .success(RequestStore.Submission(source: .api, batch: batch, job: job, businessDate: date, priority: priority,
                                                reason: reason.trimmingCharacters(in: .whitespacesAndNewlines)))
    }
}
