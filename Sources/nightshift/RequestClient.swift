import ArgumentParser
import Foundation
import NightShiftConfig
import NightShiftCore
import NightShiftEngine
import PostgresClient

/// What `submit`, `requests`, `approve`, `reject` and `cancel` share: the configuration, the
/// person asking (the operating-system account, never a flag), the database (without running
/// migrations: a person's database login may only call the request functions), and how a
/// refusal is reported — audited, then one line on stderr and exit status 1.
struct RequestClient {
    let configuration: Configuration
    let identity: OperatorIdentity
    let db: PostgresConnection
    /// The command line as typed, for the audit.
    let command: String

    init(_ options: GlobalOptions) throws {
        configuration = try loadConfiguration(options)
        identity = OperatorIdentity.current()
        let arguments = CommandLine.arguments
        command = (["nightshift"] + arguments.dropFirst()).joined(separator: " ")
        do {
            db = try PostgresConnection(conninfo: connectionString(options, configuration.settings))
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
    }

    var store: RequestStore { RequestStore(db: db) }
    var policy: RequestPolicy { configuration.requestPolicy }

    /// Audits the refusal, prints it in one line and exits 1.
    func refuse(_ reason: String, requestID: Int? = nil) throws -> Never {
        do { try store.refuse(by: identity, command: command, reason: reason, requestID: requestID) } catch {
            printError("warning: the refusal could not be audited: \(error)")
        }
        printError("refused: \(reason)")
        throw ExitCode(1)
    }

    /// Refuses unless the person's role allows `action`.
    func require(_ action: RequestPolicy.Action) throws {
        if let reason = policy.refusal(identity.account, action) { try refuse(reason) }
    }

    /// Runs a database call; an out-of-date schema is named with the fix.
    func call<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PostgresError where ["42883", "42P01", "3F000"].contains(error.sqlState ?? "") {
            printError("error: the database has no request tables or functions yet (\(error.message)); run `nightshift migrate` with the runner's database login")
            throw ExitCode(1)
        } catch let error as PostgresError where error.sqlState == "42501" {
            printError("error: this database login may not do that (\(error.message)); it needs the role nightshift_requester")
            throw ExitCode(1)
        }
    }

    /// Approves, rejects or cancels request `id` as this person and prints the outcome; `done`
    /// ends the line ("approved by alice; …").
    func decide(_ id: Int, _ decision: RequestStore.Decision, reason: String?, done: String) throws {
        let outcome = try call {
            try store.decide(id, decision, by: identity, isDirector: policy.isDirector(identity.account), command: command, reason: reason)
        }
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
