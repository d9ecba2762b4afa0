import Foundation
import PostgresClient
import TestSupport
import XCTest

/// `nightshift submit`, `requests`, `approve`, `reject` and `cancel` as people use them: run as
/// real operating-system accounts (`runuser`, so these tests need root) that log in to a real
/// server as their own database roles through peer authentication on its Unix socket (scripts/pg
/// writes that pg_hba.conf), with the audit read back from the database. And what an attacker with
/// a person's login would try: the old functions, naming someone else, SET ROLE, writing tables.
final class RequestCommandTests: CommandLineTestCase {
    var database: TestDatabase!
    let me = currentAccount()

    override func setUpWithError() throws {
        try super.setUpWithError()
        try XCTSkipUnless(getuid() == 0, "these tests run the CLI as other accounts with runuser, which needs root")
        database = try TestDatabase()
        // daemon is a manager, nobody an operator; the account running the tests a director; bin is not listed.
        try project.operators([me: "director", "daemon": "manager", "nobody": "operator"])
        for account in [me, "daemon", "nobody", "bin"] { try TestDatabase.person(account) }
        try migrate()
    }

    /// The runner's login copies etc/operators.yaml and `environment:` into the database.
    func migrate() throws {
        let migrate = try nightshift(["migrate"], environment: ["DATABASE_URL": database.url])
        XCTAssertEqual(migrate.status, 0, migrate.stderr)
    }

    /// psql as `account`, over the server's socket: the database role peer authentication gives it.
    func psql(_ sql: String, as account: String) throws -> ProcessOutput {
        try runProcess(["runuser", "-u", account, "--", "psql", database.url.replacingOccurrences(of: "postgres@", with: ""),
                        "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
    }

    override func tearDown() {
        database?.drop()
        super.tearDown()
    }

    /// Runs the CLI as `account` (nil: the account running the tests).
    func cli(_ arguments: [String], as account: String? = nil, environment: [String: String] = [:]) throws -> ProcessOutput {
        let command = [try nightshiftBinary()] + arguments + ["--root", project.root]
        let env = ["DATABASE_URL": database.url].merging(environment) { $1 }
        guard let account else { return try runProcess(command, environment: env) }
        return try runProcess(["runuser", "-u", account, "--"] + command, environment: env)
    }

    func query(_ sql: String, _ parameters: [String?] = []) throws -> QueryResult {
        let db = try database.connect()
        defer { db.close() }
        return try db.execute(sql, parameters)
    }

    func audit() throws -> [(actor: String, outcome: String, detail: String)] {
        let rows = try query("SELECT actor, outcome, coalesce(detail, '') AS detail FROM nightshift.audit ORDER BY id")
        return (0..<rows.rowCount).map { (rows.string($0, "actor")!, rows.string($0, "outcome")!, rows.string($0, "detail")!) }
    }

    func testWhoAsksIsTheOperatingSystemAccountNeverAFlagOrTheEnvironment() throws {
        // The environment says daemon; the process is the test account.
        let spoofed = try cli(["submit", "daily", "--reason", "env says daemon"],
                              environment: ["USER": "daemon", "LOGNAME": "daemon", "SUDO_USER": "daemon"])
        XCTAssertEqual(spoofed.status, 0, spoofed.stderr)
        XCTAssertEqual(try query("SELECT requested_by FROM nightshift.requests").string(0, 0), me)
        // There is no flag for it.
        for flag in ["--by", "--as", "--user"] {
            let flagged = try cli(["submit", "daily", "--reason", "x", flag, "daemon"])
            XCTAssertNotEqual(flagged.status, 0, flag)
        }
        XCTAssertEqual(try query("SELECT count(*) FROM nightshift.requests").int(0, 0), 1)
        // nobody, with an environment naming the manager daemon, is still an operator: refused.
        let operatorTry = try cli(["submit", "daily", "--reason", "x"], as: "nobody", environment: ["USER": "daemon", "SUDO_USER": "daemon"])
        XCTAssertEqual(operatorTry.status, 1)
        XCTAssertEqual(operatorTry.stderr, "refused: nobody is an operator; to submit a request needs a manager or above (etc/operators.yaml)\n")
        // A configured URL naming another role changes nothing: the process logs in as itself.
        let named = try cli(["submit", "daily", "--reason", "x"], as: "nobody",
                            environment: ["DATABASE_URL": database.url.replacingOccurrences(of: "postgres@", with: "daemon@")])
        XCTAssertEqual(named.status, 1)
        XCTAssertTrue(named.stderr.contains("nobody is an operator"), named.stderr)
        // An account not listed is refused.
        let stranger = try cli(["submit", "daily", "--reason", "x"], as: "bin")
        XCTAssertEqual(stranger.status, 1)
        XCTAssertTrue(stranger.stderr.hasPrefix("refused: bin is not in etc/operators.yaml"), stranger.stderr)
        let outcomes = try audit()
        XCTAssertEqual(outcomes.map(\.actor), [me, "nobody", "nobody", "bin"])
        XCTAssertEqual(outcomes.map(\.outcome), ["accepted", "refused", "refused", "refused"])
    }

    func testUnderSudoTheDatabaseDecidesWhoAsksAndTheLoginIsRecorded() throws {
        // pam_loginuid sets the login uid at login and sudo keeps it: daemon logged in, then became
        // nobody. The database authenticates nobody (the process's account): an operator, refused;
        // the audit keeps where it came from. Writing /proc/self/loginuid needs CAP_AUDIT_CONTROL.
        let daemonUID = try XCTUnwrap(Int(runProcess(["id", "-u", "daemon"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let probe = try runProcess(["sh", "-c", "echo \(daemonUID) > /proc/self/loginuid && cat /proc/self/loginuid"])
        try XCTSkipUnless(probe.status == 0 && probe.stdout.hasPrefix("\(daemonUID)"), "cannot set a login uid here: \(probe.stderr)")
        let command = [try nightshiftBinary(), "submit", "daily", "--reason", "as nobody", "--root", project.root]
        let output = try runProcess(["sh", "-c", "echo \(daemonUID) > /proc/self/loginuid && exec runuser -u nobody -- \"$@\"", "sh"] + command,
                                    environment: ["DATABASE_URL": database.url])
        XCTAssertEqual(output.status, 1, output.stderr)
        XCTAssertTrue(output.stderr.contains("nobody is an operator"), output.stderr)
        XCTAssertEqual(try query("SELECT count(*) FROM nightshift.requests").int(0, 0), 0)
        let row = try query("SELECT actor, host FROM nightshift.audit")
        XCTAssertEqual(row.string(0, "actor"), "nobody")
        XCTAssertTrue(row.string(0, "host")?.hasPrefix("daemon (as nobody)@") == true, row.string(0, "host") ?? "")
    }

    func testTheFourthRequestOfADayIsRefusedEvenWhenSixArriveAtOnce() throws {
        for n in 1...3 {
            let ok = try cli(["submit", "daily", "--reason", "request \(n)"], as: "daemon")
            XCTAssertEqual(ok.status, 0, ok.stderr)
        }
        let fourth = try cli(["submit", "daily", "--reason", "request 4"], as: "daemon")
        XCTAssertEqual(fourth.status, 1)
        XCTAssertEqual(fourth.stderr.split(separator: "\n").count, 1, "one line: \(fourth.stderr)")
        XCTAssertTrue(fourth.stderr.hasPrefix("refused: daemon has made 3 request(s) today"), fourth.stderr)
        // The test account's quota: six at once, three get through.
        let results = try (0..<6).map { n in
            try RunnerProcess(arguments: [try nightshiftBinary(), "submit", "daily", "--reason", "burst \(n)", "--root", project.root],
                              environment: ["DATABASE_URL": database.url], log: "\(project.root)/burst\(n).log")
        }.map { $0.wait(timeout: 60) }
        XCTAssertEqual(results.filter { $0 == 0 }.count, 3, "\(results)")
        XCTAssertEqual(results.filter { $0 == 1 }.count, 3, "\(results)")
        XCTAssertEqual(try query("SELECT requested_by, count(*)::int FROM nightshift.requests GROUP BY 1 ORDER BY 1").rowCount, 2)
        XCTAssertEqual(try query("SELECT count(*) FROM nightshift.requests WHERE requested_by = $1", [me]).int(0, 0), 3)
        XCTAssertEqual(try query("SELECT count(*) FROM nightshift.audit WHERE outcome = 'refused' AND detail LIKE '%the most allowed in a day%'").int(0, 0), 4)
    }

    func testInProductionASecondManagerApprovesAndNobodyApprovesTheirOwn() throws {
        let settings = try project.read("etc/nightshift.yaml")
        try project.write("etc/nightshift.yaml", settings.replacingOccurrences(of: "environment: development", with: "environment: production"))
        try migrate()
        let submitted = try cli(["submit", "delivery_charges", "--date", "2026-11-22", "--priority", "P2", "--reason", "price fix"], as: "daemon")
        XCTAssertEqual(submitted.status, 0, submitted.stderr)
        XCTAssertTrue(submitted.stdout.contains("runs after a second manager approves it (`nightshift approve 1`)"), submitted.stdout)
        XCTAssertEqual(try query("SELECT state FROM nightshift.requests WHERE id = 1").string(0, 0), "awaiting_approval")

        let own = try cli(["approve", "1"], as: "daemon")
        XCTAssertEqual(own.status, 1)
        XCTAssertEqual(own.stderr, "refused: request #1 is daemon's own: a second manager must approve it\n")
        let byOperator = try cli(["approve", "1"], as: "nobody")
        XCTAssertEqual(byOperator.status, 1)
        XCTAssertTrue(byOperator.stderr.contains("nobody is an operator"), byOperator.stderr)
        let listed = try cli(["requests"], as: "nobody")
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.contains("#1 [awaiting_approval] job delivery_charges (daily) for 2026-11-22 at P2 by daemon"), listed.stdout)
        XCTAssertTrue(listed.stdout.contains("awaiting a second manager's approval"), listed.stdout)

        let approved = try cli(["approve", "1", "--reason", "checked the price table"])
        XCTAssertEqual(approved.status, 0, approved.stderr)
        let row = try query("SELECT state, approved_by FROM nightshift.requests WHERE id = 1")
        XCTAssertEqual(row.string(0, "state"), "accepted")
        XCTAssertEqual(row.string(0, "approved_by"), me)
        let again = try cli(["reject", "1", "--reason", "too late"])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("request #1 is accepted, not awaiting approval"), again.stderr)

        // A second request, rejected by the director; the requester cannot cancel it any more.
        XCTAssertEqual(try cli(["submit", "daily", "--reason", "again"], as: "daemon").status, 0)
        XCTAssertEqual(try cli(["reject", "2", "--reason", "not needed"]).status, 0)
        let cancelRejected = try cli(["cancel", "2"], as: "daemon")
        XCTAssertEqual(cancelRejected.status, 1)
        XCTAssertTrue(cancelRejected.stderr.contains("request #2 is rejected already"), cancelRejected.stderr)

        XCTAssertEqual(try audit().map(\.outcome), ["accepted", "refused", "refused", "approved", "refused", "accepted", "rejected", "refused"])
    }

    func testOnlyTheRequesterOrADirectorCancels() throws {
        XCTAssertEqual(try cli(["submit", "daily", "--reason", "mine"]).status, 0)
        let byOther = try cli(["cancel", "1"], as: "daemon")
        XCTAssertEqual(byOther.status, 1)
        XCTAssertTrue(byOther.stderr.contains("request #1 is \(me)'s: only they or a director may cancel it"), byOther.stderr)
        XCTAssertEqual(try cli(["submit", "daily", "--reason", "daemon's"], as: "daemon").status, 0)
        let byDirector = try cli(["cancel", "2", "--reason", "duplicate"])
        XCTAssertEqual(byDirector.status, 0, byDirector.stderr)
        XCTAssertEqual(try query("SELECT state || ' by ' || decided_by FROM nightshift.requests WHERE id = 2").string(0, 0), "cancelled by \(me)")
    }

    func testEveryActionGoesThroughTheDatabasesGate() throws {
        let once = try cli(["run", "--once", "--at", "2026-11-23T02:00:00+08:00"], as: "nobody")
        XCTAssertEqual(once.status, 1)
        XCTAssertEqual(once.stderr.split(separator: "\n").last,
                       "refused: nobody is an operator; to run a batch by hand (run --once) needs a manager or above (etc/operators.yaml)")
        let override = try cli(["override", "--date", "2026-11-22", "--job", "daily_delivery_export", "--skip", "--reason", "x"], as: "nobody")
        XCTAssertEqual(override.status, 1)
        XCTAssertTrue(override.stderr.contains("refused: nobody is an operator; to record an override needs a manager"), override.stderr)
        for (arguments, words) in [(["review", "dismiss", "1", "--reason", "x"], "to retry or dismiss a review item needs a manager"),
                                   (["mail", "retry", "1"], "to send a dead letter again needs a manager"),
                                   (["archive", "restore", "1"], "to restore an archive needs a director")] {
            let refused = try cli(arguments, as: "nobody")
            XCTAssertEqual(refused.status, 1, arguments.joined(separator: " "))
            XCTAssertTrue(refused.stderr.contains(words), refused.stderr)
        }
        // A manager may not restore an archive ("special permission": a director).
        let restore = try cli(["archive", "restore", "1"], as: "daemon")
        XCTAssertEqual(restore.status, 1)
        XCTAssertTrue(restore.stderr.contains("daemon is a manager; to restore an archive needs a director"), restore.stderr)
        XCTAssertEqual(try query("SELECT count(*) FROM nightshift.batch_runs").int(0, 0), 0)
        XCTAssertEqual(try query("SELECT count(*) FROM nightshift.manual_overrides").int(0, 0), 0)
        XCTAssertEqual(try audit().map { "\($0.actor) \($0.outcome)" },
                       ["nobody refused", "nobody refused", "nobody refused", "nobody refused", "nobody refused", "daemon refused"])

        // In production a person starts no work by hand: a request a second manager approves does.
        let settings = try project.read("etc/nightshift.yaml")
        try project.write("etc/nightshift.yaml", settings.replacingOccurrences(of: "environment: development", with: "environment: production"))
        try migrate()
        let production = try cli(["run", "--once", "--at", "2026-11-23T02:00:00+08:00"])
        XCTAssertEqual(production.status, 1)
        XCTAssertTrue(production.stderr.contains("production: a person starts work only through a request a second manager approves"),
                      production.stderr)
        XCTAssertEqual(try query("SELECT count(*) FROM nightshift.batch_runs").int(0, 0), 0)
    }

    func testTheAuditTableRefusesUpdateDeleteAndTruncateInTheDatabase() throws {
        XCTAssertEqual(try cli(["submit", "daily", "--reason", "x"]).status, 0)
        let db = try database.connect() // the superuser that owns everything
        defer { db.close() }
        for statement in ["UPDATE nightshift.audit SET outcome = 'refused'", "DELETE FROM nightshift.audit",
                          "TRUNCATE nightshift.audit"] {
            XCTAssertThrowsError(try db.execute(statement), statement) { error in
                XCTAssertEqual((error as? PostgresError)?.sqlState, "42501", "\(error)")
                XCTAssertTrue("\(error)".contains("nightshift.audit is append-only"), "\(error)")
            }
        }
        XCTAssertEqual(try query("SELECT count(*) FROM nightshift.audit").int(0, 0), 1)
    }

    func testARequesterLoginMayOnlyCallTheRequestFunctionsAsItself() throws {
        let submitted = try cli(["submit", "daily", "--reason", "from daemon's own login"], as: "daemon")
        XCTAssertEqual(submitted.status, 0, submitted.stderr)
        let row = try query("SELECT requested_by, db_user FROM nightshift.requests")
        XCTAssertEqual(row.string(0, "requested_by"), "daemon")
        XCTAssertEqual(row.string(0, "db_user"), "daemon")
        XCTAssertEqual(try cli(["requests"], as: "daemon").status, 0)
        for statement in ["INSERT INTO nightshift.requests (source, target, batch, reason, requested_by, host, quota_day, state) "
                            + "VALUES ('cli', 'batch', 'daily', 'x', 'carol', 'h', current_date, 'accepted')",
                          "UPDATE nightshift.requests SET state = 'accepted'",
                          "INSERT INTO nightshift.audit (actor, host, command, outcome) VALUES ('x', 'h', 'c', 'accepted')",
                          "UPDATE nightshift.job_runs SET state = 'succeeded'",
                          "DELETE FROM nightshift.batch_runs",
                          "INSERT INTO nightshift.operators VALUES ('daemon', 'director')",
                          "UPDATE nightshift.operators SET role = 'director'",
                          "UPDATE nightshift.request_policy SET needs_approval = false, quota_per_day = 1000"] {
            let attempt = try psql(statement, as: "daemon")
            XCTAssertNotEqual(attempt.status, 0, statement)
            XCTAssertTrue(attempt.stderr.contains("permission denied"), "\(statement): \(attempt.stderr)")
        }
    }

    /// The attack of the issue: a requester login calling the functions with a forged actor, role,
    /// approval flag and quota, or another's name to cancel; and what comes next.
    func testNobodyCanActAsSomeoneElseThroughTheDatabase() throws {
        // The old signatures are gone.
        let forged = try psql("""
            select * from nightshift.submit_request('api','batch','daily',NULL,'2026-11-22',1::smallint,'forged','director-chen','evil','submit',false,1000,'Asia/Taipei')
            """, as: "daemon")
        XCTAssertNotEqual(forged.status, 0)
        XCTAssertTrue(forged.stderr.contains("does not exist"), forged.stderr)
        let oldCancel = try psql("select * from nightshift.decide_request(1, 'cancel', 'someone-else', true, 'h', 'c', 'x')", as: "daemon")
        XCTAssertNotEqual(oldCancel.status, 0)
        XCTAssertTrue(oldCancel.stderr.contains("does not exist"), oldCancel.stderr)
        // Only the runner makes api and event requests.
        let system = try psql("""
            select * from nightshift.submit_system_request('api','api:erp',NULL,NULL,'batch','daily',NULL,NULL,1::smallint,'x','h','c',NULL)
            """, as: "daemon")
        XCTAssertNotEqual(system.status, 0)
        XCTAssertTrue(system.stderr.contains("permission denied for function submit_system_request"), system.stderr)
        // The new function takes no actor: the session is the actor, whatever is passed as host or command.
        let direct = try psql("select state || coalesce(refusal, '') from nightshift.submit_request('batch','daily',NULL,NULL,1::smallint,'direct','director-chen','submit --as carol')",
                              as: "daemon")
        XCTAssertEqual(direct.status, 0, direct.stderr)
        XCTAssertEqual(try query("SELECT requested_by || ' ' || state FROM nightshift.requests").string(0, 0), "daemon accepted")
        // A manager cannot cancel the director's request by claiming to be a director.
        XCTAssertEqual(try cli(["submit", "daily", "--reason", "the director's"]).status, 0)
        let cancel = try psql("select coalesce(refusal, state) from nightshift.decide_request(2, 'cancel', 'I am a director', 'h', 'c')", as: "daemon")
        XCTAssertEqual(cancel.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                       "request #2 is \(me)'s: only they or a director may cancel it")
        // Neither SET ROLE nor SET SESSION AUTHORIZATION makes daemon someone else.
        for statement in ["SET ROLE \(me)", "SET SESSION AUTHORIZATION \(me)", "SET ROLE postgres"] {
            let attempt = try psql(statement, as: "daemon")
            XCTAssertNotEqual(attempt.status, 0, statement)
            XCTAssertTrue(attempt.stderr.contains("permission denied"), "\(statement): \(attempt.stderr)")
        }
        // nobody cannot log in as daemon on the socket, nor without a password over TCP.
        let peer = try runProcess(["runuser", "-u", "nobody", "--", "psql", database.url.replacingOccurrences(of: "postgres@", with: "daemon@"),
                                   "-X", "-c", "select 1"])
        XCTAssertNotEqual(peer.status, 0)
        XCTAssertTrue(peer.stderr.contains("Peer authentication failed for user \"daemon\""), peer.stderr)
        XCTAssertEqual(try query("SELECT count(*) FROM nightshift.requests").int(0, 0), 2)
    }

    /// The read-only role: enough to look (status, history, requests, the archive catalog, the
    /// outbox), never to write.
    func testAViewerLoginLooksAndWritesNothing() throws {
        XCTAssertEqual(try cli(["submit", "daily", "--reason", "something to look at"]).status, 0)
        let admin = try database.connect()
        defer { admin.close() }
        try admin.execute("GRANT nightshift_viewer TO bin")
        defer { _ = try? admin.execute("REVOKE nightshift_viewer FROM bin") }
        try project.operators([me: "director", "daemon": "manager", "nobody": "operator", "bin": "operator"])
        try migrate()
        let own = database.url.replacingOccurrences(of: "postgres@", with: "")
        for arguments in [["status"], ["history"], ["requests"], ["archive", "list"], ["mail", "list"]] {
            let looked = try cli(arguments + ["--database-url", own], as: "bin")
            XCTAssertEqual(looked.status, 0, "\(arguments): \(looked.stderr)")
        }
        XCTAssertEqual(try psql("SELECT count(*) FROM nightshift.requests", as: "bin").stdout.trimmingCharacters(in: .whitespacesAndNewlines), "1")
        for statement in ["UPDATE nightshift.requests SET state = 'cancelled'", "DELETE FROM nightshift.mail_outbox",
                          "INSERT INTO nightshift.archive_catalog (job) VALUES ('x')", "UPDATE nightshift.operators SET role = 'director'"] {
            let attempt = try psql(statement, as: "bin")
            XCTAssertNotEqual(attempt.status, 0, statement)
            XCTAssertTrue(attempt.stderr.contains("permission denied"), "\(statement): \(attempt.stderr)")
        }
        XCTAssertEqual(try query("SELECT state FROM nightshift.requests").string(0, 0), "accepted")
    }
}
