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
    ///   - attempt: the attempt that just failed, starting at 1.
    ///   - retries: how many retries the job allows after the first attempt.
    ///   - baseDelay: the first back-off; doubles each retry, capped at 5 minutes.
    public static func after(_ failure: FailureClass, attempt: Int, retries: Int, baseDelay: Int = 5) -> RetryDecision {
        switch failure {
        case .permanent:
            return .giveUp(reason: "permanent error: retrying cannot help")
        case .badRecord:
            return .giveUp(reason: "bad record outside a record-level step")
        case .transient:
            guard attempt <= retries else {
                return .giveUp(reason: "transient error persisted after \(retries) retr\(retries == 1 ? "y" : "ies")")
            }
            let delay = min(300, baseDelay << min(attempt - 1, 16))
            return .retry(afterSeconds: delay)
        }
    }
}
