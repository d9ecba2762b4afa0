import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import NightShiftConfig

/// What any client may cost the runner's HTTP servers (the trigger, the metrics). The head limit
/// covers the request line and every header; the HTTP decoder (SwiftNIO's llhttp) parses in linear
/// time and stops at it.
public struct HTTPLimits: Sendable, Equatable {
    public var headBytes = 8 * 1024
    public var bodyBytes = 16 * 1024
    /// Time for the request head (and a TLS handshake) from the connection's start or the previous
    /// response; a kept-alive connection idle this long is closed too.
    public var headSeconds: Int64 = 10
    /// Time for the body after the head.
    public var bodySeconds: Int64 = 10
    /// Open connections at most; more wait in the listen backlog.
    public var connections = 1000

    public init() {}
}

/// The request's context: the client's address, from the socket.
public struct ClientContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's IP address, or "unknown".
    public let clientAddress: String

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}

/// Errors starting a server, with what to fix.
public struct HTTPServiceError: Error, CustomStringConvertible {
    public let description: String
}

/// One HTTP server of the runner (Hummingbird on SwiftNIO, with TLS from swift-nio-ssl when
/// configured), with `HTTPLimits` enforced before any handler runs. `start` returns once it
/// listens (or throws why it cannot); `stop` closes it and every connection at once.
public final class HTTPService: @unchecked Sendable {
    public typealias Handler = @Sendable (Request, ClientContext) async throws -> Response

    private let name: String
    private let host: String
    private let port: UInt16
    private let tls: TLSFiles?
    private let limits: HTTPLimits
    private let logger: Logger
    private let handler: Handler
    private var task: Task<Void, Error>?

    public init(name: String, host: String, port: UInt16, tls: TLSFiles?, limits: HTTPLimits = HTTPLimits(), logger: Logger,
                handler: @escaping Handler) {
        self.name = name
        self.host = host
        self.port = port
        self.tls = tls
        self.limits = limits
        self.logger = logger
        self.handler = handler
    }

    /// The TLS configuration from the PEM files, or why they cannot be used (also for `check`).
    public static func tlsConfiguration(_ files: TLSFiles) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(files.certificate) } catch {
            throw HTTPServiceError(description: "the certificate \(files.certificate) cannot be read as PEM (\(error)); give the PEM certificate chain, server certificate first")
        }
        guard !chain.isEmpty else {
            throw HTTPServiceError(description: "\(files.certificate) holds no certificate; give the PEM certificate chain")
        }
        let key: NIOSSLPrivateKey
        do { key = try NIOSSLPrivateKey(file: files.key, format: .pem) } catch {
            throw HTTPServiceError(description: "the private key \(files.key) cannot be read as PEM (\(error)); give the unencrypted PEM key of the certificate")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) },
                                                                     privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        // A connection the server closes waits at most a second for the client's close_notify
        // (NIOSSL reads and discards meanwhile; 5 s by default).
        configuration.shutdownTimeout = .seconds(1)
        do { _ = try NIOSSLContext(configuration: configuration) } catch {
            throw HTTPServiceError(description: "the certificate \(files.certificate) and key \(files.key) cannot be used together (\(error)); give the key of that certificate")
        }
        return configuration
    }

    public var url: String { "\(tls == nil ? "http" : "https")://\(host):\(port)" }

    public func start() async throws {
        let limits = self.limits
        let name = self.name
        let http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [RequestDeadlines(head: .seconds(limits.headSeconds), body: .seconds(limits.bodySeconds), server: name)],
            idleTimeout: .seconds(limits.headSeconds),
            httpDecoderConfiguration: .init(maxHeaderFieldSize: limits.headBytes, maxHeaderListSize: limits.headBytes, maxHeaderFieldCount: 100))
        let server: HTTPServerBuilder = if let tls {
            try .tls(.http1(configuration: http1), tlsConfiguration: Self.tlsConfiguration(tls))
        } else {
            .http1(configuration: http1)
        }
        let listening = Listening()
        let app = Application(
            responder: CallbackResponder<ClientContext>(callback: handler),
            server: server,
            configuration: .init(address: .hostname(host, port: Int(port)), serverName: nil,
                                 availableConnectionsDelegate: MaximumAvailableConnections(limits.connections, logger: logger)),
            onServerRunning: { _ in listening.resume(nil) },
            logger: logger)
        task = Task {
            do { try await app.run() } catch {
                listening.resume(error)
                throw error
            }
            listening.resume(HTTPServiceError(description: "the server stopped before it listened"))
        }
        try await listening.wait()
        logger.notice("\(name) listening", metadata: ["address": "\(url)"])
    }

    /// Closes the listening socket and every connection; returns when they are closed.
    public func stop() async {
        task?.cancel()
        _ = await task?.result
        task = nil
    }
}

/// The first of "listening" or "failed", awaited once.
private final class Listening: @unchecked Sendable {
    private let lock = NSLock()
    private var outcome: Result<Void, Error>?
    private var waiter: CheckedContinuation<Void, Error>?

    func resume(_ error: Error?) {
        lock.lock()
        guard outcome == nil else { lock.unlock(); return }
        let result: Result<Void, Error> = error.map { .failure($0) } ?? .success(())
        outcome = result
        let waiter = self.waiter
        self.waiter = nil
        lock.unlock()
        waiter?.resume(with: result)
    }

    func wait() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            lock.lock()
            if let outcome {
                lock.unlock()
                continuation.resume(with: outcome)
            } else {
                waiter = continuation
                lock.unlock()
            }
        }
    }
}
