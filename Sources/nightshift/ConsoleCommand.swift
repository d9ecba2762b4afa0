import ArgumentParser
import Foundation
import NightShiftConfig
import NightShiftEngine

struct ConsoleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "The web console the runner serves (console.listen): sign in to act from it.",
        subcommands: [Login.self]
    )

    struct Login: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "login",
            abstract: "Print a one-time link that signs you in to the console as yourself.",
            discussion: """
                Who you are is your own database login, as for `submit` (your operating-system account; \
                listed in etc/operators.yaml). The link works once, within --minutes; the session it opens \
                lasts console.session_minutes and is bound to you and your role: its actions (rerun a job or \
                a batch, skip a job, approve or reject a request) go through the same rules and audit as \
                your commands. Anyone holding the link can use it first: open it yourself, do not forward it.
                """
        )

        @OptionGroup var options: GlobalOptions
        @Option(help: "How long the link may be used (1 to 60 minutes).") var minutes: Int = 10

        func validate() throws {
            guard (1...60).contains(minutes) else { throw ValidationError("--minutes \(minutes) must be from 1 to 60") }
        }

        func run() throws {
            let client = try RequestClient(options)
            guard let console = client.configuration.settings.console else {
                printError("error: the console is not configured: add `console: {listen: \"127.0.0.1:8480\"}` to etc/nightshift.yaml and restart the runner")
                throw ExitCode(2)
            }
            let login = ConsoleSecret()
            let (account, role, refusal) = try client.call {
                try ConsoleSessionStore(db: client.db).issueLogin(login, minutes: minutes, host: client.host, command: "nightshift console login")
            }
            if let refusal {
                printError("refused: \(refusal)")
                throw ExitCode(1)
            }
            // Unbuffered, so the link comes before the note on a terminal.
            FileHandle.standardOutput.write(Data("\(console.url)/login/\(login.text)\n".utf8))
            FileHandle.standardError.write(Data("""
                Open this link within \(minutes) min to sign in as \(account) (\(role ?? "?")); it works once. The session lasts \
                \(console.sessionMinutes) min.

                """.utf8))
        }
    }
}
