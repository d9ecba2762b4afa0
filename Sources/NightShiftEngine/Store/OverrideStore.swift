import Foundation
import NightShiftCore
import PostgresClient

/// Manual overrides in `nightshift.manual_overrides`.
public struct OverrideStore {
    let db: PostgresConnection

    public init(db: PostgresConnection) { self.db = db }

    /// What an override does, as stored (`manual_overrides.action`).
    public enum Action: String, Sendable, CaseIterable {
        case skip
        case ignoreDependency = "ignore_dependency"
    }

    @discardableResult
    public func record(_ override: ManualOverride, batch: BatchKind, businessDate: LocalDate) throws -> Int {
        let (action, dependency): (Action, String?) = switch override.action {
        case .skip: (.skip, nil)
        case let .ignoreDependency(dep): (.ignoreDependency, dep)
        }
        return try db.query("""
            INSERT INTO nightshift.manual_overrides (batch, business_date, job, action, dependency, requested_by, reason)
            VALUES (\(batch.rawValue), \(businessDate.description), \(override.job), \(action.rawValue), \(dependency), \(override.requestedBy), \(override.reason)) RETURNING id
            """)
            .scalarInt(of: "nightshift.manual_overrides")
    }

    public func overrides(batch: BatchKind, businessDate: LocalDate) throws -> [(id: Int, override: ManualOverride)] {
        let result = try db.query("""
            SELECT id, job, action, dependency, requested_by, reason FROM nightshift.manual_overrides
            WHERE batch = \(batch.rawValue) AND business_date = \(businessDate.description) ORDER BY id
            """)
        return try result.decode(of: "nightshift.manual_overrides") { row in
            let action: ManualOverride.Action = switch try row.value("action", as: Action.self) {
            case .skip: .skip
            case .ignoreDependency: .ignoreDependency(try row.text("dependency"))
            }
            return (try row.int("id"), ManualOverride(job: try row.text("job"), action: action,
                                                      requestedBy: try row.text("requested_by"), reason: try row.text("reason")))
        }
    }

    /// A skip takes effect at once on the job's run in a running batch run of that batch and date
    /// while it has not started, or waits to retry or resume (`JobState.movable(to: .skipped)`): it
    /// is skipped by the override (its dependents treat it as done), the move recorded, the override
    /// marked applied. A run a runner claims at the same instant is either claimed or skipped, never
    /// both (the row is locked and its state checked again). Returns the job run skipped, if any.
    @discardableResult
    public func skipQueued(overrideID: Int, batch: BatchKind, businessDate: LocalDate, job: String, requestedBy: String, reason: String,
                           now: Date, by actor: String) throws -> Int? {
        let why = "skipped by override #\(overrideID) (\(requestedBy)): \(reason)"
        let result = try db.query("""
            WITH target AS (
                SELECT j.id, j.batch_run_id, j.state FROM nightshift.job_runs j JOIN nightshift.batch_runs b ON b.id = j.batch_run_id
                WHERE b.state = 'running' AND b.batch = \(batch.rawValue) AND b.business_date = \(businessDate.description)::date
                  AND j.job = \(job) AND j.state = ANY(\(JobState.movable(to: .skipped).map(\.rawValue))::text[])
                ORDER BY j.id DESC LIMIT 1
                FOR UPDATE OF j
            ), moved AS (
                UPDATE nightshift.job_runs j SET state = 'skipped', skipped_by_override = true, finished_at = \(now), skip_reason = \(why),
                       lease_owner = NULL, lease_expires_at = NULL
                FROM target WHERE j.id = target.id AND j.state = target.state
                RETURNING j.id, target.batch_run_id, target.state AS from_state
            ), recorded AS (
                INSERT INTO nightshift.state_transitions (batch_run_id, job_run_id, from_state, to_state, reason, at, runner)
                SELECT batch_run_id, id, from_state, 'skipped', \(why), \(now), \(actor) FROM moved RETURNING 1
            ), applied AS (
                UPDATE nightshift.manual_overrides SET applied_to = (SELECT id FROM moved) WHERE id = \(overrideID) AND EXISTS (SELECT 1 FROM moved)
                RETURNING 1
            )
            SELECT id, (SELECT count(*) FROM recorded) + (SELECT count(*) FROM applied) AS written FROM moved
            """)
        return result.rowCount == 1 ? result.int(0, "id") : nil
    }

    public func markApplied(overrideID: Int, jobRunID: Int) throws {
        try db.query("UPDATE nightshift.manual_overrides SET applied_to = \(jobRunID) WHERE id = \(overrideID)")
    }
}

/// Past durations of successful job runs, for planning.
public enum RunHistory {
    /// Mean duration in seconds of each job's last `runs` successful runs.
    public static func durations(db: PostgresConnection, jobs: [String], runs: Int = 5) throws -> [String: (seconds: Double, runs: Int)] {
        let result = try db.query("""
            SELECT job, avg(seconds) AS seconds, count(*) AS runs FROM (
                SELECT job, CASE WHEN run_seconds > 0 THEN run_seconds
                                 ELSE extract(epoch FROM finished_at - started_at)::float8 END AS seconds,
                       row_number() OVER (PARTITION BY job ORDER BY finished_at DESC) AS n
                FROM nightshift.job_runs
                WHERE state = ANY(\(JobState.successes)) AND job = ANY(\("{" + jobs.map { "\"\($0)\"" }.joined(separator: ",") + "}")::text[]) AND started_at IS NOT NULL AND finished_at IS NOT NULL
            ) recent WHERE n <= \(runs) GROUP BY job
            """)
        var history: [String: (Double, Int)] = [:]
        for (job, seconds, runs) in try result.decode(of: "nightshift.job_runs", id: "job", { row in
            (try row.text("job"), try row.optionalDouble("seconds") ?? 0, try row.optionalInt("runs") ?? 0)
        }) {
            history[job] = (seconds, runs)
        }
        return history
    }
}
