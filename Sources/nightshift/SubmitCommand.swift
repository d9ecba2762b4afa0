import ArgumentParser
import Foundation
import NightShiftCore
import NightShiftEngine

struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Ask for a batch, or one job, to run (managers and directors; etc/operators.yaml).",
        discussion: """
            You are your operating-system account (under sudo, the account you logged in as); there is \
            no flag for it. The request is recorded and audited; a running `nightshift run` service \
            takes it into the queue within 2 s, where windows, priorities and limits decide when it \
            starts (`nightshift requests` and `status` say what it waits for). With `environment: \
            production` it first needs a second manager's `nightshift approve`. At most quota_per_day \
            requests per person per day. A job requested alone runs without waiting for its dependencies.
            Examples:
              nightshift submit daily --date 2026-11-22 --reason "price fix"
              nightshift submit delivery_charges --priority P1 --reason "complaint"
            A refusal prints one line on stderr and exits 1.
            """
    )

    @OptionGroup var options: GlobalOptions
    @Argument(help: "A batch (daily, weekly, monthly, yearend) or a job name.") var target: String
    @Option(help: "The business date (YYYY-MM-DD; default: the batch's business date when it is queued).") var date: String?
    @Option(help: "Run at this priority (P1–P4) instead of the jobs' own.") var priority: String?
    @Option(help: "Why (recorded and audited).") var reason: String

    func run() throws {
        let client = try RequestClient(options)
        let configuration = client.configuration
        let batch: BatchKind
        var job: String?
        if let kind = BatchKind(rawValue: target) {
            batch = kind
        } else if let definition = configuration.jobs.first(where: { $0.name == target }) {
            batch = definition.batch
            job = definition.name
        } else {
            try client.refuse("\(target) is neither a batch (daily, weekly, monthly, yearend) nor a configured job (jobs/*.yaml)")
        }
        if configuration.jobs(in: batch).isEmpty { try client.refuse("the \(batch.rawValue) batch has no jobs (jobs/*.yaml)") }
        var businessDate: LocalDate?
        if let date {
            guard let day = LocalDate(iso: date) else { try client.refuse("--date \(date) is not a date; write YYYY-MM-DD") }
            let today = LocalDate(Date(), in: configuration.settings.timeZone)
            if day > today { try client.refuse("--date \(date) is in the future; a business date is a day that has begun") }
            if day.dayNumber < today.dayNumber - 400 { try client.refuse("--date \(date) is more than 400 days ago") }
            businessDate = day
        }
        var level: Priority?
        if let priority {
            guard let parsed = Priority(text: priority) else { try client.refuse("--priority \(priority) is not P1, P2, P3 or P4") }
            level = parsed
        }
        let why = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        if why.isEmpty { try client.refuse("say why with --reason") }
        let submission = RequestStore.Submission(source: .cli, batch: batch, job: job, businessDate: businessDate, priority: level,
                                                 reason: why)
        let outcome = try client.call {
            try client.store.submit(submission, host: client.host, command: client.command)
        }
        try client.report(outcome) { id, state in
            let next = state == .awaitingApproval
                ? "production: it runs after a second manager approves it (`nightshift approve \(id)`)"
                : "a running `nightshift run` takes it into the queue within 2 s; `nightshift requests` shows where it is"
            return "request #\(id) recorded for \(client.account): \(submission.summary). \(next)"
        }
    }
}
