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

/// Overrides folded onto a batch's jobs: what the runner and the planner both act on.
public struct AppliedOverrides: Sendable {
    /// The jobs with ignored dependencies removed from `dependsOn`.
    public let jobs: [JobDefinition]
    /// Jobs not to run (their dependents treat them as done).
    public let skipped: Set<String>
    /// The overrides that concern each job.
    public let byJob: [String: [ManualOverride]]
    /// Overrides naming a job that is not among `jobs`.
    public let unknown: [ManualOverride]

    public init(jobs: [JobDefinition], overrides: [ManualOverride]) {
        let names = Set(jobs.map(\.name))
        var skipped: Set<String> = []
        var ignored: [String: Set<String>] = [:]
        var byJob: [String: [ManualOverride]] = [:]
        var unknown: [ManualOverride] = []
        for override in overrides {
            guard names.contains(override.job) else {
                unknown.append(override)
                continue
            }
            byJob[override.job, default: []].append(override)
            switch override.action {
            case .skip: skipped.insert(override.job)
            case let .ignoreDependency(dep): ignored[override.job, default: []].insert(dep)
            }
        }
        self.jobs = jobs.map { job in
            guard let drop = ignored[job.name] else { return job }
            return job.with(dependsOn: job.dependsOn.filter { !drop.contains($0) })
        }
        self.skipped = skipped
        self.byJob = byJob
        self.unknown = unknown
    }
}
