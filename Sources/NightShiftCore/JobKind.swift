/// What a job does. Each kind has one executor in NightShiftEngine.
public enum JobKind: String, Sendable, CaseIterable, Codable {
    /// Set-based SQL that (re)builds a summary for the business date, idempotently.
    case aggregation
    /// Row-by-key processing in checkpointed chunks through a BATCH_TEMP_* staging table.
    case calculation
    /// A query streamed to CSV, zipped and OpenPGP-encrypted.
    case export
    /// Not yet executable; reserved so configuration can name them.
    case report, archive
}
