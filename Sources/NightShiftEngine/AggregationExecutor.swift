/// Runs a set-based SQL script in one transaction with the job's parameters set. The script is
/// expected to be idempotent for its business date (delete-and-rebuild or upsert). The row count
/// reported is that of the script's last statement.
struct AggregationExecutor: JobExecutor {
    let sqlFile: String

    func execute(_ context: JobContext) throws -> JobOutcome {
        let sql = try context.configuration.sql(sqlFile)
        let rows = try context.db.transaction {
            try context.db.setParameters(context.parameters)
            return try context.db.executeScript(sql).affectedRows
        }
        return JobOutcome(rows: rows)
    }
}
