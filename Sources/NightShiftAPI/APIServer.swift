import FlyingFox
import FlyingSocks
import Foundation
import Logging
import NightShiftConfig
import PostgresClient

/// Serves the HTTP trigger (`TriggerAPI`) on `api.listen` while `nightshift run` runs: FlyingFox, a
/// small HTTP server on non-blocking sockets. Its log lines go to NightShift's logger.
public final class APIServer: @unchecked Sendable {
    private let server: HTTPServer
    private let api: TriggerAPI
    private let logger: Logger
    private let settings: APISettings
    private var task: Task<Void, Error>?

    public init(settings: APISettings, configuration: Configuration, connect: @escaping @Sendable () throws -> PostgresConnection,
                logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        api = TriggerAPI(configuration: configuration, keyFile: settings.keyFile, logger: logger, connect: connect)
        let address = try sockaddr_in.inet(ip4: settings.host, port: settings.port)
        server = HTTPServer(address: address, timeout: 15, logger: ServerLog(logger: logger))
    }

    /// Starts listening; returns once the socket accepts connections.
    public func start() async throws {
        let api = self.api
        await server.appendRoute("/api/*") { request in
            // A body larger than the API takes is refused before it is read.
            if let length = request.headers[.contentLength].flatMap(Int.init), length > TriggerAPI.maxBodyBytes {
                return HTTPResponse(statusCode: .payloadTooLarge, headers: [.contentType: "application/json"],
                                    body: Data(#"{"error":"body too large"}"#.utf8))
            }
            var headers: [String: String] = [:]
            for (name, value) in request.headers { headers[name.rawValue] = value }
            let remote: String = switch request.remoteAddress {
            case let .ip4(ip, port: _)?, let .ip6(ip, port: _)?: ip
            case let .unix(path)?: path
            case nil: "unknown"
            }
            let call = TriggerAPI.Call(method: request.method.rawValue, path: request.path, headers: headers,
                                       body: try await request.bodyData, remoteAddress: remote)
            let response = await api.handle(call)
            return HTTPResponse(statusCode: HTTPStatusCode(response.status, phrase: APIServer.phrase(response.status)),
                                headers: [.contentType: "application/json"], body: Data((response.json + "\n").utf8))
        }
        let server = self.server
        task = Task { try await server.run() }
        try await server.waitUntilListening(timeout: 10)
        logger.notice("HTTP trigger listening", metadata: ["address": "\(settings.host):\(settings.port)"])
    }

    public func stop() async {
        await server.stop(timeout: 2)
        task?.cancel()
        api.close()
    }

    static func phrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 202: "Accepted"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 413: "Payload Too Large"
        case 429: "Too Many Requests"
        default: "Service Unavailable"
        }
    }
}

/// FlyingFox's log lines, through NightShift's logger (its per-request lines at debug).
struct ServerLog: FlyingSocks.Logging {
    let logger: Logger
    func logDebug(_ debug: @autoclosure () -> String) { logger.debug("\(debug())") }
    func logInfo(_ info: @autoclosure () -> String) { logger.debug("\(info())") }
    func logWarning(_ warning: @autoclosure () -> String) { logger.warning("\(warning())") }
    func logError(_ error: @autoclosure () -> String) { logger.error("\(error())") }
    func logCritical(_ critical: @autoclosure () -> String) { logger.critical("\(critical())") }
}
