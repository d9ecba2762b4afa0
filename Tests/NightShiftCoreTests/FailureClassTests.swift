import NightShiftCore
import XCTest

final class FailureClassTests: XCTestCase {
    /// One row per SQLSTATE (or none) and where it happened; the class the runner acts on.
    func testSQLStatesAreClassifiedByOnePureFunction() {
        let table: [(sqlState: String?, connecting: Bool, expected: FailureClass, why: String)] = [
            (nil, true, .transient, "no server to connect to yet"),
            (nil, false, .permanent, "libpq's own complaint about the request"),
            ("08006", false, .transient, "connection lost"),
            ("08001", true, .transient, "cannot connect"),
            ("08003", false, .transient, "connection does not exist"),
            ("08P01", false, .permanent, "protocol violation: a wrong number of bind parameters"),
            ("40001", false, .transient, "serialization failure"),
            ("40P01", false, .transient, "deadlock"),
            ("55P03", false, .transient, "lock not available"),
            ("53100", false, .transient, "disk full"),
            ("53300", true, .transient, "too many connections"),
            ("53400", false, .permanent, "configuration limit exceeded"),
            ("57P01", false, .transient, "administrator shutdown"),
            ("57P03", true, .transient, "the server is starting"),
            ("57014", false, .permanent, "cancelled by the runner (timeout or stop)"),
            ("57P04", false, .permanent, "database dropped"),
            ("58030", false, .transient, "I/O error"),
            ("58P01", false, .permanent, "undefined file"),
            ("42601", false, .permanent, "syntax error"),
            ("42703", false, .permanent, "undefined column"),
            ("42P01", false, .permanent, "undefined table"),
            ("0A000", false, .permanent, "feature not supported"),
            ("26000", false, .permanent, "invalid prepared statement name"),
            ("34000", false, .permanent, "invalid cursor name"),
            ("28P01", true, .permanent, "wrong password"),
            ("3D000", true, .permanent, "no such database"),
            ("XX000", false, .permanent, "internal error"),
            ("22012", false, .badRecord, "division by zero"),
            ("22P02", false, .badRecord, "invalid text representation"),
            ("23505", false, .badRecord, "unique violation"),
            ("23514", false, .badRecord, "check violation"),
            ("P0001", false, .permanent, "raise exception in a job's own check"),
            ("0800", false, .permanent, "not a SQLSTATE"),
        ]
        for row in table {
            XCTAssertEqual(FailureClass.of(sqlState: row.sqlState, connecting: row.connecting), row.expected,
                           "\(row.sqlState ?? "nil") (\(row.why))")
        }
    }

    func testAPermanentFailureIsNeverRetried() {
        XCTAssertEqual(RetryDecision.after(.of(sqlState: "08P01", connecting: false), attempt: 1, retries: 3),
                       .giveUp(reason: "permanent error: retrying cannot help"))
        XCTAssertEqual(RetryDecision.after(.of(sqlState: "08006", connecting: false), attempt: 1, retries: 3, jitter: 0.5),
                       .retry(afterSeconds: 5))
    }
}
