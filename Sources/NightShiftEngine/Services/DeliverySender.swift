import CurlClients
import Foundation
import Logging
import NightShiftConfig
import NightShiftCore
import PostgresClient

/// The delivery sender: uploads the delivery queue (`nightshift.deliveries`) over SFTP, on a
/// thread of its own, so a server that is down, slow or refusing never fails or holds up a batch.
///
/// One pass claims due deliveries one at a time (a lease, so several runners never upload the same
/// file at once; a file goes only after the earlier files of its job run and target), uploads each
/// (`SFTPClient`: temporary name, rename, size check) and records the receipt, or: queued again
/// after a back-off with jitter; a dead letter at once for a permanent refusal (host key, login,
/// access, configuration, the file gone) and after the target's `max_attempts` otherwise. A server
/// that fails for a reason that is not the file's is skipped for the rest of the pass.
///
/// Delivery is at least once, and the receiver ends with one complete copy: a sender killed
/// mid-upload leaves the delivery `sending`; when its lease expires it is claimed again and the
/// upload redone over the same temporary name.
final class DeliverySender: @unchecked Sendable {
    private let context: RunnerContext
    private let keeper: ConnectionKeeper
    /// Checked between files: a stopping runner ends the pass after the current one.
    var shouldStop: () -> Bool = { false }
    /// A number in 0..<1 for each back-off (random; fixed in tests).
    var jitter: () -> Double = { Double.random(in: 0..<1) }

    init(context: RunnerContext) {
        self.context = context
        keeper = ConnectionKeeper(connect: context.connect)
    }

    /// Uploads what is due, at most `limit` files; returns how many were delivered.
    @discardableResult
    func runOnce(limit: Int = .max) throws -> Int {
        let targets = context.configuration.settings.deliveries
        guard !targets.isEmpty else { return 0 }
        let runner = context.identity.id
        // The lease outlasts an upload (its timeout) and closing a failed connection (as long again).
        let leaseSeconds = 2 * (targets.values.map(\.timeoutSeconds).max() ?? 300) + 30
        var clients: [String: SFTPClient] = [:]
        defer { for client in clients.values { client.close() } }
        var skipped: [String] = []
        var delivered = 0, tried = 0
        while tried < limit && !shouldStop() {
            guard let delivery = try keeper.use({
                try DeliveryStore(db: $0).claimNext(now: context.clock.now(), runner: runner, leaseSeconds: leaseSeconds, skipping: skipped)
            }) else { break }
            tried += 1
            do {
                guard let target = targets[delivery.target] else {
                    throw SFTPError(.configuration, curlCode: 0, message: "there is no delivery target \(delivery.target) in etc/nightshift.yaml (deliveries:) any more",
                                    url: delivery.target)
                }
                if clients[target.name] == nil { clients[target.name] = try client(for: target) }
                let receipt = try clients[target.name]!.upload(file: delivery.path, as: delivery.remoteName)
                _ = try keeper.use {
                    try DeliveryStore(db: $0).delivered(delivery, remotePath: receipt.remotePath, remoteBytes: receipt.size,
                                                         now: context.clock.now(), runner: runner)
                }
                delivered += 1
                context.logger.info("file delivered", metadata: ["delivery": "\(delivery.id)", "target": "\(target.name)",
                                                                 "remote": "\(receipt.remotePath)", "bytes": "\(receipt.size)"])
            } catch let error as PostgresError {
                throw error
            } catch {
                let failure = error as? SFTPError
                let permanent = failure?.isPermanent ?? false
                let target = targets[delivery.target]
                let decision = RetryDecision.after(permanent ? .permanent : .transient, attempt: delivery.attempt,
                                                   retries: (target?.maxAttempts ?? 1) - 1, baseDelay: target?.retrySeconds ?? 60,
                                                   maxDelay: target?.maxRetrySeconds ?? 3600, jitter: jitter())
                let now = context.clock.now()
                var retryAt: Date?
                if case let .retry(seconds) = decision { retryAt = now.addingTimeInterval(Double(seconds)) }
                _ = try keeper.use {
                    try DeliveryStore(db: $0).failed(delivery, retryAt: retryAt, curlCode: failure.flatMap { $0.curlCode == 0 ? nil : $0.curlCode },
                                                     error: "\(error)", now: now, runner: runner)
                }
                var metadata: Logger.Metadata = ["delivery": "\(delivery.id)", "target": "\(delivery.target)", "file": "\(delivery.remoteName)",
                                                 "attempt": "\(delivery.attempt)", "error": "\(error)"]
                switch decision {
                case let .retry(seconds):
                    metadata["retry_in_seconds"] = "\(seconds)"
                    context.logger.warning("file not delivered; retrying later", metadata: metadata)
                case let .giveUp(reason):
                    metadata["why"] = "\(permanent ? "refused for good" : reason)"
                    context.logger.error("file not delivered: dead letter", metadata: metadata)
                }
                // The server itself failed (not this file): its other files wait for the next pass.
                if failure?.kind == .transfer || failure?.kind == .incomplete {
                    skipped.append(delivery.target)
                    clients[delivery.target]?.close()
                    clients[delivery.target] = nil
                }
            }
        }
        return delivered
    }

    /// A client for `target`, once its private key is a file only its owner can read.
    private func client(for target: DeliveryTarget) throws -> SFTPClient {
        let key = target.privateKey
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: key),
              attributes[.type] as? FileAttributeType == .typeRegular else {
            throw SFTPError(.configuration, curlCode: 0, message: "the private key \(key) (deliveries.\(target.name).private_key) is not a readable file",
                            url: target.url)
        }
        let mode = (attributes[.posixPermissions] as? Int) ?? 0
        guard mode & 0o077 == 0 else {
            throw SFTPError(.configuration, curlCode: 0,
                            message: "the private key \(key) (deliveries.\(target.name).private_key) is open to others (mode \(String(mode, radix: 8))): chmod 600 \(key)",
                            url: target.url)
        }
        return try SFTPClient(server: SFTPServer(url: target.url, hostKeySHA256: target.hostKeySHA256, privateKeyFile: key,
                                                 connectTimeout: Double(min(10, target.timeoutSeconds)), timeout: Double(target.timeoutSeconds)))
    }

    func close() { keeper.close() }
}
