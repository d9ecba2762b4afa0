/// How a failure should be treated (DESIGN: error handling).
public enum FailureClass: String, Sendable, Codable, CaseIterable {
    /// The system hiccuped (connection lost, deadlock, disk full): retry from the checkpoint.
    case transient
    /// The job itself is wrong (bad SQL, missing object, bad configuration): fail, skip dependents.
    case permanent
    /// One record is bad: set it aside for review and carry on.
    case badRecord = "bad_record"
}

/// What to do after an attempt failed. A pure function of the failure and the attempt count.
public enum RetryDecision: Equatable, Sendable {
    case retry(afterSeconds: Int)
    case giveUp(reason: String)

    /// - Parameters:
    ///   - attempt: the number of failures so far, counting this one (1 for the first).
    ///   - retries: how many retries the job allows after the first attempt.
    ///   - baseDelay: the first back-off; doubles each retry, capped at `maxDelay` (5 minutes for jobs).
    ///   - jitter: a number in 0..<1 (random in the runner, fixed in tests): the delay is spread
    ///     over 50–150 % of the back-off, so that jobs failing together do not retry together.
    public static func after(_ failure: FailureClass, attempt: Int, retries: Int, baseDelay: Int = 5,
                             maxDelay: Int = 300, jitter: Double = 0.5) -> RetryDecision {
        switch failure {
        case .permanent:
            return .giveUp(reason: "permanent error: retrying cannot help")
        case .badRecord:
            return .giveUp(reason: "bad record outside a record-level step")
        case .transient:
            guard attempt <= retries else {
                return .giveUp(reason: "transient error persisted after \(retries) retr\(retries == 1 ? "y" : "ies")")
            }
            let backoff = Double(min(maxDelay, baseDelay << min(attempt - 1, 16)))
            let spread = min(max(jitter, 0), 1)
            return .retry(afterSeconds: Int((backoff * (0.5 + spread)).rounded()))
        }
    }
}

extension FailureClass {
    /// How a PostgreSQL error is treated, from its SQLSTATE: the one classification the runner,
    /// its services and the jobs share.
    /// - Parameters:
    ///   - sqlState: the server's five-character code; nil when libpq reported the error itself
    ///     (a lost connection is reported as 08006 by PostgresClient).
    ///   - connecting: the error happened while connecting (no server yet: worth a retry).
    /// - Returns: `.transient` for what goes away by itself (the connection, the server starting or
    ///   stopping, resources, serialization failures, deadlocks, a lock not available, an I/O
    ///   error); `.badRecord` for data errors (22xxx) and integrity violations (23xxx), which point
    ///   at records (a job-level step treats them as permanent); `.permanent` for everything else,
    ///   above all the client's own mistakes: a protocol violation such as a wrong number of bind
    ///   parameters (08P01), syntax or an undefined object (42xxx), an unsupported feature (0A000),
    ///   an invalid statement or cursor name (26000, 34000), a cancelled statement (57014: the
    ///   runner cancels only on a timeout or a stop, which it records itself).
    public static func of(sqlState: String?, connecting: Bool) -> FailureClass {
        guard let state = sqlState, state.count == 5 else { return connecting ? .transient : .permanent }
        switch state {
        case "08P01": return .permanent          // protocol violation: the client's mistake
        case "57014", "57P04": return .permanent // query cancelled (by the runner), database dropped
        case "53400": return .permanent          // configuration limit exceeded: retrying cannot help
        case "40001", "40P01", "55P03", "58030": return .transient
        default: break
        }
        switch state.prefix(2) {
        case "08", "53", "57": return .transient // connection, insufficient resources, operator intervention
        case "22", "23": return .badRecord
        default: return .permanent
        }
    }
}
