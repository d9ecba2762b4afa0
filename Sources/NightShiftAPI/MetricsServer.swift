import Foundation
import Hummingbird
import Logging
import NightShiftConfig
import Prometheus

/// Serves the Prometheus registry on `metrics.listen` (a loopback address) at `/metrics`, in the
/// text exposition format, while `nightshift run` runs. Anything else is 404. The same
/// `HTTPService` (and limits) as the trigger.
public final class MetricsServer: @unchecked Sendable {
    private let service: HTTPService

    public init(host: String, port: UInt16, registry: PrometheusCollectorRegistry, logger: Logger) {
        service = HTTPService(name: "metrics", host: host, port: port, tls: nil, logger: logger) { request, _ in
            guard request.method == .get, request.uri.path == "/metrics" else {
                return Response(status: .notFound, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "use GET /metrics\n")))
            }
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
    }

    public func start() async throws { try await service.start() }

    public func stop() async { await service.stop() }
}
