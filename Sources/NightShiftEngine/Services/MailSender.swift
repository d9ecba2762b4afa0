import Foundation
import Logging
import NightShiftConfig
import NightShiftCore
import PostgresClient
import CurlClients

/// The mail sender: delivers the outbox over SMTP, on a thread of its own, so a mail server that
/// is down, slow or refusing never holds up a batch.
///
/// One pass claims the due messages one at a time (a lease, so several runners never send the
/// same message at once), sends each, and records the server's answer: sent; queued again after a
/// back-off with jitter; or a dead letter, at once for a permanent refusal (5xx) and after
/// `mail.max_attempts` failures otherwise. A failure that concerns the server rather than the
/// message (unreachable, TLS, authentication, timeout) ends the pass with that error, so the
/// service loop backs off instead of trying every other message against a server that is down.
///
/// Delivery is at least once: a sender killed after the server accepted a message but before it
/// recorded that leaves the message `sending`; when the lease expires it is sent again, with the
/// same Message-ID.
final class MailSender: @unchecked Sendable {
    private let context: RunnerContext
    private let keeper: ConnectionKeeper
    /// Checked between messages: a stopping runner ends the pass after the current one.
    var shouldStop: () -> Bool = { false }
    /// A number in 0..<1 for each back-off (random; fixed in tests).
    var jitter: () -> Double = { Double.random(in: 0..<1) }

    init(context: RunnerContext) {
        self.context = context
        keeper = ConnectionKeeper(connect: context.connect)
    }

    private var mail: MailSettings { context.configuration.settings.mail }

    /// Delivers what is due, at most `limit` messages; returns how many were sent.
    @discardableResult
    func runOnce(limit: Int = .max) throws -> Int {
        guard let smtp = mail.smtp else { return 0 }
        // The lease outlasts a delivery (its timeout) and closing a failed connection (as long again).
        let leaseSeconds = 2 * smtp.timeoutSeconds + 30
        var client: SMTPClient?
        defer { client?.close() }
        var sent = 0
        var tried = 0
        while tried < limit && !shouldStop() {
            let runner = context.identity.id
            guard let message = try keeper.use({ try OutboxStore(db: $0).claimNext(now: context.clock.now(), runner: runner, leaseSeconds: leaseSeconds) })
            else { break }
            tried += 1
            do {
                if client == nil { client = try makeClient(smtp) }
                let receipt = try client!.send(from: message.envelopeFrom, to: message.envelopeTo, message: message.message)
                // Some recipients refused, the others served: sent, with the refusals said (not retried:
                // a refused address is refused again).
                let refused = receipt.refused.isEmpty ? nil
                    : "not accepted for " + receipt.refused.map { "\($0.recipient) (\($0.reply))" }.joined(separator: "; ")
                let recorded = try keeper.use {
                    try OutboxStore(db: $0).delivered(message, replyCode: receipt.replyCode, reply: receipt.reply, refused: refused,
                                                      now: context.clock.now(), runner: runner)
                }
                sent += 1
                context.logger.info("mail sent", metadata: ["mail": "\(message.id)", "subject": "\(message.subject)", "reply": "\(receipt.reply)",
                                                            "recorded": "\(recorded)"])
                if let refused {
                    context.logger.warning("mail sent, but not to every recipient", metadata: ["mail": "\(message.id)", "refused": "\(refused)"])
                }
            } catch let error as PostgresError {
                throw error
            } catch {
                let failure = error as? SMTPError
                let decision = RetryDecision.after(failure?.isPermanent == true ? .permanent : .transient, attempt: message.attempt,
                                                   retries: mail.maxAttempts - 1, baseDelay: mail.retrySeconds,
                                                   maxDelay: mail.maxRetrySeconds, jitter: jitter())
                let now = context.clock.now()
                var retryAt: Date?
                if case let .retry(seconds) = decision { retryAt = now.addingTimeInterval(Double(seconds)) }
                try keeper.use {
                    try OutboxStore(db: $0).failed(message, retryAt: retryAt, replyCode: failure.map(\.replyCode).flatMap { $0 == 0 ? nil : $0 },
                                                   reply: failure.map(\.reply).flatMap { $0.isEmpty ? nil : $0 }, curlCode: failure?.curlCode,
                                                   error: "\(error)", now: now, runner: runner)
                }
                var metadata: Logger.Metadata = ["mail": "\(message.id)", "subject": "\(message.subject)", "attempt": "\(message.attempt)",
                                                 "error": "\(error)"]
                switch decision {
                case let .retry(seconds):
                    metadata["retry_in_seconds"] = "\(seconds)"
                    context.logger.warning("mail not delivered; retrying later", metadata: metadata)
                case let .giveUp(reason):
                    metadata["why"] = "\(failure?.isPermanent == true ? "the server refused it for good" : reason)"
                    context.logger.error("mail not delivered: dead letter (nightshift mail retry \(message.id) sends it again)", metadata: metadata)
                }
                // The server itself is unreachable or refusing everyone: stop here; the loop backs off.
                if failure?.isPermanent != true { throw MailServerUnavailable(error: error) }
            }
        }
        return sent
    }

    private func makeClient(_ smtp: SMTPSettings) throws -> SMTPClient {
        var username: String?, password: String?
        if let file = smtp.credentialsFile {
            switch SMTPCredentials.read(path: file) {
            case let .success(credentials): (username, password) = (credentials.username, credentials.password)
            case let .failure(problem): throw problem
            }
        }
        return try SMTPClient(server: SMTPServer(url: smtp.url, requireTLS: smtp.requireTLS, caFile: smtp.caFile, username: username,
                                                 password: password, connectTimeout: Double(min(10, smtp.timeoutSeconds)),
                                                 timeout: Double(smtp.timeoutSeconds)))
    }

    func close() { keeper.close() }
}

/// A pass of the mail sender ended early because the server could not take mail.
struct MailServerUnavailable: Error, CustomStringConvertible {
    let error: Error
    var description: String { "the mail server is not taking mail (the outbox keeps it): \(error)" }
}
