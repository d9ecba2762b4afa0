/// Runs a set-based SQL script in one transaction with the job's parameters set. The script is
/// expected to be idempotent for its business date (delete-and-rebuild or upsert). The row count
/// reported is that of the script's last statement. The commit is fenced by the job's lease.
struct AggregationExecutor: JobExecutor {
    let sqlFile: String

    func execute(_ context: JobContext) throws -> JobOutcome {
        let sql = try context.configuration.sql(sqlFile)
        try context.checkpoint()
        let rows = try context.db.transaction {
            try context.db.setParameters(context.parameters)
            let rows = try context.db.executeScript(sql).affectedRows
            try context.fence(rows: rows)
            return rows
        }
        return JobOutcome(rows: rows)
    }
}
