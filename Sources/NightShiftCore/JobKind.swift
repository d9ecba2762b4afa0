/// What a job does. Each kind has one executor in NightShiftEngine.
public enum JobKind: String, Sendable, CaseIterable, Codable {
    /// Set-based SQL that (re)builds a summary for the business date, idempotently.
    case aggregation
    /// Row-by-key processing in checkpointed chunks through a BATCH_TEMP_* staging table.
    case calculation
    /// A query streamed to CSV, zipped and OpenPGP-encrypted.
    case export
    /// A query read through a cursor into CSV, fixed-width and HTML files for people.
    case report
    /// Rows past their retention age moved, chunk by chunk, into verified encrypted archives.
    case archive

    /// Can stop at a checkpoint and resume with no rework (the decision model may pause it).
    public var pausesAtCheckpoints: Bool { self == .calculation }
    /// Writes to the exports volume.
    public var writesExports: Bool { self == .export || self == .report || self == .archive }
}
