/// Jobs and their `depends_on` edges, checked for unknown names and cycles.
public struct DependencyGraph: Sendable {
    public let jobs: [String: JobDefinition]

    public enum Problem: Error, Equatable, CustomStringConvertible, Sendable {
        case unknownDependency(job: String, missing: String)
        /// The jobs on the cycle in order, first repeated at the end: `a → b → c → a`.
        case cycle([String])

        public var description: String {
            switch self {
            case let .unknownDependency(job, missing):
                return "job \(job) depends on \(missing), which is not a configured job; fix the name in depends_on or add jobs/\(missing).yaml"
            case let .cycle(path):
                return "dependency cycle: \(path.joined(separator: " → ")); remove one of these depends_on entries"
            }
        }
    }

    /// Builds the graph, reporting every unknown dependency and the first cycle found.
    public init(_ definitions: [JobDefinition]) throws(DependencyGraph.Problem) {
        var jobs: [String: JobDefinition] = [:]
        for job in definitions { jobs[job.name] = job }
        self.jobs = jobs
        for job in definitions.sorted(by: { $0.name < $1.name }) {
            for dep in job.dependsOn where jobs[dep] == nil {
                throw .unknownDependency(job: job.name, missing: dep)
            }
        }
        if let cycle = DependencyGraph.findCycle(jobs) { throw .cycle(cycle) }
    }

    /// Every problem at once (for `nightshift check`): unknown dependencies, then one cycle.
    public static func problems(in definitions: [JobDefinition]) -> [Problem] {
        var byName: [String: JobDefinition] = [:]
        for job in definitions { byName[job.name] = job }
        var found: [Problem] = []
        for job in definitions.sorted(by: { $0.name < $1.name }) {
            for dep in job.dependsOn where byName[dep] == nil {
                found.append(.unknownDependency(job: job.name, missing: dep))
            }
        }
        if let cycle = findCycle(byName) { found.append(.cycle(cycle)) }
        return found
    }

    /// A topological order: every job after all its dependencies; among jobs that are ready at
    /// the same time, the more urgent priority first, then the name (Kahn's algorithm with a heap).
    public func order() -> [JobDefinition] {
        var indegree: [String: Int] = [:]
        var dependents: [String: [String]] = [:]
        for job in jobs.values {
            indegree[job.name, default: 0] += 0
            for dep in Set(job.dependsOn) {
                indegree[job.name, default: 0] += 1
                dependents[dep, default: []].append(job.name)
            }
        }
        var ready = Heap<JobDefinition>(by: DependencyGraph.runsBefore)
        for (name, count) in indegree where count == 0 { ready.push(jobs[name]!) }
        var result: [JobDefinition] = []
        result.reserveCapacity(jobs.count)
        while let job = ready.pop() {
            result.append(job)
            for next in dependents[job.name] ?? [] {
                indegree[next]! -= 1
                if indegree[next] == 0 { ready.push(jobs[next]!) }
            }
        }
        return result
    }

    static func runsBefore(_ a: JobDefinition, _ b: JobDefinition) -> Bool {
        a.priority != b.priority ? a.priority < b.priority : a.name < b.name
    }

    /// Jobs that depend on `name`, directly or through others.
    public func dependents(of name: String) -> Set<String> {
        var result: Set<String> = []
        var frontier = [name]
        while let current = frontier.popLast() {
            for job in jobs.values where job.dependsOn.contains(current) && !result.contains(job.name) {
                result.insert(job.name)
                frontier.append(job.name)
            }
        }
        return result
    }

    /// Depth-first search with colours; returns the first cycle in name order, as a closed path.
    static func findCycle(_ jobs: [String: JobDefinition]) -> [String]? {
        enum Colour { case white, grey, black }
        var colour: [String: Colour] = [:]
        var stack: [String] = []
        func visit(_ name: String) -> [String]? {
            colour[name] = .grey
            stack.append(name)
            for dep in (jobs[name]?.dependsOn ?? []).sorted() where jobs[dep] != nil {
                switch colour[dep, default: .white] {
                case .grey:
                    let start = stack.firstIndex(of: dep)!
                    // Report in execution order: a → b means a must run before b.
                    return Array(stack[start...].reversed()) + [stack[start...].last!]
                case .white:
                    if let cycle = visit(dep) { return cycle }
                case .black:
                    break
                }
            }
            stack.removeLast()
            colour[name] = .black
            return nil
        }
        for name in jobs.keys.sorted() where colour[name, default: .white] == .white {
            if let cycle = visit(name) { return cycle }
        }
        return nil
    }
}
