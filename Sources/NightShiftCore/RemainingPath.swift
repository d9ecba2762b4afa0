/// The remaining-path lengths of a batch's jobs ("bottom levels" in list scheduling): for each job,
/// the seconds of the longest chain of work that waits on it — its dependents, theirs, and so on —
/// not counting the job itself. Among ready jobs of the same aged priority the decision model starts
/// the one with the longest `seconds + tail` first: the chain that sets the night's end starts as
/// early as it can (`ReadyQueue`). Computed once per plan and per batch run, in linear time over the
/// graph (a reverse topological sweep).
public enum RemainingPath {
    /// The tail of every job of `graph`, by its index (name rank), from each job's `seconds`
    /// (by index; a skipped job counts 0).
    static func tails(_ graph: DependencyGraph, seconds: [Int]) -> [Int] {
        let count = graph.definitions.count
        var tail = [Int](repeating: 0, count: count)
        // Kahn's order from the sinks: a job is done once every dependent is.
        var left = graph.dependentsOf.counts
        var ready = (0..<count).filter { left[$0] == 0 }
        while let job = ready.popLast() {
            let through = tail[job] + seconds[job]
            for dependency in graph.dependencies[job] {
                tail[dependency] = max(tail[dependency], through)
                left[dependency] -= 1
                if left[dependency] == 0 { ready.append(dependency) }
            }
        }
        return tail
    }

    /// The tail of each job by name; `seconds` by name (a job missing counts 0). Dependencies on
    /// jobs not in `jobs` are ignored; a cycle (refused at configuration time) leaves its jobs at 0.
    public static func tails(of jobs: [(name: String, dependsOn: [String])], seconds: [String: Int]) -> [String: Int] {
        var index: [String: Int] = [:]
        for (i, job) in jobs.enumerated() where index[job.name] == nil { index[job.name] = i }
        var dependents = [[Int]](repeating: [], count: jobs.count)
        var left = [Int](repeating: 0, count: jobs.count)
        for (i, job) in jobs.enumerated() {
            for dependency in Set(job.dependsOn) {
                guard let d = index[dependency], d != i else { continue }
                dependents[d].append(i)
                left[d] += 1
            }
        }
        var tail = [Int](repeating: 0, count: jobs.count)
        var ready = (0..<jobs.count).filter { left[$0] == 0 }
        while let job = ready.popLast() {
            let through = tail[job] + (seconds[jobs[job].name] ?? 0)
            for dependency in Set(jobs[job].dependsOn) {
                guard let d = index[dependency], d != job else { continue }
                tail[d] = max(tail[d], through)
                left[d] -= 1
                if left[d] == 0 { ready.append(d) }
            }
        }
        return Dictionary(jobs.indices.map { (jobs[$0].name, tail[$0]) }, uniquingKeysWith: { a, _ in a })
    }
}
