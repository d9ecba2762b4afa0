import Foundation
import Logging
import PostgresClient

/// Rows a runner's services met and could not read (a state no enum knows, a NULL where a value
/// belongs). Each is logged once per process and then left alone: the pass carries on with
/// everything else, and `nightshift status` lists such rows under "needs a look".
final class UnreadableRows: @unchecked Sendable {
    private let logger: Logger
    private let lock = NSLock()
    private var seen: Set<RowDecodingError> = []

    init(logger: Logger) { self.logger = logger }

    /// Logs `error` unless it was logged already; returns whether it was new.
    @discardableResult
    func report(_ error: RowDecodingError, by service: String) -> Bool {
        let new = lock.withLock { seen.insert(error).inserted }
        if new {
            logger.error("a row cannot be read and is left alone; `nightshift status` lists it under needs a look",
                         metadata: ["service": "\(service)", "row": "\(error.row)", "error": "\(error)"])
        }
        return new
    }

    /// A handler for `QueryResult.decode(unreadable:)` on behalf of `service`.
    func handler(_ service: String) -> (RowDecodingError) -> Void { { [self] in report($0, by: service) } }
}
