import Foundation
import NightShiftConfig
import NightShiftCore
import NightShiftMail
import Packaging

/// A batch run's summary: the mail of that one batch (`NightMail`), kept as an `.eml` in
/// `paths.outbox` (the batch's summary output, for a person to open). The message is sent too when
/// `mail.batches.<batch>.own_mail` asks for it; the night's mail covers the batch either way.
struct SummaryMail {
    let configuration: Configuration

    /// - Returns: the output, and the message to queue (nil: the batch gets no mail of its own).
    func write(_ report: BatchReport) throws -> (output: JobOutput, message: MailMessage?) {
        let settings = configuration.settings
        let message = try NightMail(configuration: configuration).message([report], night: nil, now: report.finishedAt ?? report.startedAt)
        let name = "\(report.batch.rawValue)-\(report.businessDate)-run\(report.batchRunID)"
        let stored = try Outbox(directory: settings.outboxDirectory).store(message, name: name)
        let hasher = SHA256()
        stored.data.withUnsafeBytes { hasher.update($0) }
        let output = JobOutput(kind: .summaryMail, path: stored.path, sha256: try hasher.finalize(), bytes: stored.data.count, rows: nil)
        return (output, settings.mail.batches[report.batch]?.ownMail == true ? message : nil)
    }
}

func formatDuration(_ seconds: Double) -> String {
    if seconds < 60 { return String(format: "%.2f s", seconds) }
    let whole = Int(seconds.rounded())
    if whole < 3600 { return String(format: "%d min %02d s", whole / 60, whole % 60) }
    return String(format: "%d h %02d min", whole / 3600, (whole % 3600) / 60)
}

/// 1234567 → "1,234,567".
public func formatCount(_ n: Int) -> String {
    let digits = String(n)
    var out = ""
    for (i, c) in digits.reversed().enumerated() {
        if i > 0 && i % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return String(out.reversed())
}
