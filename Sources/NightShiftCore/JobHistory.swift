import Foundation

/// A job run's recorded state changes, read as what the night's report and timeline show: the
/// bars of its attempts and pauses, how many attempts were retried, and why it paused.
public struct JobHistory: Sendable, Equatable {
    public struct Change: Sendable, Equatable {
        /// The state entered (a `JobState` raw value).
        public let to: String
        public let reason: String?
        public let at: Date

        public init(to: String, reason: String?, at: Date) {
            self.to = to
            self.reason = reason
            self.at = at
        }
    }

    public let changes: [Change]

    /// `changes` in the order they happened.
    public init(_ changes: [Change]) { self.changes = changes }

    /// Attempts that ended and were tried again (a retried failure, a rescue after a lost lease).
    public var retries: Int {
        zip(changes, changes.dropFirst()).filter { $0.to == JobState.running.rawValue && [JobState.retrying.rawValue, JobState.pending.rawValue].contains($1.to) }.count
    }

    /// Why it paused, once per pause.
    public var pauses: [String] { changes.filter { $0.to == JobState.paused.rawValue }.map { $0.reason ?? "paused" } }

    /// Its attempts and pauses as bars; one still open ends at `until` (running or paused).
    public func bars(until: Date) -> [NightTimeline.Bar] {
        var bars: [NightTimeline.Bar] = []
        var open: (start: Date, paused: Bool)?
        func close(at end: Date, _ mark: NightTimeline.Mark) {
            if let started = open { bars.append(NightTimeline.Bar(start: started.start, end: max(end, started.start), mark: mark)) }
            open = nil
        }
        for change in changes {
            switch JobState(rawValue: change.to) {
            case .running:
                if open?.paused == true { close(at: change.at, .paused) }
                open = (change.at, false)
            case .paused:
                if open?.paused == false { close(at: change.at, .ran) }
                open = (change.at, true)
            case .retrying, .pending:
                if open != nil { close(at: change.at, open!.paused ? .paused : .retried) }
            case .succeeded, .succeededWithRejects:
                close(at: change.at, .succeeded)
            case .failed, .timedOut:
                if open != nil { close(at: change.at, open!.paused ? .paused : .failed) }
            case .skipped, nil:
                if open != nil { close(at: change.at, open!.paused ? .paused : .failed) }
            }
        }
        if let started = open { close(at: until, started.paused ? .paused : .running) }
        return bars
    }
}
