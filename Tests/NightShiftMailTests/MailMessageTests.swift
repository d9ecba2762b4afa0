import Foundation
import NightShiftMail
import TestSupport
import XCTest

final class MailMessageTests: XCTestCase {
    /// Parses a message with Python's standard e-mail parser and returns its decoded fields.
    func parse(_ raw: String) throws -> [String: String] {
        let script = """
            import email, json, sys
            from email import policy
            m = email.message_from_bytes(sys.stdin.buffer.read(), policy=policy.default)
            print(json.dumps({
                "subject": str(m["Subject"]), "from": str(m["From"]), "to": str(m["To"]),
                "type": m.get_content_type(), "defects": str(len(m.defects)),
                "text": m.get_body(("plain",)).get_content(), "html": m.get_body(("html",)).get_content(),
                "date": str(m["Date"].datetime.isoformat()), "message_id": str(m["Message-ID"]),
            }))
            """
        let output = try runProcess(["python3", "-c", script], stdin: Data(raw.utf8))
        XCTAssertEqual(output.status, 0, output.stderr)
        return try JSONDecoder().decode([String: String].self, from: Data(output.stdout.utf8))
    }

    func testMultipartUTF8MessageRoundTripsThroughARealParser() throws {
        let subject = "[NightShift] daily batch 2026-11-22：幸福瓦斯 夜間批次 全部成功，共三個工作，無失敗（測試一個很長的主旨以便切成多個編碼字）"
        let message = MailMessage(from: "NightShift <nightshift@luckygas.test>",
                                  to: ["營運主管 <ops@luckygas.test>", "Finance, Taipei <fin@luckygas.test>"],
                                  subject: subject, date: ISO8601DateFormatter().date(from: "2026-11-23T02:05:00+08:00")!,
                                  text: "瓦斯 20kg ✓\nline two\n", html: "<p>瓦斯 &amp; 鋼瓶</p>")
        let raw = message.rendered()
        for line in raw.components(separatedBy: "\r\n") {
            XCTAssertLessThanOrEqual(line.utf8.count, 78, line)
            XCTAssertTrue(line.allSatisfy(\.isASCII), line)
        }
        let parsed = try parse(raw)
        XCTAssertEqual(parsed["subject"], subject)
        XCTAssertEqual(parsed["to"], "營運主管 <ops@luckygas.test>, \"Finance, Taipei\" <fin@luckygas.test>")
        XCTAssertEqual(parsed["type"], "multipart/alternative")
        XCTAssertEqual(parsed["defects"], "0")
        XCTAssertEqual(parsed["text"], "瓦斯 20kg ✓\nline two\n")
        XCTAssertEqual(parsed["html"], "<p>瓦斯 &amp; 鋼瓶</p>")
        XCTAssertEqual(parsed["date"], "2026-11-23T02:05:00+08:00")
        XCTAssertEqual(parsed["message_id"], message.messageID)
        XCTAssertTrue(message.messageID.hasSuffix("@luckygas.test>"))
    }

    func testTemplatesRenderEscapedHTMLAndPlainText() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try "Batch {{name}} {{#ok}}ok{{/ok}}".write(toFile: dir.file("t.subject.mustache"), atomically: true, encoding: .utf8)
        try "Name: {{name}}\n{{#jobs}}- {{.}}\n{{/jobs}}".write(toFile: dir.file("t.txt.mustache"), atomically: true, encoding: .utf8)
        try "<b>{{name}}</b>".write(toFile: dir.file("t.html.mustache"), atomically: true, encoding: .utf8)
        let templates = try MailTemplates(directory: dir.path, name: "t")
        let out = templates.render(["name": "<daily & co>", "ok": true, "jobs": ["a", "b"]])
        XCTAssertEqual(out.subject, "Batch <daily & co> ok")
        XCTAssertEqual(out.text, "Name: <daily & co>\n- a\n- b\n")
        XCTAssertEqual(out.html, "<b>&lt;daily &amp; co&gt;</b>")
    }

    func testMissingTemplateSaysWhichFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        XCTAssertThrowsError(try MailTemplates(directory: dir.path, name: "summary")) { error in
            XCTAssertTrue("\(error)".contains("summary.subject.mustache: cannot be read"), "\(error)")
        }
    }

    func testOutboxWritesTheMessageWhole() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let message = MailMessage(from: "a <a@b.test>", to: ["c@d.test"], subject: "hi", date: Date(), text: "t", html: "h")
        let stored = try Outbox(directory: dir.file("outbox")).store(message, name: "m1")
        XCTAssertEqual(stored.path, dir.file("outbox/m1.eml"))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: stored.path)), stored.data)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.file("outbox")), ["m1.eml"])
    }
}
