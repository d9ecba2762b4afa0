import Foundation
import Logging
import NightShiftAPI
import NightShiftConfig
import NightShiftCore
import NightShiftEngine
import PostgresClient

/// One HTTP request as the console sees it (the server parses the rest away).
public struct ConsoleRequest: Sendable {
    public let method: String
    /// The path without its query.
    public let path: String
    public let query: [String: String]
    public let cookies: [String: String]
    /// The fields of an `application/x-www-form-urlencoded` body.
    public let form: [String: String]
    public let clientAddress: String

    public init(method: String, path: String, query: [String: String] = [:], cookies: [String: String] = [:], form: [String: String] = [:],
                clientAddress: String = "127.0.0.1") {
        self.method = method
        self.path = path
        self.query = query
        self.cookies = cookies
        self.form = form
        self.clientAddress = clientAddress
    }

    /// `a=1&b=x%20y` (also `+` for space); a key given twice keeps its first value.
    public static func fields(_ encoded: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in encoded.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            guard let key = parts.first, !key.isEmpty, fields[key] == nil else { continue }
            fields[key] = parts.count > 1 ? parts[1] : ""
        }
        return fields
    }

    /// `Cookie: a=1; b=2`.
    public static func cookies(_ header: String?) -> [String: String] {
        var cookies: [String: String] = [:]
        for part in (header ?? "").split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, cookies[pair[0]] == nil { cookies[pair[0]] = pair[1] }
        }
        return cookies
    }
}

public struct ConsoleResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: String
    public var headers: [(String, String)]

    public init(status: Int, contentType: String = "text/html; charset=utf-8", body: String, headers: [(String, String)] = []) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
    }
}

/// The console's pages and actions, apart from the HTTP server (`ConsoleServer`).
///
/// Reading needs no login on loopback; off loopback every page needs a session. A session comes
/// from a one-time link `nightshift console login` prints (the person's own database login says
/// who they are); it is a cookie holding a secret whose SHA-256 the database keeps, with an
/// expiry. An action (a POST under /actions/) needs a session and the session's CSRF token, and
/// runs as the person through the same database gate and audit as their commands
/// (`ConsoleSessionStore.acting`); without a session it answers 401 and changes nothing.
public final class ConsoleApp: @unchecked Sendable {
    let settings: ConsoleSettings
    let configuration: Configuration
    let templates: ConsoleTemplates
    let database: DatabaseThread
    /// The runner's clock (simulated with --at/--speed).
    let clock: @Sendable () -> Date
    static let cookie = "nightshift_console"

    public init(settings: ConsoleSettings, configuration: Configuration, templates: ConsoleTemplates, database: DatabaseThread,
                clock: @escaping @Sendable () -> Date) {
        self.settings = settings
        self.configuration = configuration
        self.templates = templates
        self.database = database
        self.clock = clock
    }

    public func handle(_ request: ConsoleRequest) async -> ConsoleResponse {
        switch (request.method, request.path) {
        case ("GET", "/console.css"):
            return ConsoleResponse(status: 200, contentType: "text/css; charset=utf-8", body: templates.stylesheet)
        case ("GET", "/console.js"):
            return ConsoleResponse(status: 200, contentType: "text/javascript; charset=utf-8", body: templates.script)
        case ("GET", "/favicon.ico"):
            return ConsoleResponse(status: 404, contentType: "text/plain", body: "")
        default:
            break
        }
        guard ["GET", "POST"].contains(request.method) else {
            return ConsoleResponse(status: 405, contentType: "text/plain; charset=utf-8", body: "use GET or POST\n", headers: [("Allow", "GET, POST")])
        }
        let now = clock()
        let secret = request.cookies[Self.cookie].flatMap(ConsoleSecret.init(presented:))
        let outcome = await database.run { [self] db in try respond(request, secret: secret, db: db, now: now) }
        switch outcome {
        case let .success(response): return response
        case let .failure(error as PostgresError) where error.isTransient:
            return message(status: 503, title: "The database cannot be reached",
                           text: "The console reads everything from the database, which did not answer: \(error). The page tries again in a few seconds.",
                           now: now, session: nil)
        case let .failure(error):
            return message(status: 500, title: "This page could not be made",
                           text: "Reading the database for it failed: \(error). Nothing was changed. If the runner schema is behind, run `nightshift migrate`.",
                           now: now, session: nil)
        }
    }

    private func respond(_ request: ConsoleRequest, secret: ConsoleSecret?, db: PostgresConnection, now: Date) throws -> ConsoleResponse {
        let sessions = ConsoleSessionStore(db: db)
        let session = try secret.flatMap { try sessions.session($0) }
        let page = PageContext(db: db, configuration: configuration, settings: settings, now: now, session: session,
                               secret: session == nil ? nil : secret, request: request)
        let parts = request.path.split(separator: "/").map(String.init)
        if request.method == "POST" {
            switch request.path {
            case "/login": return try ConsoleLogin.signIn(page, sessions: sessions, render: render)
            case "/logout":
                guard let secret = page.secret else { return unauthorized(page) }
                guard page.csrfMatches else { return forbidden(page) }
                try sessions.close(secret, from: request.clientAddress)
                return ConsoleResponse(status: 303, body: "", headers: [("Location", "/"), ("Set-Cookie", Self.clearCookie(secure: settings.tls != nil))])
            default:
                guard parts.count == 2, parts[0] == "actions" else { return notFound(page) }
                guard page.session != nil else { return unauthorized(page) }
                guard page.csrfMatches else { return forbidden(page) }
                let (status, title, text, back) = try ConsoleActions.perform(parts[1], page)
                return ConsoleResponse(status: status, body: render("message", page.base(title, current: "") .merging([
                    "message": text, "back": back, "failed": status >= 400,
                ]) { $1 }))
            }
        }
        if parts.count == 2, parts[0] == "login" { return try ConsoleLogin.page(parts[1], page, sessions: sessions, render: render) }
        // Off loopback nothing is shown without a session.
        if !settings.isLoopback && session == nil { return unauthorized(page) }
        let (template, context): (String, [String: Any])
        switch parts.first ?? "" {
        case "" where parts.isEmpty: (template, context) = ("tonight", try TonightPage.context(page))
        case "batch-runs" where parts.count == 2:
            guard let id = Int(parts[1]), let found = try BatchRunPage.context(page, id: id) else { return notFound(page) }
            (template, context) = ("batch_run", found)
        case "job-runs" where parts.count == 2:
            guard let id = Int(parts[1]), let found = try JobRunPage.context(page, id: id) else { return notFound(page) }
            (template, context) = ("job_run", found)
        case "job-runs" where parts.count == 3 && parts[2] == "log":
            guard let id = Int(parts[1]), let text = try JobRunPage.logText(page, id: id) else { return notFound(page) }
            return ConsoleResponse(status: 200, contentType: "text/plain; charset=utf-8", body: text)
        case "history" where parts.count == 1: (template, context) = ("history", try HistoryPage.context(page))
        case "requests" where parts.count == 1: (template, context) = ("requests", try RequestsPage.context(page))
        case "review" where parts.count == 1: (template, context) = ("review", try ReviewPage.context(page))
        case "alerts" where parts.count == 1: (template, context) = ("alerts", try AlertsPage.context(page))
        case "runners" where parts.count == 1: (template, context) = ("runners", try RunnersPage.context(page))
        case "plan" where parts.count == 1: (template, context) = ("plan", try PlanPage.context(page))
        case "backfill" where parts.count == 1: (template, context) = ("backfill", try BackfillPage.context(page))
        default: return notFound(page)
        }
        return ConsoleResponse(status: 200, body: render(template, context))
    }

    func render(_ template: String, _ context: [String: Any]) -> String { templates.render(template, context) }

    private func message(status: Int, title: String, text: String, now: Date, session: ConsoleSessionStore.Session?) -> ConsoleResponse {
        let base: [String: Any] = ["title": title, "message": text, "failed": true, "now": ConsoleFormat.dateTime(now, configuration.settings.timeZone),
                                   "nav": PageContext.navigation(current: "")]
        return ConsoleResponse(status: status, body: render("message", base))
    }

    private func notFound(_ page: PageContext) -> ConsoleResponse {
        ConsoleResponse(status: 404, body: render("message", page.base("Not found", current: "").merging([
            "message": "There is no such page or record (it may have been purged with the run history).", "back": "/", "failed": true,
        ]) { $1 }))
    }

    /// 401: nothing was changed; how to get a session.
    private func unauthorized(_ page: PageContext) -> ConsoleResponse {
        let what = page.request.method == "POST" ? "This action needs a person: nothing was changed."
            : "This console is served off this machine (\(settings.host)): every page needs a session."
        return ConsoleResponse(status: 401, body: render("message", page.base("Sign in first", current: "").merging([
            "message": "\(what) Run `nightshift console login` as yourself on the runner's machine and open the link it prints.",
            "failed": true,
        ]) { $1 }))
    }

    /// 403: the form did not carry this session's token (a page from another site, or an old one).
    private func forbidden(_ page: PageContext) -> ConsoleResponse {
        ConsoleResponse(status: 403, body: render("message", page.base("Refused", current: "").merging([
            "message": "The form did not carry this session's token (it came from another page or an earlier session): nothing was changed. Reload the page and try again.",
            "failed": true, "back": "/",
        ]) { $1 }))
    }

    static func sessionCookie(_ secret: ConsoleSecret, minutes: Int, secure: Bool) -> String {
        "\(cookie)=\(secret.text); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(minutes * 60)" + (secure ? "; Secure" : "")
    }

    static func clearCookie(secure: Bool) -> String {
        "\(cookie)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" + (secure ? "; Secure" : "")
    }
}

/// What every page is built from: the database (the console's connection), the configuration,
/// the runner's clock, the session (if any) and the request.
struct PageContext {
    let db: PostgresConnection
    let configuration: Configuration
    let settings: ConsoleSettings
    let now: Date
    let session: ConsoleSessionStore.Session?
    /// The session's secret (only when the session is open).
    let secret: ConsoleSecret?
    let request: ConsoleRequest

    var zone: TimeZone { configuration.settings.timeZone }
    /// Managers and directors see the records held in the review queue (customer data).
    var isManager: Bool { (session?.role).map { $0 >= .manager } ?? false }

    /// The form's token equals this session's, compared in constant time.
    var csrfMatches: Bool {
        guard let secret, let presented = request.form["csrf"] else { return false }
        let a = Array(presented.utf8), b = Array(secret.csrfToken.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }

    static let pages: [(href: String, label: String)] = [
        ("/", "Tonight"), ("/plan", "Tomorrow"), ("/history", "History"), ("/requests", "Requests"), ("/review", "Review"),
        ("/backfill", "Backfill"), ("/alerts", "Alerts"), ("/runners", "Runners"),
    ]

    static func navigation(current: String) -> [[String: Any]] {
        pages.map { ["href": $0.href, "label": $0.label, "current": $0.href == current] }
    }

    /// The keys every template uses: title, navigation, the session and its CSRF token, the clock.
    func base(_ title: String, current: String) -> [String: Any] {
        var context: [String: Any] = [
            "title": title, "nav": Self.navigation(current: current), "now": ConsoleFormat.dateTime(now, zone),
            "environment": configuration.settings.environment, "refresh": request.method == "GET",
        ]
        if let session, let secret {
            context["session"] = ["account": session.account, "role": session.role?.rawValue ?? "no longer listed",
                                  "expires": ConsoleFormat.realTime(session.expiresAt, zone)]
            context["csrf"] = secret.csrfToken
        }
        return context
    }
}
