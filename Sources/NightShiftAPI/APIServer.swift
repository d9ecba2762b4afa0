import Foundation
import Hummingbird
import Logging
import Metrics
import NightShiftConfig
import NightShiftCore
import PostgresClient

/// Serves the HTTP trigger (`TriggerAPI`) on `api.listen` while `nightshift run` runs, through
/// `HTTPService` (HTTPS when `api.tls` is set; head, body and time limits for every client).
/// Before the trigger sees a call, each client address has its rate limit, and a body larger than
/// the trigger takes (Content-Length or chunked) is refused while it is read.
public final class APIServer: @unchecked Sendable {
    private let service: HTTPService
    private let api: TriggerAPI

    public init(settings: APISettings, configuration: Configuration, connect: @escaping @Sendable () throws -> PostgresConnection,
                logger: Logger, limits: HTTPLimits = HTTPLimits()) {
        let api = TriggerAPI(configuration: configuration, keyFile: settings.keyFile, logger: logger, connect: connect,
                             perKeyPerMinute: settings.perKeyPerMinute)
        self.api = api
        let addresses = Limiter(RateLimiter(perMinute: settings.perAddressPerMinute))
        let maxBody = min(limits.bodyBytes, TriggerAPI.maxBodyBytes)
        service = HTTPService(name: "HTTP trigger", host: settings.host, port: settings.port, tls: settings.tls, limits: limits,
                              logger: logger) { request, context in
            if let wait = addresses.take(context.clientAddress) {
                Counter(label: "nightshift_api_rate_limited_total", dimensions: [("by", "address")]).increment()
                return APIServer.response(TriggerAPI.Response.tooMany(wait, "too many calls from \(context.clientAddress)"))
            }
            // A body larger than the API takes is refused before it is read, or as soon as it
            // passes the limit (chunked).
            if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBody {
                return APIServer.response(.error(413, "body too large: at most \(maxBody) bytes"), close: true)
            }
            var request = request
            let body: ByteBuffer
            do { body = try await request.collectBody(upTo: maxBody) } catch let error as HTTPError where error.status == .contentTooLarge {
                return APIServer.response(.error(413, "body too large: at most \(maxBody) bytes"), close: true)
            }
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let call = TriggerAPI.Call(method: request.method.rawValue, path: request.uri.string, headers: headers,
                                       body: Data(buffer: body), remoteAddress: context.clientAddress)
            return APIServer.response(await api.handle(call))
        }
    }

    public var url: String { service.url }

    /// Starts listening; returns once the socket accepts connections.
    public func start() async throws { try await service.start() }

    public func stop() async {
        await service.stop()
        api.close()
    }

    static func response(_ response: TriggerAPI.Response, close: Bool = false) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let wait = response.retryAfter { headers[.retryAfter] = String(wait) }
        if close { headers[.connection] = "close" }
        return Response(status: .init(code: response.status), headers: headers,
                        body: .init(byteBuffer: ByteBuffer(string: response.json + "\n")))
    }
}

/// A `RateLimiter` shared by the server's connections.
final class Limiter: @unchecked Sendable {
    private let lock = NSLock()
    private var limiter: RateLimiter
    private let start = DispatchTime.now().uptimeNanoseconds

    init(_ limiter: RateLimiter) { self.limiter = limiter }

    var perMinute: Int { limiter.perMinute }

    /// nil: allowed; else seconds to wait.
    func take(_ caller: String) -> Int? {
        let now = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return lock.withLock { limiter.take(caller, now: now) }
    }
}
