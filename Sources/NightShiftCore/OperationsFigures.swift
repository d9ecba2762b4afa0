import Foundation

/// The weekly operations report's figures and their goals, from counts over a period. Pure.
public struct OperationsFigures: Sendable, Equatable {
    /// What happened in the period.
    public struct Counts: Sendable, Equatable {
        /// Batch runs that ended (succeeded or failed), and those that succeeded.
        public var batchRuns = 0
        public var batchesSucceeded = 0
        /// Batch runs cancelled with their request before any job started: neither a success nor a
        /// failure, so they are in no rate, only counted here.
        public var batchesCancelled = 0
        /// Ended batch runs that had a window, and those that ended within it.
        public var batchesWithWindow = 0
        public var batchesOnTime = 0
        /// Job attempts started, and those that ended in an error (failed, timed out, retried).
        public var attempts = 0
        public var failedAttempts = 0
        /// Job runs that had a failed attempt and ended, and those of them that succeeded in the end.
        public var jobsWithFailures = 0
        public var jobsRecovered = 0
        /// Rows processed, and the hours the jobs ran.
        public var rows = 0
        public var jobHours = 0.0

        public init() {}
    }

    /// One figure against its goal.
    public struct KPI: Sendable, Equatable {
        public let key: String
        public let label: String
        /// A percentage (or rows per hour); nil when there was nothing to measure.
        public let value: Double?
        public let goal: Double?
        public let higherIsBetter: Bool

        /// nil without a value or a goal.
        public var met: Bool? {
            guard let value, let goal else { return nil }
            return higherIsBetter ? value > goal : value < goal
        }
    }

    public let counts: Counts
    public let kpis: [KPI]

    public init(_ counts: Counts) {
        self.counts = counts
        func percent(_ part: Int, _ whole: Int) -> Double? { whole > 0 ? Double(part) * 100 / Double(whole) : nil }
        kpis = [
            KPI(key: "batch_success_rate", label: "Batch success rate", value: percent(counts.batchesSucceeded, counts.batchRuns), goal: 95,
                higherIsBetter: true),
            KPI(key: "on_time_completion", label: "On-time completion", value: percent(counts.batchesOnTime, counts.batchesWithWindow), goal: 90,
                higherIsBetter: true),
            KPI(key: "error_rate", label: "Error rate (failed attempts)", value: percent(counts.failedAttempts, counts.attempts), goal: 2,
                higherIsBetter: false),
            KPI(key: "recovery_success", label: "Recovery success", value: percent(counts.jobsRecovered, counts.jobsWithFailures), goal: 98,
                higherIsBetter: true),
            KPI(key: "records_per_hour", label: "Records per hour of job time",
                value: counts.jobHours > 0 ? Double(counts.rows) / counts.jobHours : nil, goal: nil, higherIsBetter: true),
        ]
    }

    /// The change from `previous` to `current` in percent (nil when there is no previous figure).
    public static func trend(current: Double, previous: Double?) -> Double? {
        guard let previous, previous > 0 else { return nil }
        return (current - previous) * 100 / previous
    }
}
