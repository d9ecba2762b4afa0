/// The states of one delivery of one output to one target (`nightshift.deliveries.state`), and who
/// moves a delivery into each. Every change is a row in `nightshift.delivery_transitions`.
public enum DeliveryState: String, Sendable, CaseIterable, Codable {
    /// Waiting for its next attempt. Set in the transaction that publishes the output (one row per
    /// target the job names), by a delivery sender after an attempt that may be retried, and by
    /// `nightshift deliveries retry` (a dead letter, or a delivered file sent again).
    case queued
    /// A delivery sender claimed it (with a lease) and is uploading. When the lease expires (the
    /// sender died mid-upload) another sender claims it again and redoes the upload.
    case sending
    /// The server holds the file under its final name with the right size. Set by the sender, with
    /// the receipt (remote path, size, time).
    case delivered
    /// A dead letter: refused for good (host key, login, access, configuration), or failed
    /// `max_attempts` times. Set by the sender; an alert is raised.
    case dead

    /// The states a delivery may move to from this one.
    public var next: Set<DeliveryState> {
        switch self {
        case .queued: [.sending]
        case .sending: [.delivered, .queued, .dead, .sending]
        case .delivered: [.queued]
        case .dead: [.queued]
        }
    }

    /// Not delivered and not given up: queued or sending.
    public static let waiting: [DeliveryState] = [.queued, .sending]
}
