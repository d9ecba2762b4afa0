import Foundation
import Hummingbird
import Logging
import NightShiftAPI
import NightShiftConfig
import NightShiftEngine
import PostgresClient

/// Serves the console (`ConsoleApp`) on `console.listen` while `nightshift run` runs, through the
/// runner's `HTTPService` (HTTPS with `console.tls`; the same head, body and time limits as the
/// trigger). Every response forbids caching and framing, and allows scripts and styles from the
/// console itself only.
public final class ConsoleServer: @unchecked Sendable {
    private let service: HTTPService
    private let database: DatabaseThread
    public let app: ConsoleApp

    public init(settings: ConsoleSettings, configuration: Configuration, templates: ConsoleTemplates,
                connect: @escaping @Sendable () throws -> PostgresConnection, clock: @escaping @Sendable () -> Date,
                logger: Logger, limits: HTTPLimits = HTTPLimits()) {
        let database = DatabaseThread(connect: connect, name: "nightshift-console-db")
        self.database = database
        let app = ConsoleApp(settings: settings, configuration: configuration, templates: templates, database: database, clock: clock)
        self.app = app
        let maxBody = limits.bodyBytes
        service = HTTPService(name: "console", host: settings.host, port: settings.port, tls: settings.tls, limits: limits,
                              logger: logger) { request, context in
            var request = request
            var form: [String: String] = [:]
            if request.method == .post {
                let body: ByteBuffer
                do { body = try await request.collectBody(upTo: maxBody) } catch {
                    return ConsoleServer.response(ConsoleResponse(status: 413, contentType: "text/plain; charset=utf-8",
                                                                  body: "form too large: at most \(maxBody) bytes\n"))
                }
                form = ConsoleRequest.fields(String(buffer: body))
            }
            let target = request.uri.string
            let parts = target.split(separator: "?", maxSplits: 1).map(String.init)
            let path = (parts.first ?? "/").removingPercentEncoding ?? "/"
            let call = ConsoleRequest(method: request.method.rawValue, path: path.isEmpty ? "/" : path,
                                      query: parts.count > 1 ? ConsoleRequest.fields(parts[1]) : [:],
                                      cookies: ConsoleRequest.cookies(request.headers[.cookie]), form: form,
                                      clientAddress: context.clientAddress)
            return ConsoleServer.response(await app.handle(call))
        }
    }

    public var url: String { service.url }

    public func start() async throws { try await service.start() }

    public func stop() async {
        await service.stop()
        database.close()
    }

    static func response(_ response: ConsoleResponse) -> Response {
        var headers: HTTPFields = [
            .contentType: response.contentType,
            .cacheControl: "no-store",
            .init("X-Content-Type-Options")!: "nosniff",
            .init("X-Frame-Options")!: "DENY",
            .init("Referrer-Policy")!: "same-origin",
            .init("Content-Security-Policy")!: "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ]
        for (name, value) in response.headers {
            guard let field = HTTPFields.Element.Name(name) else { continue }
            if field == .setCookie { headers[values: .setCookie].append(value) } else { headers[field] = value }
        }
        return Response(status: .init(code: response.status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: response.body)))
    }
}
