import NightShiftCore
import TestSupport
import XCTest

func job(_ name: String, _ priority: Priority = .p3, after deps: [String] = []) -> JobDefinition {
    JobDefinition(name: name, description: "", kind: .aggregation, batch: .daily, priority: priority, dependsOn: deps,
                  estimateSeconds: 60, retries: 3, action: .aggregation(sql: "x.sql"))
}

final class DependencyGraphTests: XCTestCase {
    func testDependenciesFirstThenPriorityThenName() throws {
        let graph = try DependencyGraph([
            job("export", .p3, after: ["summary", "charges"]),
            job("charges", .p3),
            job("summary", .p2),
            job("archive", .p4),
            job("closing", .p1, after: ["charges"]),
        ])
        XCTAssertEqual(graph.order().map(\.name), ["summary", "charges", "closing", "export", "archive"])
    }

    func testCycleIsReportedAsAClosedPathInRunOrder() {
        XCTAssertThrowsError(try DependencyGraph([job("a", after: ["c"]), job("b", after: ["a"]), job("c", after: ["b"]), job("d")])) { error in
            guard case let .cycle(path) = error as! DependencyGraph.Problem else { return XCTFail("\(error)") }
            XCTAssertEqual(path.count, 4)
            XCTAssertEqual(path.first, path.last)
            XCTAssertEqual(Set(path), ["a", "b", "c"])
            // Each arrow x → y means y depends on x.
            let jobs = ["a": ["c"], "b": ["a"], "c": ["b"]]
            for (from, to) in zip(path, path.dropFirst()) { XCTAssertTrue(jobs[to]!.contains(from), "\(from) → \(to)") }
            XCTAssertTrue("\(error)".contains(" → "))
        }
    }

    func testSelfDependencyIsACycle() {
        XCTAssertThrowsError(try DependencyGraph([job("a", after: ["a"])])) { error in
            XCTAssertEqual(error as? DependencyGraph.Problem, .cycle(["a", "a"]))
        }
    }

    func testUnknownDependencyNamesTheJobAndTheMissingName() {
        XCTAssertThrowsError(try DependencyGraph([job("export", after: ["sumary"])])) { error in
            XCTAssertEqual(error as? DependencyGraph.Problem, .unknownDependency(job: "export", missing: "sumary"))
            XCTAssertTrue("\(error)".contains("export depends on sumary"))
        }
    }

    func testDependentsAreTransitive() throws {
        let graph = try DependencyGraph([job("a"), job("b", after: ["a"]), job("c", after: ["b"]), job("d")])
        XCTAssertEqual(graph.dependents(of: "a"), ["b", "c"])
        XCTAssertEqual(graph.dependents(of: "d"), [])
    }

    func testRandomAcyclicGraphsRespectEveryEdge() throws {
        var rng = SplitMix(seed: 7)
        for _ in 0..<50 {
            let count = Int(rng.next() % 60) + 1
            var jobs: [JobDefinition] = []
            for i in 0..<count {
                let deps = (0..<i).filter { _ in rng.next() % 5 == 0 }.map { "j\($0)" }
                jobs.append(job("j\(i)", Priority(rawValue: Int(rng.next() % 4) + 1)!, after: deps))
            }
            let order = try DependencyGraph(jobs.shuffled()).order()
            XCTAssertEqual(order.count, count)
            let position = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1.name, $0) })
            for job in jobs { for dep in job.dependsOn { XCTAssertLessThan(position[dep]!, position[job.name]!) } }
        }
    }
}
