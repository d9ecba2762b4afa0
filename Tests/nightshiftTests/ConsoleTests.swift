import Foundation
import PostgresClient
import TestSupport
import XCTest

/// The web console of a real running service, in a real browser (Chromium through Selenium,
/// Tests/nightshiftTests/ConsoleBrowser.py), through a simulated night where one job fails: one
/// Gantt bar per job in its state, the critical path, the failed job's log with its SQLSTATE, and
/// a rerun through the page — refused without a session, done after `nightshift console login`,
/// audited as the person. Screenshots go to /tmp/nightshift-console-screenshots.
final class ConsoleTests: XCTestCase {
    var night: RunnerNight!
    var port = 0
    let me = currentAccount()

    override func setUpWithError() throws {
        night = try RunnerNight(slow: name.contains("OffLoopback"))
        port = try freeLoopbackPort()
        let settings = try night.project.read("etc/nightshift.yaml")
        try night.project.write("etc/nightshift.yaml", settings.replacingOccurrences(of: "max_connections: 12", with: "max_connections: 13")
            + "\nconsole:\n  listen: \"127.0.0.1:\(port)\"\n")
        try night.project.write("sql/jobs/customer_consumption.sql", "SELECT 1 / 0;\n")
        try TestDatabase.person(me)
    }

    override func tearDown() { night?.tearDown() }

    func testANightInTheBrowserTheFailedJobsLogAndARerunThatNeedsAPerson() throws {
        let runner = try night.start(["run", "--at", RunnerNight.at, "--speed", "600", "--until", "2026-11-23T12:00:00+08:00"], name: "runner")
        try night.waitUntil("the night has ended", timeout: 90) {
            try night.scalar("SELECT state FROM nightshift.batch_runs ORDER BY id LIMIT 1") == "failed"
        }
        // Every page answers, read-only, without a session on loopback; what is not there is a 404.
        let batchRun = try XCTUnwrap(night.scalar("SELECT min(id) FROM nightshift.batch_runs"))
        let jobRun = try XCTUnwrap(night.scalar("SELECT min(id) FROM nightshift.job_runs"))
        for (path, status) in [("/", 200), ("/plan", 200), ("/history", 200), ("/history?month=2026-11", 200), ("/requests", 200),
                               ("/review", 200), ("/backfill", 200), ("/alerts", 200), ("/runners", 200), ("/batch-runs/\(batchRun)", 200),
                               ("/job-runs/\(jobRun)", 200), ("/job-runs/\(jobRun)/log", 200), ("/console.css", 200), ("/console.js", 200),
                               ("/batch-runs/999999", 404), ("/nowhere", 404), ("/login/not-a-link", 410)] {
            let answer = try runProcess(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)\(path)"])
            XCTAssertEqual(answer.stdout, String(status), path)
        }
        let history = try runProcess(["curl", "-s", "http://127.0.0.1:\(port)/history?month=2026-11"]).stdout
        XCTAssertTrue(history.contains(#"data-date="2026-11-22" data-result="failed""#), "the night's date coloured by its result")
        let csp = try runProcess(["curl", "-s", "-D", "-", "-o", "/dev/null", "http://127.0.0.1:\(port)/"]).stdout
        XCTAssertTrue(csp.lowercased().contains("content-security-policy: default-src 'none'; style-src 'self'; script-src 'self'"), csp)

        let login = try night.cli(["console", "login"])
        XCTAssertEqual(login.status, 0, login.stderr)
        let link = login.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(link.hasPrefix("http://127.0.0.1:\(port)/login/"), link)
        XCTAssertTrue(login.stderr.contains("to sign in as \(me) (director); it works once"), login.stderr)
        let requestsBefore = try night.scalar("SELECT count(*) FROM nightshift.requests")

        let shots = "/tmp/nightshift-console-screenshots"
        try? FileManager.default.removeItem(atPath: shots)
        try FileManager.default.createDirectory(atPath: shots, withIntermediateDirectories: true)
        let arguments = try String(decoding: JSONSerialization.data(withJSONObject: [
            "base": "http://127.0.0.1:\(port)", "login": link, "failed_job": "customer_consumption", "shots": shots,
        ]), as: UTF8.self)
        let browser = try runProcess(["/usr/bin/python3", "\(repositoryRoot())/Tests/nightshiftTests/ConsoleBrowser.py", arguments])
        XCTAssertEqual(browser.status, 0, browser.stderr + "\n" + runner.logText)
        let seen = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(browser.stdout.utf8)) as? [String: Any], browser.stdout)

        // One Gantt group per job of the night, in the state the database holds, each with a bar.
        let states = try night.query("SELECT job, state FROM nightshift.job_runs ORDER BY job")
        var expected: [String: String] = [:]
        for row in 0..<states.rowCount { expected[states.string(row, 0)!] = states.string(row, 1)! }
        let jobs = try XCTUnwrap(seen["jobs"] as? [[String: Any]])
        XCTAssertEqual(jobs.count, expected.count, "\(jobs)")
        XCTAssertEqual(Dictionary(jobs.map { ($0["job"] as! String, $0["state"] as! String) }, uniquingKeysWith: { a, _ in a + "+" + a }), expected)
        XCTAssertEqual(expected["customer_consumption"], "failed")
        XCTAssertTrue(jobs.filter { $0["state"] as? String != "skipped" }.allSatisfy { ($0["bars"] as? Int ?? 0) >= 1 }, "\(jobs)")

        // The critical path: the jobs marked are the chain the page names, which ends with the job that
        // ended last among those that ran, each waiting on the one before.
        let path = try XCTUnwrap((seen["critical_path"] as? [String])?.first).components(separatedBy: " → ")
        XCTAssertEqual(Set(jobs.filter { $0["critical"] as? String == "true" }.map { $0["job"] as! String }), Set(path))
        let last = try night.scalar("""
            SELECT job FROM nightshift.job_runs WHERE state IN ('succeeded', 'succeeded_with_rejects') ORDER BY finished_at DESC, job LIMIT 1
            """)
        XCTAssertEqual(path.last, last)
        for (before, after) in zip(path, path.dropFirst()) {
            let dependencies = try XCTUnwrap(night.scalar("SELECT depends_on::text FROM nightshift.job_runs WHERE job = $1", [after]))
            XCTAssertTrue(dependencies.contains(before), "\(after) waits on \(before): \(dependencies)")
        }

        // The failed job's page: its SQLSTATE, error and log.
        XCTAssertEqual(seen["sqlstate"] as? String, "22012")
        XCTAssertTrue((seen["error"] as? String ?? "").contains("division by zero"), "\(seen["error"] ?? "")")
        let log = try XCTUnwrap(seen["log"] as? [String])
        XCTAssertTrue(log.contains { $0.contains("job started") }, "\(log)")
        XCTAssertTrue(log.contains { $0.contains("attempt 1 ended: failed") && $0.contains("22012") }, "\(log)")

        // Without a session the rerun is refused and nothing is written; signed in, it is a request of the person's.
        let refused = try XCTUnwrap(seen["without_session"] as? [String: String])
        XCTAssertEqual(refused["title"], "Sign in first")
        XCTAssertTrue(refused["message"]?.contains("nothing was changed") == true, "\(refused)")
        XCTAssertEqual(seen["signed_in_as"] as? String, me)
        let rerun = try XCTUnwrap(seen["rerun"] as? [String: String])
        XCTAssertEqual(rerun["title"], "Requested", "\(rerun)")
        XCTAssertTrue(rerun["message"]?.hasPrefix("A rerun of customer_consumption for 2026-11-22 is request #") == true, "\(rerun)")
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.requests"), String(Int(requestsBefore ?? "0")! + 1), "the 401 wrote nothing")
        XCTAssertEqual(try night.scalar("SELECT requested_by || ' ' || job || ' ' || business_date FROM nightshift.requests ORDER BY id DESC LIMIT 1"),
                       "\(me) customer_consumption 2026-11-22")
        let audit = try night.query("""
            SELECT actor, outcome, command, host FROM nightshift.audit WHERE command LIKE 'console:%' OR command = 'nightshift console login' ORDER BY id
            """)
        let rows = (0..<audit.rowCount).map { r in (0..<4).map { audit.string(r, $0) ?? "" } }
        XCTAssertEqual(rows.map { $0[0] }, [me, me, me], "\(rows)")
        XCTAssertEqual(rows.map { $0[1] }, ["accepted", "signed_in", "accepted"], "\(rows)")
        XCTAssertEqual(rows.last?[2], "console: rerun customer_consumption for 2026-11-22")
        XCTAssertEqual(rows.last?[3], "console from 127.0.0.1")

        // The screenshots were taken (and are looked at: see the issue's note).
        for shot in ["1-tonight", "2-failed-job", "3-refused-without-a-session", "4-rerun-form", "5-rerun-requested"] {
            let size = (try FileManager.default.attributesOfItem(atPath: "\(shots)/\(shot).png")[.size] as? Int) ?? 0
            XCTAssertGreaterThan(size, 10_000, shot)
        }
        runner.kill(SIGTERM)
        XCTAssertEqual(runner.wait(timeout: 60), 0, runner.logText)
    }

    /// (status, headers, body) of a call over HTTPS to the console (its certificate is self-signed).
    func call(_ method: String, _ path: String, cookie: String? = nil, form: String? = nil, tls: Bool = true) throws -> (Int, String, String) {
        let headers = "\(night.project.root)/headers.txt"
        var arguments = ["curl", "-s", "-k", "-X", method, "-D", headers, "-w", "\n%{http_code}", "\(tls ? "https" : "http")://127.0.0.1:\(port)\(path)"]
        if let cookie { arguments += ["-b", "nightshift_console=\(cookie)"] }
        if let form { arguments += ["--data-raw", form] }
        let output = try runProcess(arguments)
        let lines = output.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? -1, (try? String(contentsOfFile: headers, encoding: .utf8)) ?? "", lines.dropLast().joined(separator: "\n"))
    }

    /// Signs in with a one-time link from `console login` (run as `account`, nil: the account running
    /// the tests); returns the session cookie.
    func signIn(as account: String? = nil, tls: Bool = true) throws -> String {
        let command = [try nightshiftBinary(), "console", "login", "--root", night.project.root]
        let login = try account.map { try runProcess(["runuser", "-u", $0, "--"] + command, environment: night.environment) }
            ?? night.cli(["console", "login"])
        XCTAssertEqual(login.status, 0, login.stderr)
        let link = login.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(link.hasPrefix("\(tls ? "https" : "http")://127.0.0.1:\(port)/login/"), link)
        let (status, headers, _) = try call("POST", "/login", form: "login=\(link.split(separator: "/").last!)", tls: tls)
        XCTAssertEqual(status, 303)
        let cookie = try XCTUnwrap(headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix("set-cookie: nightshift_console=") })
        XCTAssertTrue(cookie.contains("; HttpOnly") && cookie.contains("; SameSite=Strict") && cookie.contains("; Secure") == tls, String(cookie))
        return String(cookie.dropFirst("set-cookie: nightshift_console=".count).prefix(64))
    }

    /// Off loopback (with TLS): every page needs a session; the review queue's records (customer data)
    /// are shown to managers only; a job waiting in a running batch run is skipped through the
    /// console as an override of the person's, with the CSRF token, audited.
    func testOffLoopbackEveryPageNeedsASessionAndASkipIsThePersonsOverride() throws {
        try FileManager.default.createDirectory(atPath: "\(night.project.root)/etc/tls", withIntermediateDirectories: true)
        let made = try runProcess(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                   "-keyout", "\(night.project.root)/etc/tls/console.key", "-out", "\(night.project.root)/etc/tls/console.crt",
                                   "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        XCTAssertEqual(made.status, 0, made.stderr)
        chmod("\(night.project.root)/etc/tls/console.key", 0o600)
        let settings = try night.project.read("etc/nightshift.yaml")
        try night.project.write("etc/nightshift.yaml", settings.replacingOccurrences(of: "listen: \"127.0.0.1:\(port)\"", with: """
            listen: "0.0.0.0:\(port)"
              tls: {certificate: etc/tls/console.crt, key: etc/tls/console.key}
              url: "https://127.0.0.1:\(port)"
            """))
        try night.project.write("sql/jobs/customer_consumption.sql", try night.project.read("sql/jobs/daily_sales_summary.sql"))
        // The calculation is expected to take 10 hours (no history yet: its estimate): the night is forecast to miss its window.
        let charges = try night.project.read("jobs/delivery_charges.yaml")
        try night.project.write("jobs/delivery_charges.yaml", charges.replacingOccurrences(of: "estimate_minutes: 2", with: "estimate_minutes: 600"))
        let root = getuid() == 0
        if root {
            try night.project.operators([me: "director", "nobody": "operator"])
            try TestDatabase.person("nobody")
        }
        // One slot, real time: customer_consumption (P4) waits while the others run.
        let runner = try night.start(["run", "--at", RunnerNight.at, "--until", "2026-11-23T02:05:00+08:00"], name: "runner")
        try night.waitUntil("the night runs", timeout: 60) { try night.jobState("delivery_charges") == "running" }
        XCTAssertEqual(try night.jobState("customer_consumption"), "pending")

        XCTAssertEqual(try call("GET", "/").0, 401, "off loopback, no page without a session")
        XCTAssertEqual(try call("GET", "/history").0, 401)
        XCTAssertEqual(try call("GET", "/console.css").0, 200)
        try night.query("""
            INSERT INTO nightshift.review_queue (job, business_date, record_key, record, sqlstate, message)
            VALUES ('delivery_charges', '2026-10-31', 7, '{"customer": "王小明", "phone": "0912-345-678"}', '22003', 'numeric field overflow')
            """)
        let director = try signIn()
        let review = try call("GET", "/review", cookie: director)
        XCTAssertEqual(review.0, 200)
        XCTAssertTrue(review.2.contains("王小明") && review.2.contains("numeric field overflow"), review.2)
        if root {
            let operatorCookie = try signIn(as: "nobody")
            let hidden = try call("GET", "/review", cookie: operatorCookie)
            XCTAssertEqual(hidden.0, 200)
            XCTAssertTrue(hidden.2.contains("numeric field overflow") && !hidden.2.contains("王小明"), hidden.2)
            XCTAssertTrue(hidden.2.contains("shown to a signed-in manager or director only"), hidden.2)
        }

        // Tonight, while the night runs: the forecast of what has not ended, and the warning at the top.
        let tonight = try call("GET", "/", cookie: director).2
        XCTAssertTrue(tonight.contains("The daily batch of 2026-11-22 is forecast to miss its window"), tonight)
        XCTAssertTrue(tonight.contains(#"data-job="daily_delivery_export" data-state="pending""#), tonight)
        XCTAssertTrue(tonight.contains(#"class="forecast state-pending"#), "a forecast bar for what has not started")
        XCTAssertTrue(tonight.contains(#"class="ran state-running"#) && tonight.contains(#"class="forecast state-running"#),
                      "what runs: the part done and the part forecast")

        let job = try XCTUnwrap(night.scalar("SELECT id FROM nightshift.job_runs WHERE job = 'customer_consumption'"))
        let page = try call("GET", "/job-runs/\(job)", cookie: director).2
        let csrf = try XCTUnwrap(page.firstMatch(of: /name="csrf" value="([0-9a-f]{64})"/)?.1)
        let overridesBefore = try night.scalar("SELECT count(*) FROM nightshift.manual_overrides")
        XCTAssertEqual(try call("POST", "/actions/skip-job", cookie: director, form: "job_run=\(job)&reason=not+tonight").0, 403,
                       "without the session's CSRF token")
        XCTAssertEqual(try call("POST", "/actions/skip-job", form: "job_run=\(job)&reason=not+tonight&csrf=\(csrf)").0, 401, "without the session")
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.manual_overrides"), overridesBefore, "refused: nothing written")
        let skipped = try call("POST", "/actions/skip-job", cookie: director, form: "job_run=\(job)&reason=not+tonight&csrf=\(csrf)")
        XCTAssertEqual(skipped.0, 200, skipped.2)
        XCTAssertTrue(skipped.2.contains("was waiting and is skipped now"), skipped.2)
        XCTAssertEqual(try night.jobState("customer_consumption"), "skipped")
        XCTAssertEqual(try night.scalar("SELECT requested_by || ': ' || reason || ' ' || (applied_to = $1::bigint) FROM nightshift.manual_overrides", [job]),
                       "\(me): not tonight true")
        XCTAssertEqual(try night.scalar("""
            SELECT from_state || '>' || to_state || ' by ' || runner FROM nightshift.state_transitions WHERE job_run_id = $1::bigint ORDER BY id DESC LIMIT 1
            """, [job]), "pending>skipped by \(me)")
        XCTAssertEqual(try night.scalar("SELECT actor || ' ' || outcome FROM nightshift.audit WHERE command LIKE 'console: skip %'"), "\(me) accepted")
        try night.waitUntil("the batch run ends", timeout: 120) {
            try night.scalar("SELECT state FROM nightshift.batch_runs ORDER BY id LIMIT 1") == "succeeded"
        }
        runner.kill(SIGTERM)
        XCTAssertEqual(runner.wait(timeout: 60), 0, runner.logText)
    }

    /// In production a second manager approves: from the console as with `nightshift approve`, and
    /// the same refusal of one's own request.
    func testApproveAndRejectFromTheConsoleAsTheCommandsWould() throws {
        try XCTSkipUnless(getuid() == 0, "another manager submits with runuser, which needs root")
        try night.project.operators([me: "director", "daemon": "manager"])
        try TestDatabase.person("daemon")
        let settings = try night.project.read("etc/nightshift.yaml")
        try night.project.write("etc/nightshift.yaml", settings.replacingOccurrences(of: "environment: development", with: "environment: production"))
        let runner = try night.start(["run", "--at", RunnerNight.at, "--speed", "600", "--until", "2026-11-23T12:00:00+08:00"], name: "runner")
        try night.waitUntil("the console answers", timeout: 60) {
            try runProcess(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/"]).stdout == "200"
        }
        func submit(as account: String?, _ reason: String) throws -> String {
            let command = [try nightshiftBinary(), "submit", "daily", "--date", "2026-11-21", "--reason", reason, "--root", night.project.root]
            let output = try account.map { try runProcess(["runuser", "-u", $0, "--"] + command, environment: night.environment) }
                ?? runProcess(command, environment: night.environment)
            XCTAssertEqual(output.status, 0, output.stderr)
            return try XCTUnwrap(output.stdout.firstMatch(of: /request #(\d+)/).map { String($0.1) }, output.stdout)
        }
        let first = try submit(as: "daemon", "prices fixed"), second = try submit(as: "daemon", "twice"), mine = try submit(as: nil, "mine")
        let cookie = try signIn(tls: false)
        let page = try call("GET", "/requests", cookie: cookie, tls: false).2
        XCTAssertTrue(page.contains(#"data-request="\#(first)""#) && page.contains("Approve"), page)
        let csrf = try XCTUnwrap(page.firstMatch(of: /name="csrf" value="([0-9a-f]{64})"/)?.1)
        let approved = try call("POST", "/actions/approve", cookie: cookie, form: "request=\(first)&csrf=\(csrf)", tls: false)
        XCTAssertEqual(approved.0, 200, approved.2)
        XCTAssertTrue(approved.2.contains("Request #\(first) is accepted now."), approved.2)
        let rejected = try call("POST", "/actions/reject", cookie: cookie, form: "request=\(second)&reason=one+is+enough&csrf=\(csrf)", tls: false)
        XCTAssertEqual(rejected.0, 200, rejected.2)
        let own = try call("POST", "/actions/approve", cookie: cookie, form: "request=\(mine)&csrf=\(csrf)", tls: false)
        XCTAssertEqual(own.0, 403, own.2)
        XCTAssertTrue(own.2.contains("request #\(mine) is \(me)&#39;s own: a second manager must approve it"), own.2)
        // The approved one may be queued already by the runner.
        XCTAssertEqual(try night.scalar("SELECT approved_by FROM nightshift.requests WHERE id = $1::bigint", [first]), me)
        XCTAssertTrue(["accepted", "queued", "finished"].contains(try night.scalar("SELECT state FROM nightshift.requests WHERE id = $1::bigint", [first]) ?? ""))
        XCTAssertEqual(try night.scalar("SELECT state || ' ' || decided_by || ': ' || state_reason FROM nightshift.requests WHERE id = $1::bigint", [second]),
                       "rejected \(me): one is enough")
        XCTAssertEqual(try night.scalar("SELECT state FROM nightshift.requests WHERE id = $1::bigint", [mine]), "awaiting_approval")
        // A batch rerun and a backfill from the console are requests of the person's, awaiting a second manager.
        try night.waitUntil("the night's batch run exists", timeout: 60) {
            try night.scalar("SELECT count(*) FROM nightshift.batch_runs WHERE business_date = '2026-11-22'") != "0"
        }
        let batchRun = try XCTUnwrap(night.scalar("SELECT min(id) FROM nightshift.batch_runs WHERE business_date = '2026-11-22'"))
        let rerun = try call("POST", "/actions/rerun-batch", cookie: cookie, form: "batch_run=\(batchRun)&reason=again&csrf=\(csrf)", tls: false)
        XCTAssertEqual(rerun.0, 200, rerun.2)
        XCTAssertTrue(rerun.2.contains("awaiting_approval: it waits for a second manager&#39;s approval"), rerun.2)
        let backfill = try call("POST", "/actions/backfill", cookie: cookie,
                                form: "batch=daily&from=2026-11-01&to=2026-11-03&reason=late+prices&csrf=\(csrf)", tls: false)
        XCTAssertEqual(backfill.0, 200, backfill.2)
        XCTAssertTrue(backfill.2.contains("A backfill of the daily batch for 2026-11-01 to 2026-11-03 (3 runs at P4) is request #"), backfill.2)
        let tooMany = try call("POST", "/actions/backfill", cookie: cookie, form: "batch=daily&from=2026-01-01&to=2026-11-03&reason=x&csrf=\(csrf)", tls: false)
        XCTAssertEqual(tooMany.0, 400)
        XCTAssertEqual(try night.scalar("""
            SELECT string_agg(coalesce(business_date::text, '-') || '..' || coalesce(business_date_to::text, '-') || ' P' || coalesce(priority::text, '-')
                              || ' ' || requested_by || ' ' || state, ', ' ORDER BY id)
            FROM nightshift.requests WHERE id > $1::bigint
            """, [mine]), "2026-11-22..- P- \(me) awaiting_approval, 2026-11-01..2026-11-03 P4 \(me) awaiting_approval")
        let audit = try night.query("""
            SELECT actor || ' ' || outcome || ' ' || command FROM nightshift.audit WHERE command LIKE 'console: %' AND command <> 'console: sign in' ORDER BY id
            """)
        XCTAssertEqual((0..<audit.rowCount).map { audit.string($0, 0) ?? "" },
                       ["\(me) approved console: approve request #\(first)", "\(me) rejected console: reject request #\(second)",
                        "\(me) refused console: approve request #\(mine)", "\(me) accepted console: rerun the daily batch for 2026-11-22",
                        "\(me) accepted console: backfill the daily batch for 2026-11-01 to 2026-11-03"])
        runner.kill(SIGTERM)
        XCTAssertEqual(runner.wait(timeout: 60), 0, runner.logText)
    }
}
