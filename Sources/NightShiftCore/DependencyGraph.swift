/// Jobs and their `depends_on` edges, checked for unknown names and cycles.
///
/// Internally index-based: jobs are ranked by name once, edges are integer lists, and ordering is
/// Kahn's algorithm over a heap of indices, O((V + E) log V).
public struct DependencyGraph: Sendable {
    /// The jobs by name (built when asked for: a plan of 10,000 jobs never needs it).
    public var jobs: [String: JobDefinition] { Dictionary(definitions.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first }) }
    /// Jobs sorted by name; a job's index is its name rank.
    let definitions: [JobDefinition]
    /// Where each job was in the input: `definitions[i]` is `input[inputPosition[i]]`.
    let inputPosition: [Int]
    let index: [String: Int]
    /// Dependency and dependent indices per job (deduplicated, ascending).
    let dependencies: [[Int]]
    let dependentsOf: [[Int]]
    /// The topological order (indices), computed once.
    let topological: [Int]
    /// The first job (by name) naming a dependency that is not a job.
    private let firstWithUnknown: Int?

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

    /// Builds the graph, reporting the first unknown dependency (by job name) or a cycle.
    public init(_ input: [JobDefinition]) throws(DependencyGraph.Problem) {
        self.init(unchecked: input)
        if let job = firstWithUnknown, let dep = definitions[job].dependsOn.first(where: { index[$0] == nil }) {
            throw .unknownDependency(job: definitions[job].name, missing: dep)
        }
        if topological.count < definitions.count, let cycle = findCycle() { throw .cycle(cycle) }
    }

    private init(unchecked input: [JobDefinition]) {
        inputPosition = input.indices.sorted { input[$0].name < input[$1].name }
        definitions = inputPosition.map { input[$0] }
        var index: [String: Int] = [:]
        index.reserveCapacity(definitions.count)
        for (i, job) in definitions.enumerated() { index[job.name] = i }
        self.index = index
        var dependencies = Array(repeating: [Int](), count: definitions.count)
        var dependentsOf = Array(repeating: [Int](), count: definitions.count)
        var firstWithUnknown: Int?
        for (i, job) in definitions.enumerated() {
            let named = job.dependsOn
            var deps = named.compactMap { index[$0] }
            if deps.count < named.count && firstWithUnknown == nil { firstWithUnknown = i }
            deps.sort()
            if deps.count > 1 {
                var unique = 1
                for k in 1..<deps.count where deps[k] != deps[unique - 1] {
                    deps[unique] = deps[k]
                    unique += 1
                }
                deps.removeLast(deps.count - unique)
            }
            dependencies[i] = deps
            for d in deps { dependentsOf[d].append(i) }
        }
        self.dependencies = dependencies
        self.dependentsOf = dependentsOf
        self.firstWithUnknown = firstWithUnknown
        topological = DependencyGraph.kahn(definitions: definitions, dependencies: dependencies, dependentsOf: dependentsOf)
    }

    /// Every problem at once (for `nightshift check`): unknown dependencies, then one cycle.
    public static func problems(in definitions: [JobDefinition]) -> [Problem] {
        let names = Set(definitions.map(\.name))
        var found: [Problem] = []
        for job in definitions.sorted(by: { $0.name < $1.name }) {
            for dep in job.dependsOn where !names.contains(dep) {
                found.append(.unknownDependency(job: job.name, missing: dep))
            }
        }
        let graph = DependencyGraph(unchecked: definitions)
        if graph.topological.count < graph.definitions.count, let cycle = graph.findCycle() { found.append(.cycle(cycle)) }
        return found
    }

    /// A topological order: every job after all its dependencies; among jobs that are ready at
    /// the same time, the more urgent priority first, then the name.
    public func order() -> [JobDefinition] { topological.map { definitions[$0] } }

    static func kahn(definitions: [JobDefinition], dependencies: [[Int]], dependentsOf: [[Int]]) -> [Int] {
        let priority = definitions.map(\.priority.rawValue)
        var indegree = dependencies.map(\.count)
        // Ties by name are ties by index, since indices are name ranks.
        var ready = Heap<Int>(by: { priority[$0] != priority[$1] ? priority[$0] < priority[$1] : $0 < $1 })
        for i in definitions.indices where indegree[i] == 0 { ready.push(i) }
        var result: [Int] = []
        result.reserveCapacity(definitions.count)
        while let i = ready.pop() {
            result.append(i)
            for next in dependentsOf[i] {
                indegree[next] -= 1
                if indegree[next] == 0 { ready.push(next) }
            }
        }
        return result
    }

    /// Jobs that depend on `name`, directly or through others.
    public func dependents(of name: String) -> Set<String> {
        guard let start = index[name] else { return [] }
        var seen: Set<Int> = []
        var frontier = [start]
        while let current = frontier.popLast() {
            for next in dependentsOf[current] where seen.insert(next).inserted { frontier.append(next) }
        }
        return Set(seen.map { definitions[$0].name })
    }

    /// Iterative depth-first search in name order; the first cycle found, as a closed path in run
    /// order (each arrow x → y means y depends on x).
    func findCycle() -> [String]? {
        var colour = Array(repeating: 0, count: definitions.count) // 0 white, 1 grey, 2 black
        var stack: [(node: Int, next: Int)] = []
        for root in definitions.indices where colour[root] == 0 {
            stack.append((root, 0))
            colour[root] = 1
            while let top = stack.last {
                let deps = dependencies[top.node]
                if top.next < deps.count {
                    stack[stack.count - 1].next += 1
                    let dep = deps[top.next]
                    if colour[dep] == 1 {
                        let path = stack.map(\.node)
                        let start = path.firstIndex(of: dep)!
                        let loop = Array(path[start...].reversed()) + [path.last!]
                        return loop.map { definitions[$0].name }
                    }
                    if colour[dep] == 0 {
                        colour[dep] = 1
                        stack.append((dep, 0))
                    }
                } else {
                    colour[top.node] = 2
                    stack.removeLast()
                }
            }
        }
        return nil
    }
}
