/// The states of a message in the mail outbox (`nightshift.mail_outbox.state`), and who moves a
/// message into each. Every change is a row in `nightshift.mail_transitions`.
public enum MailState: String, Sendable, CaseIterable, Codable {
    /// Waiting for its next attempt. Set by whoever wrote the message (in the same transaction as
    /// what it reports), by a mail sender after a failed attempt that may be retried, and by
    /// `nightshift mail retry` for a dead letter.
    case queued
    /// A mail sender claimed it (with a lease) and is talking to the server. The rescuing sender
    /// claims it again when the lease expires (its sender died mid-delivery).
    case sending
    /// The server accepted it. Set by the mail sender that delivered it.
    case sent
    /// A dead letter: the server refused it for good (a 5xx reply), or it failed `max_attempts`
    /// times. Set by the mail sender; kept with the server's last reply.
    case dead

    /// The states a message may move to from this one.
    public var next: Set<MailState> {
        switch self {
        case .queued: [.sending]
        case .sending: [.sent, .queued, .dead, .sending]
        case .sent: []
        case .dead: [.queued]
        }
    }

    /// Not delivered and not given up: queued or sending.
    public static let waiting: [MailState] = [.queued, .sending]
    /// Ended: sent or dead (a dead letter may be queued again by a person).
    public static let ended: [MailState] = [.sent, .dead]
}
