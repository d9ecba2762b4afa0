import Foundation
import NightShiftConfig
import NightShiftCore
import Packaging
import PostgresClient

/// A job attempt's failure as the runner records and reports it: the class that drives the retry
/// decision, the native code (SQLSTATE for PostgreSQL) and a message that says what happened.
public struct JobFailure: Error, Sendable, CustomStringConvertible {
    public let failureClass: FailureClass
    public let sqlState: String?
    public let message: String

    public init(failureClass: FailureClass, sqlState: String?, message: String) {
        self.failureClass = failureClass
        self.sqlState = sqlState
        self.message = message
    }

    public var description: String {
        // A PostgreSQL error's message names its SQLSTATE already.
        (sqlState.flatMap { message.contains("SQLSTATE \($0)") ? nil : "[SQLSTATE \($0)] " } ?? "") + message + " (\(failureClass.rawValue))"
    }

    /// Classifies anything a job can throw.
    public static func classify(_ error: Error) -> JobFailure {
        switch error {
        case let failure as JobFailure:
            return failure
        case let pg as PostgresError:
            // A data error at job level is the job's (a record-level step sets the record aside itself).
            return JobFailure(failureClass: pg.isTransient ? .transient : .permanent, sqlState: pg.sqlState, message: pg.description)
        case let file as OutputFileError:
            let transient = [ENOSPC, EIO, EAGAIN, EINTR, EDQUOT].contains(file.errno)
            return JobFailure(failureClass: transient ? .transient : .permanent, sqlState: nil, message: file.description)
        case let archive as ArchiveError:
            let transient = [ENOSPC, EIO, EAGAIN].contains(archive.code)
            return JobFailure(failureClass: transient ? .transient : .permanent, sqlState: nil, message: archive.description)
        case let pgp as OpenPGPError:
            return JobFailure(failureClass: .permanent, sqlState: nil, message: pgp.description)
        default:
            return JobFailure(failureClass: .permanent, sqlState: nil, message: "\(error)")
        }
    }
}

extension PostgresError {
    /// How the runner treats this error (`FailureClass.of(sqlState:connecting:)`, in Core).
    public var failureClass: FailureClass { FailureClass.of(sqlState: sqlState, connecting: operation == .connect) }

    /// Worth a retry: the connection, the server, resources, serialization, deadlocks.
    public var isTransient: Bool { failureClass == .transient }

    /// A data error (22xxx) or integrity violation (23xxx): it points at a record, not at the system.
    public var isDataError: Bool { failureClass == .badRecord }
}
