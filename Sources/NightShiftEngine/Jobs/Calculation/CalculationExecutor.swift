import NightShiftCore
import PostgresClient

/// Processes the business date's records in key order, `chunk_size` at a time. Each chunk is one
/// transaction: stage the chunk into the job's BATCH_TEMP_* table, apply it, and upsert the
/// checkpoint (last key, rows done) — so a crash or failure loses at most the chunk in flight and
/// the next run resumes after the last committed key.
///
/// The staging table is a temporary table named `batch_temp_<job>`: it is dropped when the job
/// ends, however it ends (explicitly on success or failure; by PostgreSQL with the session if the
/// runner dies).
struct CalculationExecutor: JobExecutor {
    let spec: CalculationSpec

    static func stagingTable(for job: String) -> String { "batch_temp_\(job)" }

    /// The staging table and the key column as identifiers (validated when the configuration was;
    /// checked again here, so nothing else ever reaches the SQL text).
    static func identifiers(staging: String, key: String) throws -> (table: SQLIdentifier, key: SQLIdentifier) {
        guard let table = SQLIdentifier(staging), let column = SQLIdentifier(key) else {
            throw JobFailure(failureClass: .permanent, sqlState: nil,
                             message: "\(staging) or \(key) is not an SQL identifier. Fix: use lower-case letters, digits and underscores")
        }
        return (table, column)
    }

    func execute(_ context: JobContext) throws -> JobOutcome {
        let db = context.db
        let job = context.job.name
        let staging = CalculationExecutor.stagingTable(for: job) // job names are validated identifiers
        func load(_ file: String) throws -> String {
            try context.configuration.sql(file).replacingOccurrences(of: "{{staging}}", with: staging)
        }
        let createSQL = try load(spec.stagingSQL)
        let stageSQL = try load(spec.stageSQL)
        let applySQL = try load(spec.applySQL)
        // After the stage and apply scripts, in the chunk's transaction, one statement: what was
        // staged, the checkpoint moved past it, the lease fence, and the next chunk's start (a
        // session setting, transactional: a rollback restores it).
        let (stagingTable, key) = try CalculationExecutor.identifiers(staging: staging, key: spec.keyColumn)
        func advance(after lastKey: Int, rowsSoFar: Int) -> SQL {
            """
            WITH staged AS (SELECT count(*) AS n, max(\(key)) AS last_key FROM \(stagingTable)),
            moved AS (
                UPDATE nightshift.checkpoints c SET last_key = staged.last_key, rows_done = rows_done + staged.n,
                    chunks_done = chunks_done + 1, job_run_id = \(context.jobRunID), updated_at = clock_timestamp()
                FROM staged
                WHERE c.job = \(job) AND c.business_date = \(context.businessDate) AND staged.n > 0 AND staged.last_key > \(lastKey)::bigint
                RETURNING 1),
            lease AS (
                \(context.renewal(rows: "\(rowsSoFar)::bigint + staged.n", from: "staged")))
            SELECT staged.n, staged.last_key, (SELECT count(*) FROM moved) AS moved,
                   (SELECT count(*) FROM lease) AS leased, (SELECT pause_requested FROM lease) AS pause_requested,
                   set_config('nightshift.after_key', greatest(staged.last_key, \(lastKey)::bigint)::text, false) AS after_key
            FROM staged
            """
        }

        // Where to start: after the last committed key of this job run (a resumed attempt) or of
        // an unfinished earlier run of the same date. A checkpoint this job run completed means
        // the work is done and only the job's own state was not recorded.
        let me = String(context.jobRunID)
        let existing = try db.query("""
            SELECT last_key, rows_done, chunks_done, completed, job_run_id, run_base_rows, rejects FROM nightshift.checkpoints
            WHERE job = \(job) AND business_date = \(context.businessDate.description)
            """)
        var lastKey = 0, rowsDone = 0, chunksDone = 0, baseRows = 0, rejects = 0
        var note: String?
        if existing.rowCount == 1 {
            let checkpoint = existing.row(0, of: "nightshift.checkpoints", id: "job_run_id")
            let mine = try checkpoint.optionalText("job_run_id") == me
            let completed = try checkpoint.bool("completed")
            if mine || !completed {
                lastKey = try checkpoint.int("last_key")
                rowsDone = try checkpoint.int("rows_done")
                chunksDone = try checkpoint.int("chunks_done")
                rejects = try checkpoint.optionalInt("rejects") ?? 0
                baseRows = mine ? try checkpoint.int("run_base_rows") : rowsDone
                if mine && completed {
                    var outcome = JobOutcome(rows: rowsDone - baseRows, note: "completed by an earlier attempt")
                    outcome.rejects = rejects
                    return outcome
                }
                if lastKey > 0 {
                    note = "resumed after key \(lastKey) (\(rowsDone) rows already done)"
                    context.logger.info("resuming from checkpoint", metadata: ["job": "\(job)", "after_key": "\(lastKey)"])
                }
            }
        }
        try db.transaction {
            try db.query("""
                INSERT INTO nightshift.checkpoints (job, business_date, job_run_id, last_key, rows_done, chunks_done, completed, run_base_rows,
                                                    rejects)
                VALUES (\(job), \(context.businessDate.description), \(me), \(lastKey), \(rowsDone), \(chunksDone), false, \(baseRows), \(rejects))
                ON CONFLICT (job, business_date) DO UPDATE
                SET job_run_id = \(me), last_key = \(lastKey), rows_done = \(rowsDone), chunks_done = \(chunksDone), completed = false, run_base_rows = \(baseRows),
                    rejects = \(rejects), updated_at = clock_timestamp()
                """)
            try context.fence(rows: rowsDone - baseRows)
        }

        try db.query("DROP TABLE IF EXISTS pg_temp.\(stagingTable)")
        try db.executeScript(createSQL)
        defer { if db.isOpen && !db.inTransaction { _ = try? db.query("DROP TABLE IF EXISTS pg_temp.\(stagingTable)") } }

        // A data error in a chunk (22xxx, 23xxx) is isolated by bisection when the job has a keys
        // query: the chunk is retried at half the size until it succeeds (that part commits) or is
        // one record, which then goes to the review queue with its key, record and error; then the
        // full chunk size again. Without a keys query the job fails, naming the chunk.
        // The run-time parameters are session settings of this attempt's own connection, set once
        // (and again when the chunk size or the key moves outside a chunk), so a chunk is three round
        // trips: BEGIN + stage + apply as one script, the advance statement (with the fence), COMMIT.
        var size = spec.chunkSize
        func setSession() throws {
            try db.query("SELECT set_config('nightshift.business_date', \(context.businessDate.description), false), set_config('nightshift.time_zone', \(context.configuration.settings.timeZone.identifier), false), "
                           + "set_config('nightshift.after_key', \(lastKey), false), set_config('nightshift.chunk_size', \(size), false)")
        }
        try setSession()
        let chunkScript = "BEGIN;\n\(stageSQL)\n;\n\(applySQL)\n;"
        while true {
            try context.checkpoint()
            let chunkRows: Int
            do {
                chunkRows = try db.transaction(begin: chunkScript, script: true) {
                    let staged = try db.query(advance(after: lastKey, rowsSoFar: rowsDone - baseRows))
                    let count = staged.int(0, "n") ?? 0
                    guard count > 0 else { throw NothingStaged() }
                    guard let newKey = staged.int(0, "last_key"), newKey > lastKey, staged.int(0, "moved") == 1 else {
                        throw JobFailure(failureClass: .permanent, sqlState: nil,
                                         message: "the stage SQL returned keys that do not move past \(lastKey); it must select \(spec.keyColumn) > nightshift.after_key() ORDER BY \(spec.keyColumn)")
                    }
                    // The chunk, its checkpoint and the lease renewal commit together, or not at all.
                    try context.fenced(leased: staged.int(0, "leased") == 1, pauseRequested: staged.string(0, "pause_requested"))
                    lastKey = newKey
                    return count
                }
            } catch is NothingStaged {
                chunkRows = 0
            } catch let error as PostgresError where error.isDataError {
                guard let keysSQL = try spec.keysSQL.map(load) else {
                    throw JobFailure(failureClass: .badRecord, sqlState: error.sqlState,
                                     message: "a record after key \(lastKey) (in the next \(size)) has bad data: \(error.message); set calculation.keys to set bad records aside for review")
                }
                if size > 1 {
                    size = (size + 1) / 2
                    try setSession()
                    continue
                }
                // One record, and it fails: set it aside with why, and move past it.
                let key = try reject(after: lastKey, keysSQL: keysSQL, error: error, context: context, me: me)
                rejects += 1
                lastKey = key
                context.logger.warning("bad record set aside for review", metadata: ["job": "\(job)", "key": "\(key)",
                                                                                     "sqlstate": "\(error.sqlState ?? "")"])
                if rejects > spec.maxRejects {
                    throw JobFailure(failureClass: .permanent, sqlState: error.sqlState,
                                     message: "\(rejects) records set aside for review, more than max_rejects: \(spec.maxRejects); see `nightshift review list --job \(job)`")
                }
                size = spec.chunkSize
                try setSession()
                continue
            }
            if chunkRows == 0 { break }
            rowsDone += chunkRows
            chunksDone += 1
            context.control.setProgress(rows: rowsDone - baseRows)
        }
        // Every check passes before the job is done; a failing one names itself and its figures.
        for check in spec.checks {
            try context.checkpoint()
            let result = try db.transaction(begin: "BEGIN READ ONLY") { () -> QueryResult in
                try db.setParameters(context.parameters)
                return try db.executeScript(try load(check.sql))
            }
            guard let ok = result.columnIndex("ok").flatMap({ result.string(0, $0) }) else {
                throw JobFailure(failureClass: .permanent, sqlState: nil,
                                 message: "check `\(check.name)` (sql/\(check.sql)) returned no `ok` column; it must return one row with a boolean ok")
            }
            if ok != "t" {
                let figures = (0..<result.columnCount).filter { result.columnName($0) != "ok" }
                    .map { "\(result.columnName($0)) = \(result.string(0, $0) ?? "NULL")" }.joined(separator: ", ")
                throw JobFailure(failureClass: .permanent, sqlState: nil,
                                 message: "check `\(check.name)` failed: \(figures.isEmpty ? "ok is false" : figures) (sql/\(check.sql))")
            }
            context.logger.info("check passed", metadata: ["job": "\(job)", "check": "\(check.name)"])
        }
        try db.transaction {
            try db.query("UPDATE nightshift.checkpoints SET completed = true, updated_at = clock_timestamp() WHERE job = \(job) AND business_date = \(context.businessDate.description)")
            try context.fence(rows: rowsDone - baseRows)
        }
        var outcome = JobOutcome(rows: rowsDone - baseRows, note: note)
        outcome.rejects = rejects
        return outcome
    }

    /// The stage SQL found nothing after the last key: the chunk's transaction is rolled back.
    private struct NothingStaged: Error {}

    /// Sets the record after `lastKey` aside in the review queue (its key and the row as JSON from
    /// the keys query), and moves the checkpoint past it, in one transaction. Returns its key.
    private func reject(after lastKey: Int, keysSQL: String, error: PostgresError, context: JobContext, me: String) throws -> Int {
        let db = context.db
        return try db.transaction {
            try db.setParameters(context.parameters + [("after_key", String(lastKey)), ("chunk_size", "1")])
            let found = try db.executeScript(keysSQL)
            guard let key = found.int(0, "key") else {
                throw JobFailure(failureClass: .permanent, sqlState: error.sqlState,
                                 message: "a record after key \(lastKey) has bad data (\(error.message)), but the keys query finds no record there; it must select the same records as the stage query, as `key`")
            }
            guard key > lastKey else {
                throw JobFailure(failureClass: .permanent, sqlState: nil,
                                 message: "the keys query returned key \(key), not past \(lastKey); it must select \(spec.keyColumn) > nightshift.after_key() ORDER BY \(spec.keyColumn) AS key")
            }
            let record = found.columnIndex("record").flatMap { found.string(0, $0) }
            try db.query("""
                INSERT INTO nightshift.review_queue (job, job_run_id, business_date, record_key, record, sqlstate, message)
                VALUES (\(context.job.name), \(me), \(context.businessDate.description), \(key), \(record)::jsonb, \(error.sqlState), \(error.message))
                ON CONFLICT (job, business_date, record_key) DO UPDATE
                SET job_run_id = EXCLUDED.job_run_id, record = EXCLUDED.record, sqlstate = EXCLUDED.sqlstate,
                    message = EXCLUDED.message, rejected_at = clock_timestamp(), state = 'open', decided_by = NULL, decided_at = NULL
                """)
            try db.query("""
                UPDATE nightshift.checkpoints SET last_key = \(key), rejects = rejects + 1, job_run_id = \(me), updated_at = clock_timestamp()
                WHERE job = \(context.job.name) AND business_date = \(context.businessDate.description)
                """)
            try db.query("UPDATE nightshift.job_runs SET rejected_rows = rejected_rows + 1 WHERE id = \(me)")
            try context.fence(rows: nil)
            return key
        }
    }
}
