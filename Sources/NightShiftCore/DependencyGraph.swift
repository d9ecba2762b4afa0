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
    let dependencies: Adjacency
    let dependentsOf: Adjacency
    /// Every job can be ordered (no cycle).
    let acyclic: Bool
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
        if !acyclic, let cycle = findCycle() { throw .cycle(cycle) }
    }

    private init(unchecked input: [JobDefinition]) {
        // Names read once: comparing through the jobs would retain and release each job per comparison.
        let names = input.map { $0.name }
        inputPosition = input.indices.sorted { names[$0] < names[$1] }
        definitions = inputPosition.map { input[$0] }
        var index: [String: Int] = [:]
        index.reserveCapacity(definitions.count)
        for (i, position) in inputPosition.enumerated() { index[names[position]] = i }
        self.index = index
        // Dependencies row by row into one flat array, through one reused scratch array.
        var starts = [0]
        starts.reserveCapacity(definitions.count + 1)
        var targets: [Int] = []
        var deps: [Int] = []
        var firstWithUnknown: Int?
        for (i, job) in definitions.enumerated() {
            let named = job.dependsOn
            deps.removeAll(keepingCapacity: true)
            for name in named { if let d = index[name] { deps.append(d) } }
            if deps.count < named.count && firstWithUnknown == nil { firstWithUnknown = i }
            deps.sort()
            for (k, d) in deps.enumerated() where k == 0 || d != deps[k - 1] { targets.append(d) }
            starts.append(targets.count)
        }
        let dependencies = Adjacency(starts: starts, targets: targets)
        self.dependencies = dependencies
        dependentsOf = dependencies.reversed()
        self.firstWithUnknown = firstWithUnknown
        // Cycle check: Kahn's count with a plain stack (the priority order is built only when asked).
        var indegree = dependencies.counts
        var ready = indegree.indices.filter { indegree[$0] == 0 }
        var ordered = 0
        while let i = ready.popLast() {
            ordered += 1
            for next in dependentsOf[i] {
                indegree[next] -= 1
                if indegree[next] == 0 { ready.append(next) }
            }
        }
        acyclic = ordered == definitions.count
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
        if !graph.acyclic, let cycle = graph.findCycle() { found.append(.cycle(cycle)) }
        return found
    }

    /// A topological order: every job after all its dependencies; among jobs that are ready at
    /// the same time, the more urgent priority first, then the name.
    public func order() -> [JobDefinition] {
        DependencyGraph.kahn(definitions: definitions, dependencies: dependencies, dependentsOf: dependentsOf).map { definitions[$0] }
    }

    static func kahn(definitions: [JobDefinition], dependencies: Adjacency, dependentsOf: Adjacency) -> [Int] {
        let priority = definitions.map { $0.priority.rawValue } // a closure, not a key path: this runs on 10,000 jobs
        var indegree = dependencies.counts
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
                    let dep = deps[deps.startIndex + top.next]
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

/// Integer adjacency lists in two flat arrays (compressed rows): a graph of 10,000 jobs is two
/// arrays, not 10,000.
struct Adjacency: Sendable {
    /// Row `i` is `targets[starts[i]..<starts[i + 1]]`.
    private let starts: [Int]
    private let targets: [Int]

    init(starts: [Int], targets: [Int]) {
        self.starts = starts
        self.targets = targets
    }

    subscript(i: Int) -> ArraySlice<Int> { targets[starts[i]..<starts[i + 1]] }

    /// The length of every row.
    var counts: [Int] { (0..<(starts.count - 1)).map { starts[$0 + 1] - starts[$0] } }

    /// The same edges the other way round; rows stay ascending.
    func reversed() -> Adjacency {
        let nodes = starts.count - 1
        var reversedStarts = [Int](repeating: 0, count: nodes + 1)
        for target in targets { reversedStarts[target + 1] += 1 }
        for i in 0..<nodes { reversedStarts[i + 1] += reversedStarts[i] }
        var fill = reversedStarts
        var reversedTargets = [Int](repeating: 0, count: targets.count)
        for source in 0..<nodes {
            for target in self[source] {
                reversedTargets[fill[target]] = source
                fill[target] += 1
            }
        }
        return Adjacency(starts: reversedStarts, targets: reversedTargets)
    }
}
