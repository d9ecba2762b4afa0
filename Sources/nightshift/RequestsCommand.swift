import ArgumentParser
import Foundation
import NightShiftCore
import NightShiftEngine

struct RequestsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "requests",
        abstract: "List requests for work: the open ones and those of the last days, with what each waits for.",
        discussion: """
            Open requests (awaiting approval, accepted, queued) are always listed; finished, rejected, \
            cancelled, expired and refused ones of the last --days days too. A queued request shows its \
            batch run and why its next job waits (window, batch limit, slot, lock, load). Operators and \
            above (etc/operators.yaml).
            """
    )

    @OptionGroup var options: GlobalOptions
    @Option(help: "Also list requests made in the last N days.") var days: Int = 7
    @Flag(help: "Print JSON instead of text.") var json = false

    func run() throws {
        let client = try RequestClient(options)
        try client.require(.list)
        let zone = client.configuration.settings.timeZone
        let listed = try client.call { try client.store.list(since: Date().addingTimeInterval(-Double(max(0, days)) * 86_400)) }
        if json {
            struct Row: Encodable {
                let id: Int, state: String, what: String, requestedBy: String, host: String, requestedAt: String, reason: String
                let approvedBy: String?, batchRunId: Int?, situation: String
            }
            print(try jsonText(listed.map {
                Row(id: $0.id, state: $0.state.rawValue, what: $0.what, requestedBy: $0.requestedBy, host: $0.host,
                    requestedAt: $0.requestedAt.iso8601(in: zone), reason: $0.reason, approvedBy: $0.approvedBy,
                    batchRunId: $0.batchRunID, situation: $0.situation)
            }))
            return
        }
        if listed.isEmpty {
            print("no requests in the last \(days) days")
            return
        }
        for request in listed {
            print("#\(request.id) [\(request.state.rawValue)] \(request.what) by \(request.requestedBy) at \(request.requestedAt.iso8601(in: zone))"
                  + (request.approvedBy.map { ", approved by \($0)" } ?? ""))
            print("    why: \(request.reason)")
            print("    now: \(request.situation)")
        }
    }
}
