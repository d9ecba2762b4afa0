/// A file a job or batch produced, as recorded in `nightshift.outputs`.
public struct JobOutput: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case export, manifest, signature, report, archive, summaryMail = "summary_mail" }
    public let kind: Kind
    public let path: String
    public let sha256: String
    public let bytes: Int
    public let rows: Int?
}

/// What a successful attempt reports.
public struct JobOutcome: Sendable {
    public var rows: Int
    public var outputs: [JobOutput] = []
    /// A remark for the summary, e.g. "resumed after key 1234".
    public var note: String?
    /// Bad records set aside for review in this run: the job ends `succeeded_with_rejects`.
    public var rejects = 0
    /// Complete, fsynced files to move into place when the job is recorded as succeeded, in this
    /// order (the runner does it while it provably holds the job's lease).
    public var publish: [Publication] = []
    /// Files to remove once the new ones are published (parts of an earlier, longer run of the
    /// same output that the new manifest no longer lists).
    public var retire: [String] = []
}

/// A staged file and the name it is published under.
public struct Publication: Sendable, Equatable {
    public let staged: String
    public let final: String
}
