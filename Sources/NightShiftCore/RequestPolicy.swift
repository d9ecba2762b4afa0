import Foundation

/// What a person may ask of NightShift, by role (etc/operators.yaml): operator < manager < director.
public enum Role: String, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    /// May list requests.
    case `operator`
    /// May submit requests, approve or reject another person's request, and cancel their own.
    case manager
    /// As a manager, and may cancel anyone's request.
    case director

    private var rank: Int { Role.allCases.firstIndex(of: self)! }

    public var description: String { rawValue }

    public static func < (a: Role, b: Role) -> Bool { a.rank < b.rank }
}

/// The request rules as pure decisions: who may do what, whether a request needs approval, and
/// when a request waiting for approval expires. The CLI asks before it writes; the runner asks
/// again, with its own configuration, before it queues a request.
public struct RequestPolicy: Sendable, Equatable {
    /// Role by operating-system account.
    public let accounts: [String: Role]
    /// Requests per person per calendar day (in the configured zone).
    public let quotaPerDay: Int
    /// Production: a request not approved within this time expires.
    public let approvalHours: Int
    /// Production: a request runs only after a second manager approves it.
    public let needsApproval: Bool

    public init(accounts: [String: Role], quotaPerDay: Int = 3, approvalHours: Int = 24, needsApproval: Bool = false) {
        self.accounts = accounts
        self.quotaPerDay = quotaPerDay
        self.approvalHours = approvalHours
        self.needsApproval = needsApproval
    }

    public enum Action: String, Sendable {
        case list, submit, approve, reject, cancel
        /// An operator's override (skip a job, ignore a dependency): managers and above.
        case override
    }

    /// nil when `account` may do `action` at all (the request-specific rules — nobody approves
    /// their own, only the requester or a director cancels — are checked with the request);
    /// else why not, in one line.
    public func refusal(_ account: String, _ action: Action) -> String? {
        guard let role = accounts[account] else {
            return "\(account) is not in etc/operators.yaml; ask an administrator to add the account with its role"
        }
        let needed: Role = action == .list ? .operator : .manager
        guard role >= needed else {
            return "\(account) is \(role == .operator ? "an" : "a") \(role); to \(action == .override ? "record an override" : "\(action.rawValue) a request") needs a \(needed) or above (etc/operators.yaml)"
        }
        return nil
    }

    public func isDirector(_ account: String) -> Bool { accounts[account] == .director }

    /// When a request made at `requested` and still awaiting approval expires.
    public func approvalDeadline(requested: Date) -> Date { requested.addingTimeInterval(TimeInterval(approvalHours * 3600)) }
}
