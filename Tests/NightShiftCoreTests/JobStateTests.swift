import NightShiftCore
import XCTest

final class JobStateTests: XCTestCase {
    func testOnlyDocumentedTransitionsAreLegal() {
        let legal: Set<String> = ["pending→running", "pending→skipped", "running→succeeded", "running→succeeded_with_rejects", "running→failed",
                                  "running→retrying", "running→timed_out", "running→pending",
                                  "running→paused", "paused→running", "paused→skipped",
                                  "retrying→running", "retrying→failed", "retrying→skipped"]
        for from in JobState.allCases {
            for to in JobState.allCases {
                XCTAssertEqual(from.canMove(to: to), legal.contains("\(from.rawValue)→\(to.rawValue)"), "\(from) → \(to)")
            }
        }
        XCTAssertEqual(JobState.allCases.filter(\.isFinal), [.succeeded, .failed, .skipped, .timedOut, .succeededWithRejects])
        XCTAssertEqual(JobState.allCases.filter(\.isSuccess), [.succeeded, .succeededWithRejects])
        XCTAssertEqual(JobState.allCases.filter(\.blocksDependents), [.failed, .skipped, .timedOut])
        XCTAssertEqual(JobState.allCases.filter(\.isQueued), [.pending, .paused, .retrying])
    }

    func testRetryDecisionRetriesOnlyTransientFailuresWithBackoff() {
        XCTAssertEqual(RetryDecision.after(.transient, attempt: 1, retries: 3, baseDelay: 5), .retry(afterSeconds: 5))
        XCTAssertEqual(RetryDecision.after(.transient, attempt: 2, retries: 3, baseDelay: 5), .retry(afterSeconds: 10))
        XCTAssertEqual(RetryDecision.after(.transient, attempt: 3, retries: 3, baseDelay: 5), .retry(afterSeconds: 20))
        guard case .giveUp = RetryDecision.after(.transient, attempt: 4, retries: 3) else { return XCTFail() }
        guard case .giveUp = RetryDecision.after(.permanent, attempt: 1, retries: 3) else { return XCTFail() }
        XCTAssertEqual(RetryDecision.after(.transient, attempt: 9, retries: 10, baseDelay: 5), .retry(afterSeconds: 300))
        // Jitter spreads a back-off over 50–150 %.
        XCTAssertEqual(RetryDecision.after(.transient, attempt: 2, retries: 3, baseDelay: 5, jitter: 0), .retry(afterSeconds: 5))
        XCTAssertEqual(RetryDecision.after(.transient, attempt: 2, retries: 3, baseDelay: 5, jitter: 0.999), .retry(afterSeconds: 15))
    }

    func testPriorityParsing() {
        XCTAssertEqual(Priority(text: "P1"), .p1)
        XCTAssertEqual(Priority(text: "high"), .p2)
        XCTAssertEqual(Priority(text: "4"), .p4)
        XCTAssertNil(Priority(text: "P5"))
        XCTAssertLessThan(Priority.p1, Priority.p4)
    }

    /// The sets SQL predicates bind: every state is in exactly one of queued, running, final; the
    /// legal predecessors come from the state machine itself.
    func testStateSetsPartitionTheStatesAndFollowTheMachine() {
        XCTAssertEqual(JobState.queued, [.pending, .paused, .retrying])
        XCTAssertEqual(Set(JobState.open), Set(JobState.queued + [.running]))
        XCTAssertEqual(Set(JobState.final + JobState.open), Set(JobState.allCases))
        XCTAssertTrue(Set(JobState.final).isDisjoint(with: JobState.open))
        XCTAssertEqual(JobState.successes, [.succeeded, .succeededWithRejects])
        XCTAssertEqual(JobState.failures, [.failed, .timedOut])
        XCTAssertEqual(JobState.movable(to: .skipped), [.pending, .paused, .retrying])
        XCTAssertEqual(JobState.movable(to: .running), JobState.queued)
        XCTAssertEqual(JobState.movable(to: .pending), [.running])
        XCTAssertEqual(JobState.movable(to: .succeeded), [.running])
    }
}
