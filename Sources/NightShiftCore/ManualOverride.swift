import Foundation

/// An operator's instruction for one job in one batch run, recorded with who asked and why.
public struct ManualOverride: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        /// Do not run the job; its dependents treat it as done.
        case skip
        /// Run the job without waiting for this dependency.
        case ignoreDependency(String)
    }

    public let job: String
    public let action: Action
    public let requestedBy: String
    public let reason: String

    public init(job: String, action: Action, requestedBy: String, reason: String) {
        self.job = job
        self.action = action
        self.requestedBy = requestedBy
        self.reason = reason
    }

    public var summary: String {
        switch action {
        case .skip: "skipped by \(requestedBy): \(reason)"
        case let .ignoreDependency(dep): "runs without waiting for \(dep), by \(requestedBy): \(reason)"
        }
    }
}
