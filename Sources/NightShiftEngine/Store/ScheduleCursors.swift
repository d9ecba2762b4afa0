import Foundation
import NightShiftCore
import PostgresClient

/// How far each batch's schedule has been evaluated: the scheduler's cursor (misfires are
/// judged from it after a restart).
extension RunnerStore {
    public func scheduleCursor(_ batch: BatchKind) throws -> Date? {
        try db.query("SELECT extract(epoch FROM evaluated_through)::float8 AS t FROM nightshift.schedule_cursors WHERE batch = \(batch)")
            .double(0, "t").map { Date(timeIntervalSince1970: $0) }
    }

    public func advanceScheduleCursor(_ batch: BatchKind, to instant: Date, runner: String) throws {
        try db.query("""
            INSERT INTO nightshift.schedule_cursors (batch, evaluated_through, updated_by) VALUES (\(batch), \(instant), \(runner))
            ON CONFLICT (batch) DO UPDATE SET evaluated_through = excluded.evaluated_through, updated_by = excluded.updated_by,
                updated_at = clock_timestamp()
            """)
    }
}
