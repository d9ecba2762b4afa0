import Foundation
import NightShiftCore
import PostgresClient

/// The one writer of `nightshift.state_transitions` for a single move: it checks the move against
/// Core's state machine (`canMove`) before it records it (the outbox and the intake check their
/// moves of mail and requests here too, before their statements record them), in the caller's transaction, next to the
/// new state. Set-based moves (skips, batch close) select their rows with Core's sets
/// (`JobState.movable(to:)`), so only legal moves are made, and insert their transitions in the
/// same statement.
struct Transitions {
    let db: PostgresConnection

    /// Throws `IllegalTransition` unless `from → to` is a legal job move.
    static func check(job from: JobState, to: JobState) throws {
        guard from.canMove(to: to) else { throw IllegalTransition(entity: "job", from: from.rawValue, to: to.rawValue) }
    }

    /// Throws `IllegalTransition` unless `from → to` is a legal move of a message in the outbox.
    static func check(mail from: MailState, to: MailState) throws {
        guard from.next.contains(to) else { throw IllegalTransition(entity: "mail", from: from.rawValue, to: to.rawValue) }
    }

    /// Throws `IllegalTransition` unless `from → to` is a legal move of a delivery.
    static func check(delivery from: DeliveryState, to: DeliveryState) throws {
        guard from.next.contains(to) else { throw IllegalTransition(entity: "delivery", from: from.rawValue, to: to.rawValue) }
    }

    /// Throws `IllegalTransition` unless `from → to` is a legal move of a request.
    static func check(request from: RequestState, to: RequestState) throws {
        guard from.canMove(to: to) else { throw IllegalTransition(entity: "request", from: from.rawValue, to: to.rawValue) }
    }

    /// Records a job's move (`from` nil: the job run was created in `to`).
    func job(_ jobRunID: Int, batchRunID: Int, from: JobState?, to: JobState, reason: String, at: Date, runner: String) throws {
        if let from { try Transitions.check(job: from, to: to) }
        try insert(batchRunID: batchRunID, jobRunID: jobRunID, from: from?.rawValue, to: to.rawValue, reason: reason, at: at, runner: runner)
    }

    /// Records a batch run's move (`from` nil: it was created in `to`).
    func batch(_ batchRunID: Int, from: BatchState?, to: BatchState, reason: String, at: Date, runner: String) throws {
        if let from, !from.canMove(to: to) { throw IllegalTransition(entity: "batch run", from: from.rawValue, to: to.rawValue) }
        try insert(batchRunID: batchRunID, jobRunID: nil, from: from?.rawValue, to: to.rawValue, reason: reason, at: at, runner: runner)
    }

    private func insert(batchRunID: Int, jobRunID: Int?, from: String?, to: String, reason: String, at: Date, runner: String) throws {
        try db.query("""
            INSERT INTO nightshift.state_transitions (batch_run_id, job_run_id, from_state, to_state, reason, at, runner)
            VALUES (\(batchRunID), \(jobRunID), \(from), \(to), \(reason), \(at), \(runner))
            """)
    }
}

/// A move the state machine does not allow: a bug in the runner, refused before it is written.
struct IllegalTransition: Error, CustomStringConvertible {
    let entity: String
    let from: String
    let to: String
    var description: String {
        "illegal \(entity) transition \(from) → \(to): refused, nothing was written. Fix: this is a bug in NightShift; report it with the log"
    }
}
