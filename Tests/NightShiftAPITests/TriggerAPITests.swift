import Foundation
import NightShiftCore
import XCTest
@testable import NightShiftAPI

final class TriggerAPITests: XCTestCase {
    let jobs = [JobDefinition(name: "delivery_charges", description: "", kind: .calculation, batch: .daily, priority: .p3, dependsOn: [],
                              estimateSeconds: 60, retries: 3, action: .aggregation(sql: "x.sql"))]
    let today = LocalDate(year: 2026, month: 11, day: 23)

    /// "ok: summary" or "field: name".
    func parse(_ body: String) -> String {
        switch TriggerBody.parse(Data(body.utf8), batch: .daily, jobs: jobs, today: today) {
        case let .success(submission): "ok: \(submission.summary)"
        case let .failure(problem): "field: \(problem.field)"
        }
    }

    func testTheBodyIsCheckedFieldByField() {
        XCTAssertEqual(parse(#"{"reason":"import done"}"#), "ok: daily batch")
        XCTAssertEqual(parse(#"{"reason":"x","business_date":"2026-11-22","priority":"P2","job":"delivery_charges"}"#),
                       "ok: job delivery_charges (daily) for 2026-11-22 at P2")
        for (body, field) in [("", "body"), ("[1]", "body"), (#"{"reason":""}"#, "reason"), (#"{"reason":3}"#, "reason"),
                              (#"{"reason":"a\nb"}"#, "reason"), (#"{"reason":"x","extra":1}"#, "extra"),
                              (#"{"reason":"x","business_date":"2026-11-24"}"#, "business_date"),
                              (#"{"reason":"x","priority":"P5"}"#, "priority"), (#"{"reason":"x","job":"nope"}"#, "job")] {
            XCTAssertEqual(parse(body), "field: \(field)", body)
        }
        XCTAssertEqual(parse(#"{"reason":""# + String(repeating: "x", count: 20_000) + #""}"#), "field: body")
    }

    func testKeysCompareInConstantTimeOverEveryByte() {
        XCTAssertTrue(APIKeyring.equal(Array("abc".utf8), Array("abc".utf8)))
        XCTAssertFalse(APIKeyring.equal(Array("abc".utf8), Array("abd".utf8)))
        XCTAssertFalse(APIKeyring.equal(Array("abc".utf8), Array("abcd".utf8)))
    }

    func testAKeyFileIsReadAgainWhenItChanges() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let keyring = APIKeyring(path: path)
        XCTAssertNil(keyring.key(presented: "secret"), "no file: no keys")
        // SHA-256 of "secret".
        try "keys:\n  - name: a\n    sha256: 2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b\n    batches: [daily]\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(keyring.key(presented: "secret")?.name, "a")
        XCTAssertNil(keyring.key(presented: "Secret"))
        Thread.sleep(forTimeInterval: 1.1) // a new modification time
        try "keys:\n  - name: a\n    sha256: nothex\n    batches: [daily]\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertNil(keyring.key(presented: "secret"), "a broken key file lets nobody in")
    }
}
