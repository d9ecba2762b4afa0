import ArgumentParser
import Foundation
import NightShiftConfig
import NightShiftCore
import NightShiftEngine
import PostgresClient

/// What the commands of people share (`submit`, `requests`, `approve`, `reject`, `cancel`, and the
/// gate of `run --once`, `override`, `review`, `archive`, `mail retry`, `report ops`): the
/// configuration, the person's own database login, and how a refusal is reported — audited by the
/// database, then one line on stderr and exit status 1.
///
/// Who asks is whom the database authenticated: this process logs in as its operating-system
/// account (peer authentication over the server's Unix socket maps the account to the role of the
/// same name; remotely, the role's own password or certificate), whatever user the configured URL
/// names. The database takes the actor from that session and decides the role, the quota and the
/// approval rules from its own tables; no flag, environment variable or argument decides them.
struct RequestClient {
    let configuration: Configuration
    /// Where the person is (the machine, and the account acted as under sudo): recorded, not trusted.
    let identity: OperatorIdentity
    /// The database role this process logs in as: its operating-system account.
    let account: String
    /// The person's own login: the request functions and reading requests.
    let db: PostgresConnection
    /// The command line as typed, for the audit.
    let command: String
    private let options: GlobalOptions

    init(_ options: GlobalOptions) throws {
        self.options = options
        configuration = try loadConfiguration(options)
        identity = OperatorIdentity.current()
        account = OperatorIdentity.processAccount()
        let arguments = CommandLine.arguments
        command = (["nightshift"] + arguments.dropFirst()).joined(separator: " ")
        do {
            db = try PostgresConnection(conninfo: connectionString(options, configuration.settings), user: account)
        } catch let error as PostgresError {
            printError("error: \(error)")
            printError("(people log in to the database as their operating-system account, here `\(account)`: an administrator creates the role "
                       + "and grants it nightshift_requester; see README, Requests)")
            throw ExitCode(1)
        }
    }

    var store: RequestStore { RequestStore(db: db) }
    /// The audit's `host`: machine and accounts, as this process sees them (informational).
    var host: String { identity.description }

    /// Audits the refusal (as this person's session), prints it in one line and exits 1.
    func refuse(_ reason: String, requestID: Int? = nil) throws -> Never {
        do { try store.refuseAttempt(host: host, command: command, reason: reason, requestID: requestID) } catch {
            printError("warning: the refusal could not be audited: \(error)")
        }
        printError("refused: \(reason)")
        throw ExitCode(1)
    }

    /// The database's gate for `action`: refused (audited) → one line and exit 1; allowed → who
    /// the database says is asking.
    @discardableResult
    func require(_ action: RequestStore.GatedAction, detail: String = "") throws -> String {
        let (actor, refusal) = try call { try store.authorize(action, detail: detail.isEmpty ? command : detail, host: host, command: command) }
        if let refusal {
            printError("refused: \(refusal)")
            throw ExitCode(1)
        }
        return actor
    }

    /// `require`, on a database whose schema the runner's login has not made yet: `prepare` makes it
    /// (migrations with the runner's login), then the gate is asked again.
    @discardableResult
    func require(_ action: RequestStore.GatedAction, detail: String = "", preparing prepare: () throws -> Void) throws -> String {
        if !store.gateIsReady() { try prepare() }
        return try require(action, detail: detail)
    }

    /// `actor` (as the database named them) at this process's host, for audit rows the runner's
    /// login writes about a person's gated action.
    func person(_ actor: String) -> OperatorIdentity { OperatorIdentity(account: actor, host: host) }

    /// The runner's login (the configured database URL), for the work a gated action does that a
    /// person's role may not (writing the review queue, the outbox, the archive catalog).
    func runnerDatabase() throws -> PostgresConnection {
        try PostgresConnection(conninfo: connectionString(options, configuration.settings))
    }

    /// Runs a database call; an out-of-date schema is named with the fix.
    func call<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PostgresError where ["42883", "42P01", "3F000"].contains(error.sqlState ?? "") {
            printError("error: the database has no request tables or functions yet (\(error.message)); run `nightshift migrate` with the runner's database login")
            throw ExitCode(1)
        } catch let error as PostgresError where error.sqlState == "42501" {
            printError("error: the database role \(account) may not do that (\(error.message)); it needs the role nightshift_requester")
            throw ExitCode(1)
        }
    }

    /// Approves, rejects or cancels request `id` as this person and prints the outcome; `done`
    /// ends the line ("approved by alice; …").
    func decide(_ id: Int, _ decision: RequestStore.Decision, reason: String?, done: String) throws {
        let outcome = try call { try store.decide(id, decision, host: host, command: command, reason: reason) }
        try report(outcome) { id, _ in "request #\(id) \(done)" }
    }

    /// Prints what came of a submission or a decision; a refusal exits 1.
    func report(_ outcome: RequestStore.Outcome, _ done: (Int, RequestState) -> String) throws {
        switch outcome {
        case let .recorded(id, state): print(done(id, state))
        case let .refused(reason):
            printError("refused: \(reason)")
            throw ExitCode(1)
        }
    }
}
