import Foundation

/// When a batch's remaining work should end, from each job's expected duration (its history):
/// the jobs are laid out on the slots in queue order as their dependencies finish, running jobs
/// first with what they have left. Windows and other batches are left out, so it is the earliest
/// likely finish: when even that passes the batch's deadline, the window will be missed.
public enum FinishForecast {
    public struct Work: Sendable, Equatable {
        public let name: String
        /// Jobs of the same batch it waits for (those already ended are ignored).
        public let dependsOn: [String]
        /// Seconds it still needs (for a running job: expected minus what it has run).
        public let seconds: Double
        public let running: Bool

        public init(name: String, dependsOn: [String], seconds: Double, running: Bool) {
            self.name = name
            self.dependsOn = dependsOn
            self.seconds = seconds
            self.running = running
        }
    }

    /// The instant the last of `work` ends, starting at `now` on `slots` parallel slots (at least
    /// as many as the jobs running now). `work` is in queue order: priority, then the longest
    /// remaining path (what is left of the job and its `RemainingPath` tail), then name.
    public static func finish(of work: [Work], now: Date, slots: Int) -> Date {
        let names = Set(work.map(\.name))
        var done: [String: Double] = [:]  // name -> end, seconds after now
        var free = Array(repeating: 0.0, count: max(1, slots, work.filter(\.running).count))
        var waiting = work
        // Running jobs hold a slot each from now.
        for (i, job) in waiting.enumerated().filter({ $0.element.running }) {
            done[job.name] = job.seconds
            free[i % free.count] = max(free[i % free.count], job.seconds)
        }
        waiting.removeAll(where: \.running)
        free.sort()
        while !waiting.isEmpty {
            // The first job in queue order whose dependencies are all placed; the earliest it can start.
            guard let index = waiting.firstIndex(where: { job in job.dependsOn.allSatisfy { !names.contains($0) || done[$0] != nil } }) else {
                break // a cycle cannot be run; DependencyGraph refuses it at configuration time
            }
            let job = waiting.remove(at: index)
            let ready = job.dependsOn.compactMap { done[$0] }.max() ?? 0
            // The slot free latest but by `ready` (best fit), else the one free first.
            let slot = free.lastIndex(where: { $0 <= ready }) ?? 0
            let start = max(ready, free[slot])
            let end = start + max(0, job.seconds)
            free[slot] = end
            free.sort()
            done[job.name] = end
        }
        return now.addingTimeInterval(done.values.max() ?? 0)
    }
}
