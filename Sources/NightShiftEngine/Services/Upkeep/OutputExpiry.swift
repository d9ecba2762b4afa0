import Foundation
import NightShiftCore
import PostgresClient

/// Removes published files past their retention (`OutputRetention`: exports 7 years at least,
/// reports 1 year, archives for ever, unless configured otherwise), counted by the business date
/// they are for. On the leader only, at its first pass as leader and then every hour. A file is
/// removed only when no delivery of it still waits (queued, sending, or a dead letter an operator
/// may resend). Each removal is recorded on the output's row (`removed_at`, `removed_because`) and
/// in the audit, in one transaction, after the file is gone: a runner killed in between finds the
/// row again, finds the file gone, and records it then. A recorded path outside the exports,
/// reports and archives folders is never removed: the row is left and the pass says so.
final class OutputExpiry: UpkeepConcern {
    let name = "output retention"
    private let context: RunnerContext
    private let isLeader: () -> Bool
    private var lastPass: Date?
    /// Rows read per round.
    var chunk = 200

    struct Removed: Equatable {
        var files = 0
        var alreadyGone = 0
    }

    init(context: RunnerContext, isLeader: @escaping () -> Bool) {
        self.context = context
        self.isLeader = isLeader
    }

    func runOnce(db: PostgresConnection, now: Date) throws {
        guard isLeader() else {
            lastPass = nil
            return
        }
        if let lastPass, now.timeIntervalSince(lastPass) < 3600 { return }
        lastPass = now
        let removed = try removeExpired(db: db, now: now)
        if removed.files + removed.alreadyGone > 0 {
            context.logger.notice("outputs past their retention removed",
                                  metadata: ["files": "\(removed.files)", "already_gone": "\(removed.alreadyGone)"])
        }
    }

    /// One pass: every output past its retention today, oldest first.
    func removeExpired(db: PostgresConnection, now: Date) throws -> Removed {
        let configuration = context.configuration
        let retention = configuration.outputRetention
        let today = LocalDate(now, in: context.zone)
        let jobs = retention.byJob.keys.sorted()
        let jobCutoffs = jobs.map { retention.cutoff(job: $0, kind: .export, today: today) }  // a job's own keep: its kind does not matter
        let kinds: [(String, OutputRetention.Kind)] = [("export", .export), ("manifest", .export), ("signature", .export),
                                                       ("report", .report), ("archive", .archive)]
        let kindCutoffs = kinds.map { retention.cutoff(job: nil, kind: $0.1, today: today) }
        let settings = configuration.settings
        let folders = [settings.exportsDirectory, settings.reportsDirectory, settings.archivesDirectory].map { $0.hasSuffix("/") ? $0 : $0 + "/" }
        let actor = OperatorIdentity(account: "runner \(context.identity.id)", host: context.identity.host)
        var removed = Removed()
        var after = 0
        while true {
            let due = try db.query("""
                SELECT o.id, o.path, o.kind, o.job, o.business_date::text AS business_date
                FROM nightshift.outputs o
                LEFT JOIN unnest(\(jobs)::text[], \(jobCutoffs)::date[]) AS j(job, cutoff) ON j.job = o.job
                LEFT JOIN unnest(\(kinds.map(\.0))::text[], \(kindCutoffs)::date[]) AS k(kind, cutoff) ON k.kind = o.kind
                WHERE o.removed_at IS NULL AND o.kind <> 'summary_mail' AND o.id > \(after)
                  AND o.business_date < CASE WHEN j.job IS NOT NULL THEN j.cutoff ELSE k.cutoff END
                  AND NOT EXISTS (SELECT 1 FROM nightshift.deliveries d WHERE d.output_id = o.id AND d.state <> \(DeliveryState.delivered))
                ORDER BY o.id LIMIT \(chunk)
                """).decode(of: "nightshift.outputs") { row in
                (id: try row.int("id"), path: try row.text("path"), kind: try row.text("kind"), job: try row.optionalText("job"),
                 businessDate: try row.text("business_date"))
            }
            for output in due {
                after = output.id
                let kind = kinds.first { $0.0 == output.kind }?.1 ?? .report
                let keep = retention.keep(job: output.job, kind: kind)
                let path = URL(fileURLWithPath: output.path).standardizedFileURL.path
                guard path == output.path, folders.contains(where: { path.hasPrefix($0) }) else {
                    context.logger.error("an output's recorded path is outside the exports, reports and archives folders: it is not removed",
                                         metadata: ["output": "\(output.id)", "path": "\(output.path)"])
                    continue
                }
                var gone = false
                if unlink(path) != 0 {
                    guard errno == ENOENT else {
                        throw OutputRemovalError(path: path, errno: errno)
                    }
                    gone = true
                }
                let because = "retention: \(output.job ?? output.kind) outputs are kept \(keep) (business date \(output.businessDate))"
                    + (gone ? "; the file was already gone" : "")
                try db.transaction {
                    let updated = try db.query("""
                        UPDATE nightshift.outputs SET removed_at = \(now), removed_because = \(because)
                        WHERE id = \(output.id) AND removed_at IS NULL RETURNING id
                        """).rowCount
                    if updated == 1 {
                        try Audit(db: db).record(actor, command: "output retention", outcome: .removed, detail: "\(path): \(because)")
                    }
                }
                if gone { removed.alreadyGone += 1 } else { removed.files += 1 }
            }
            if due.count < chunk { break }
        }
        return removed
    }
}

/// A file past its retention that could not be removed (other than already gone).
struct OutputRemovalError: Error, CustomStringConvertible {
    let path: String
    let errno: Int32
    var description: String {
        "removing \(path) past its retention failed: \(String(cString: strerror(errno))) (errno \(errno)). Fix: check the folder's owner and mode; the next pass tries again"
    }
}
