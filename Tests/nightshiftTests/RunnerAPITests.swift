import Foundation
import PostgresClient
import TestSupport
import XCTest

/// The HTTP trigger served by a real runner process, called with curl: 401 with no detail, 403
/// for another batch, 400 naming the field, 202 and the state, 429 past the quota, keys added
/// while it runs, and every refusal audited.
final class RunnerAPITests: XCTestCase {
    var night: RunnerNight!
    var port = 0

    override func setUpWithError() throws {
        night = try RunnerNight(slow: false)
        port = Int.random(in: 20_000...60_000)
        let settings = try night.project.read("etc/nightshift.yaml")
        try night.project.write("etc/nightshift.yaml", settings.replacingOccurrences(of: "max_connections: 12", with: "max_connections: 13")
            + "\napi:\n  listen: \"127.0.0.1:\(port)\"\n")
    }

    override func tearDown() { night?.tearDown() }

    func addKey(_ name: String, batches: String) throws -> String {
        let added = try night.cli(["api-key", "add", name, "--batches", batches])
        XCTAssertEqual(added.status, 0, added.stderr)
        return added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// (status, body) of a call.
    func call(_ method: String, _ path: String, key: String? = nil, body: String? = nil) throws -> (Int, String) {
        var arguments = ["curl", "-s", "-X", method, "-w", "\n%{http_code}", "http://127.0.0.1:\(port)\(path)"]
        if let key { arguments += ["-H", "Authorization: Bearer \(key)"] }
        if let body { arguments += ["-H", "Content-Type: application/json", "--data-binary", body] }
        let output = try runProcess(arguments)
        let lines = output.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? -1, lines.dropLast().joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func testTheTriggerAnswers401403400202And429AsSpecified() throws {
        let key = try addKey("erp-scheduler", batches: "daily")
        XCTAssertTrue(key.hasPrefix("nsk_") && key.count > 40, key)
        XCTAssertFalse(try night.project.read("etc/api-keys.yaml").contains(key), "only the hash is stored")
        let runner = try night.start(["run", "--at", "2026-11-23T10:00:00+08:00", "--speed", "10", "--until", "2026-11-23T10:10:00+08:00"],
                                     name: "runner")
        try night.waitUntil("the trigger listens") { runner.logText.contains("HTTP trigger listening") }
        let runs = "/api/v1/batches/daily/runs"

        XCTAssertEqual(try call("POST", runs, body: #"{"reason":"x"}"#).0, 401)
        let wrong = try call("POST", runs, key: "nsk_not-a-key", body: #"{"reason":"x"}"#)
        XCTAssertEqual(wrong.0, 401)
        XCTAssertEqual(wrong.1, #"{"error":"unauthorized"}"#, "no detail")
        XCTAssertEqual(try call("POST", "/api/v1/batches/monthly/runs", key: key, body: #"{"reason":"x"}"#).0, 403)

        for (body, field) in [("not json", "body"), (#"{"reason":"x","prio":"P1"}"#, "prio"), (#"{"priority":"P1"}"#, "reason"),
                              (#"{"reason":"x","business_date":"2026-02-30"}"#, "business_date"),
                              (#"{"reason":"x","business_date":"2019-01-01"}"#, "business_date"),
                              (#"{"reason":"x","priority":"urgent"}"#, "priority"), (#"{"reason":"x","job":"monthly_rollup"}"#, "job")] {
            let answer = try call("POST", runs, key: key, body: body)
            XCTAssertEqual(answer.0, 400, body)
            XCTAssertTrue(answer.1.contains(#""field":"\#(field)""#), "\(body) → \(answer.1)")
        }

        let accepted = try call("POST", runs, key: key, body: #"{"reason":"ERP import done","priority":"P4","business_date":"2026-11-22"}"#)
        XCTAssertEqual(accepted.0, 202, accepted.1)
        let id = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(accepted.1.utf8)) as? [String: Any])["request_id"] as? Int
        let statusURL = "\(runs)/\(try XCTUnwrap(id))"
        try night.waitUntil("the request is queued") { try call("GET", statusURL, key: key).1.contains(#""state":"queued""#) }
        let state = try call("GET", statusURL, key: key)
        XCTAssertEqual(state.0, 200)
        XCTAssertTrue(state.1.contains("waiting: deferred until 2026-11-24T02:00:00+08:00"), state.1)
        XCTAssertTrue(state.1.contains(#""requested_by":"api:erp-scheduler""#), state.1)
        XCTAssertEqual(try call("GET", "\(runs)/99999", key: key).0, 404)

        // The quota is the people's: 3 a day per key.
        XCTAssertEqual(try call("POST", runs, key: key, body: #"{"reason":"second","priority":"P4"}"#).0, 202)
        XCTAssertEqual(try call("POST", runs, key: key, body: #"{"reason":"third","priority":"P4"}"#).0, 202)
        let fourth = try call("POST", runs, key: key, body: #"{"reason":"fourth","priority":"P4"}"#)
        XCTAssertEqual(fourth.0, 429)
        XCTAssertTrue(fourth.1.contains("api:erp-scheduler has made 3 request(s) today"), fourth.1)

        // A key added while it runs works at once.
        let monthly = try addKey("finance", batches: "monthly,daily")
        XCTAssertEqual(try call("POST", "/api/v1/batches/monthly/runs", key: monthly, body: #"{"reason":"close"}"#).0, 202)

        let audit = try night.query("SELECT actor, outcome FROM nightshift.audit WHERE outcome = 'refused' ORDER BY id")
        let refused = (0..<audit.rowCount).map { audit.string($0, "actor")! }
        // Calls without a key write nothing to the (append-only) audit: counted and logged once a minute per address.
        XCTAssertEqual(refused.filter { $0 == "api:unknown" }.count, 0)
        XCTAssertEqual(runner.logText.components(separatedBy: "a call without a valid API key").count - 1, 1, runner.logText)
        XCTAssertEqual(refused.filter { $0 == "api:erp-scheduler" }.count, 9, "403, seven 400s and the quota: \(refused)")
        runner.kill(SIGTERM)
        XCTAssertEqual(runner.wait(timeout: 30), 0, runner.logText)
    }
}
