/// How long published files are kept, counted back from today by the business date they are for
/// (`retention.outputs` in etc/nightshift.yaml, `retention: {outputs: …}` in a job file): past it the
/// leader's maintenance removes the file and records the removal on the output's row and in the
/// audit. An export (with its manifest and signature) is a regulatory record: kept at least 7 years.
/// A report is kept 1 year unless said otherwise. An archive job's archives are the only copy of the
/// rows they moved and are kept for ever unless said otherwise (`never` is for ever).
public struct OutputRetention: Sendable, Equatable {
    /// What a published file is, for its retention.
    public enum Kind: String, Sendable, CaseIterable {
        case export, report, archive
    }

    /// How long: for a time (`7 years`), or for ever (`never` removed).
    public enum Keep: Sendable, Equatable, CustomStringConvertible {
        case forEver
        case age(RetentionAge)

        /// "7 years", "90 days", or "never"; nil otherwise.
        public init?(text: String) {
            if text.lowercased() == "never" { self = .forEver } else if let age = RetentionAge(text: text) { self = .age(age) } else { return nil }
        }

        public var description: String {
            switch self {
            case .forEver: "never"
            case let .age(age): "\(age)"
            }
        }
    }

    /// Regulatory records (exports) are kept at least this long.
    public static let regulatoryMinimum = RetentionAge(count: 7, unit: .years)
    public static let defaults: [Kind: Keep] = [.export: .age(regulatoryMinimum), .report: .age(RetentionAge(count: 1, unit: .years)),
                                                .archive: .forEver]

    public var byKind: [Kind: Keep]
    /// By job name, over its kind's.
    public var byJob: [String: Keep]

    public init(byKind: [Kind: Keep] = [:], byJob: [String: Keep] = [:]) {
        self.byKind = OutputRetention.defaults.merging(byKind) { _, configured in configured }
        self.byJob = byJob
    }

    /// How long the outputs of `job` (of `kind`) are kept.
    public func keep(job: String?, kind: Kind) -> Keep {
        if let job, let own = byJob[job] { return own }
        return byKind[kind] ?? .forEver
    }

    /// The first business date whose files are kept today: older ones are due; nil: none is due.
    public func cutoff(job: String?, kind: Kind, today: LocalDate) -> LocalDate? {
        guard case let .age(age) = keep(job: job, kind: kind) else { return nil }
        return age.cutoff(before: today)
    }

    /// What is wrong with keeping files of `kind` that long, or nil.
    public static func problem(_ keep: Keep, kind: Kind) -> String? {
        guard kind == .export, case let .age(age) = keep, !age.isAtLeast(regulatoryMinimum) else { return nil }
        return "exports are regulatory records and are kept at least \(regulatoryMinimum), not \(age)"
    }
}

extension RetentionAge {
    /// True when this age is never shorter than `other`, whatever the date (a month counted as its
    /// average 30.44 days when days are compared with months).
    public func isAtLeast(_ other: RetentionAge) -> Bool {
        func months(_ age: RetentionAge) -> Double? {
            switch age.unit {
            case .months: Double(age.count)
            case .years: Double(age.count * 12)
            case .days, .weeks: nil
            }
        }
        func days(_ age: RetentionAge) -> Double {
            switch age.unit {
            case .days: Double(age.count)
            case .weeks: Double(age.count * 7)
            case .months: Double(age.count) * 30.436875
            case .years: Double(age.count) * 365.2425
            }
        }
        if let mine = months(self), let theirs = months(other) { return mine >= theirs }
        return days(self) >= days(other)
    }
}
