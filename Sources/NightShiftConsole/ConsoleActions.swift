import Foundation
import NightShiftCore
import NightShiftEngine
import PostgresClient

/// What a signed-in person may do from the console, each the same as a command of theirs and
/// through the same database gate and audit (`ConsoleSessionStore.acting`):
///
/// | action        | form fields            | the command                                      |
/// |---------------|------------------------|--------------------------------------------------|
/// | `rerun-job`   | job_run, reason        | `nightshift submit JOB --date D --reason …`      |
/// | `rerun-batch` | batch_run, reason      | `nightshift submit BATCH --date D --reason …`    |
/// | `skip-job`    | job_run, reason        | `nightshift override --date D --job JOB --skip`  |
/// | `approve`     | request                | `nightshift approve ID`                          |
/// | `reject`      | request, reason        | `nightshift reject ID --reason …`                |
/// | `backfill`    | batch, from, to, reason| `nightshift backfill BATCH --from D --to D …`    |
enum ConsoleActions {
    typealias Result = (status: Int, title: String, message: String, back: String)

    /// The form's reason: given (or not needed), or what is wrong with it.
    enum Reason {
        case success(String?)
        case failure(String)
    }

    static func perform(_ action: String, _ page: PageContext) throws -> Result {
        guard let secret = page.secret else { return (401, "Sign in first", "Nothing was changed.", "/") }
        let form = page.request.form
        let host = "console from \(page.request.clientAddress)"
        let sessions = ConsoleSessionStore(db: page.db)
        func reason(required: Bool = true) -> Reason {
            let text = (form["reason"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty { return required ? .failure("say why: the reason is required (it goes to the audit)") : .success(nil) }
            guard text.count <= 500, !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                return .failure("the reason must be one line of at most 500 characters")
            }
            return .success(text)
        }
        func refused(_ why: String, back: String) -> Result { (403, "Refused", "Refused: \(why). Nothing was changed.", back) }
        func bad(_ why: String, back: String) -> Result { (400, "Not done", "Not done: \(why).", back) }

        switch action {
        case "rerun-job", "skip-job":
            guard let id = form["job_run"].flatMap(Int.init), let run = try JobLogStore(db: page.db).jobRun(id: id),
                  let batch = BatchKind(rawValue: run.batch) else {
                return bad("no such job run", back: "/")
            }
            let back = "/job-runs/\(id)"
            let why: String
            switch reason() {
            case let .failure(problem): return bad(problem, back: back)
            case let .success(text): why = text ?? ""
            }
            if action == "rerun-job" {
                let command = "console: rerun \(run.job) for \(run.businessDate)"
                let outcome = try sessions.acting(as: secret) {
                    try RequestStore(db: page.db).submit(.init(source: .cli, batch: batch, job: run.job, businessDate: run.businessDate,
                                                               priority: nil, reason: why), host: host, command: command)
                }
                return requestResult(outcome, what: "A rerun of \(run.job) for \(run.businessDate)", back: back)
            }
            let command = "console: skip \(run.job) of the \(run.batch) batch of \(run.businessDate)"
            return try sessions.acting(as: secret) {
                let store = RequestStore(db: page.db)
                let (actor, refusal) = try store.authorize(.override, detail: "skip of \(run.job) in the \(run.batch) batch of \(run.businessDate): \(why)",
                                                            host: host, command: command)
                if let refusal { return refused(refusal, back: back) }
                let overrides = OverrideStore(db: page.db)
                let override = ManualOverride(job: run.job, action: .skip, requestedBy: actor, reason: why)
                let overrideID = try overrides.record(override, batch: batch, businessDate: run.businessDate)
                let skipped = try overrides.skipQueued(overrideID: overrideID, batch: batch, businessDate: run.businessDate, job: run.job,
                                                       requestedBy: actor, reason: why, now: page.now, by: actor)
                return (200, "Skipped", skipped != nil
                            ? "Override #\(overrideID) recorded by \(actor): \(run.job) was waiting and is skipped now; what waits on it treats it as done."
                            : "Override #\(overrideID) recorded by \(actor): \(run.job) was not waiting (it runs or has ended), so it is skipped in the next run of the \(run.batch) batch of \(run.businessDate).",
                        back)
            }
        case "rerun-batch":
            guard let id = form["batch_run"].flatMap(Int.init) else { return bad("no such batch run", back: "/") }
            let found = try page.db.query("SELECT batch, business_date::text AS d FROM nightshift.batch_runs WHERE id = \(id)")
            guard found.rowCount == 1, let batch = found.string(0, "batch").flatMap(BatchKind.init(rawValue:)),
                  let date = found.string(0, "d").flatMap(LocalDate.init(iso:)) else { return bad("no such batch run", back: "/") }
            let back = "/batch-runs/\(id)"
            let why: String
            switch reason() {
            case let .failure(problem): return bad(problem, back: back)
            case let .success(text): why = text ?? ""
            }
            let outcome = try sessions.acting(as: secret) {
                try RequestStore(db: page.db).submit(.init(source: .cli, batch: batch, job: nil, businessDate: date, priority: nil, reason: why),
                                                     host: host, command: "console: rerun the \(batch.rawValue) batch for \(date)")
            }
            return requestResult(outcome, what: "A rerun of the \(batch.rawValue) batch for \(date)", back: back)
        case "approve", "reject":
            guard let id = form["request"].flatMap(Int.init) else { return bad("no such request", back: "/requests") }
            var why: String?
            switch reason(required: action == "reject") {
            case let .failure(problem): return bad(problem, back: "/requests")
            case let .success(text): why = text
            }
            let decision: RequestStore.Decision = action == "approve" ? .approve : .reject
            let outcome = try sessions.acting(as: secret) {
                try RequestStore(db: page.db).decide(id, decision, host: host, command: "console: \(action) request #\(id)", reason: why)
            }
            switch outcome {
            case let .refused(reason): return refused(reason, back: "/requests")
            case let .recorded(_, state): return (200, action == "approve" ? "Approved" : "Rejected", "Request #\(id) is \(state.rawValue) now.", "/requests")
            }
        case "backfill":
            guard let batch = form["batch"].flatMap(BatchKind.init(rawValue:)), let from = form["from"].flatMap(LocalDate.init(iso:)),
                  let to = form["to"].flatMap(LocalDate.init(iso:)) else {
                return bad("give a batch and the first and last business dates (YYYY-MM-DD)", back: "/backfill")
            }
            let back = "/backfill?batch=\(batch.rawValue)&from=\(from)&to=\(to)"
            if let problem = BackfillPage.problem(from: from, to: to, today: LocalDate(page.now, in: page.zone)) { return bad(problem, back: back) }
            let why: String
            switch reason() {
            case let .failure(problem): return bad(problem, back: back)
            case let .success(text): why = text ?? ""
            }
            let outcome = try sessions.acting(as: secret) {
                try RequestStore(db: page.db).submitBackfill(batch: batch, from: from, to: to, reason: why, host: host,
                                                             command: "console: backfill the \(batch.rawValue) batch for \(from) to \(to)")
            }
            return requestResult(outcome, what: "A backfill of the \(batch.rawValue) batch for \(from) to \(to) (\(to.dayNumber - from.dayNumber + 1) runs at P4)",
                                 back: "/requests")
        default:
            return (404, "Not found", "There is no action \(action).", "/")
        }
    }

    private static func requestResult(_ outcome: RequestStore.Outcome, what: String, back: String) -> Result {
        switch outcome {
        case let .refused(reason): return (403, "Refused", "Refused: \(reason). Nothing was changed.", back)
        case let .recorded(id, state):
            let next = state == .awaitingApproval ? "it waits for a second manager's approval (Requests)" : "the runner queues it within seconds"
            return (200, "Requested", "\(what) is request #\(id), \(state.rawValue): \(next).", back)
        }
    }
}
