/// The life of a request for work (a manager's `nightshift submit`, later an event file or an API
/// call). Every step is a row in `nightshift.audit`; the table's CHECK constraint holds the same
/// values.
///
/// ```
///  submit ──► awaiting_approval ──► accepted ──► queued ──► finished
///   │  (production)  │ ├─► rejected   │  (the service    (its batch run ended:
///   │                │ └─► expired    │   made it a       outcome succeeded/failed)
///   │                │                │   batch run)
///   └──► accepted    └───────────┬────┴──► refused   (the service's own check: role, quota,
///                                │                    approval, unknown job)
///                                └──► cancelled (by the requester or a director, before any
///                                                of its jobs started)
/// ```
///
/// A refusal at the door (unknown account, role too low, quota used up) never becomes a request:
/// it is an audit row only.
public enum RequestState: String, Sendable, CaseIterable, Codable {
    case awaitingApproval = "awaiting_approval"
    case accepted, queued, finished, rejected, cancelled, expired, refused

    /// Still to be acted on: not finished, rejected, cancelled, expired or refused.
    public var isOpen: Bool { self == .awaitingApproval || self == .accepted || self == .queued }

    /// The open states, for SQL predicates (`state = ANY(\(RequestState.open))`).
    public static let open = allCases.filter(\.isOpen)

    public func canMove(to next: RequestState) -> Bool {
        switch (self, next) {
        case (.awaitingApproval, .accepted), (.awaitingApproval, .rejected), (.awaitingApproval, .expired),
             (.awaitingApproval, .cancelled), (.awaitingApproval, .refused),
             (.accepted, .queued), (.accepted, .cancelled), (.accepted, .refused),
             (.queued, .finished), (.queued, .cancelled):
            return true
        default:
            return false
        }
    }
}
