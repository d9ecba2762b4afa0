/// How a failure should be treated (DESIGN: error handling).
public enum FailureClass: String, Sendable, Codable {
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
