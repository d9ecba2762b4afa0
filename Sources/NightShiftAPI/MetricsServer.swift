import FlyingFox
import FlyingSocks
import Foundation
import Logging
import NightShiftConfig
import Prometheus

/// Serves the Prometheus registry on `metrics.listen` (a loopback address) at `/metrics`, in the
/// text exposition format, while `nightshift run` runs. Anything else is 404.
public final class MetricsServer: @unchecked Sendable {
    private let server: HTTPServer
    private let registry: PrometheusCollectorRegistry
    private let logger: Logger
    private let address: String
    private var task: Task<Void, Error>?

    public init(host: String, port: UInt16, registry: PrometheusCollectorRegistry, logger: Logger) throws {
        self.registry = registry
        self.logger = logger
        address = "\(host):\(port)"
        server = HTTPServer(address: try sockaddr_in.inet(ip4: host, port: port), timeout: 15, logger: ServerLog(logger: logger))
    }

    public func start() async throws {
        let registry = self.registry
        await server.appendRoute("GET /metrics") { _ in
            HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                         body: Data(registry.emitToBuffer()))
        }
        let server = self.server
        task = Task { try await server.run() }
        try await server.waitUntilListening(timeout: 10)
        logger.notice("metrics served", metadata: ["address": "http://\(address)/metrics"])
    }

    public func stop() async {
        await server.stop(timeout: 2)
        task?.cancel()
    }
}
