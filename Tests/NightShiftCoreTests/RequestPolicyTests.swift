import Foundation
import NightShiftCore
import XCTest

final class RequestPolicyTests: XCTestCase {
    let policy = RequestPolicy(accounts: ["ops": .operator, "alice": .manager, "carol": .director], quotaPerDay: 3, approvalHours: 24,
                               needsApproval: true)

    func testRolesAreOrderedAndEachActionNeedsItsRole() {
        XCTAssertTrue(Role.operator < .manager && Role.manager < .director)
        let table: [(String, RequestPolicy.Action, Bool)] = [
            ("ops", .list, true), ("ops", .submit, false), ("ops", .approve, false), ("ops", .cancel, false), ("ops", .override, false),
            ("alice", .list, true), ("alice", .submit, true), ("alice", .approve, true), ("alice", .reject, true), ("alice", .override, true),
            ("carol", .submit, true), ("carol", .cancel, true),
            ("mallory", .list, false), ("mallory", .submit, false),
        ]
        for (account, action, allowed) in table {
            XCTAssertEqual(policy.refusal(account, action) == nil, allowed, "\(account) \(action)")
        }
        XCTAssertEqual(policy.refusal("ops", .submit), "ops is an operator; to submit a request needs a manager or above (etc/operators.yaml)")
        XCTAssertEqual(policy.refusal("ops", .override),
                       "ops is an operator; to record an override needs a manager or above (etc/operators.yaml)")
        XCTAssertEqual(policy.refusal("mallory", .list),
                       "mallory is not in etc/operators.yaml; ask an administrator to add the account with its role")
        XCTAssertTrue(policy.isDirector("carol"))
        XCTAssertFalse(policy.isDirector("alice"))
    }

    func testARequestAwaitingApprovalExpiresAfterTheConfiguredHours() {
        let requested = Date(timeIntervalSince1970: 1_800_000_000)
        XCTAssertEqual(policy.approvalDeadline(requested: requested), requested.addingTimeInterval(24 * 3600))
    }

    func testRequestStatesMoveOnlyForward() {
        XCTAssertTrue(RequestState.awaitingApproval.canMove(to: .accepted))
        XCTAssertTrue(RequestState.accepted.canMove(to: .queued))
        XCTAssertTrue(RequestState.queued.canMove(to: .finished))
        XCTAssertTrue(RequestState.queued.canMove(to: .cancelled))
        XCTAssertFalse(RequestState.finished.canMove(to: .cancelled))
        XCTAssertFalse(RequestState.accepted.canMove(to: .awaitingApproval))
        XCTAssertFalse(RequestState.queued.canMove(to: .refused))
        for state in RequestState.allCases where !state.isOpen {
            XCTAssertTrue(RequestState.allCases.allSatisfy { !state.canMove(to: $0) }, "\(state) is final")
        }
    }
}
