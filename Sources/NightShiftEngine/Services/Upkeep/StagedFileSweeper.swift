import Foundation
import NightShiftCore
import PostgresClient

/// Staged files are named `.<final name>.j<job run>a<attempt>[.partial|.scratch]` (`.scratch`: a
/// workbook libxlsxwriter is building, in plaintext even for customer data): one whose attempt is
/// not running under a live lease any more is left over from a crash and removed. Exports and
/// reports (a folder per report job) are swept alike.
final class StagedFileSweeper: UpkeepConcern {
    let name = "staged file sweep"
    private let context: RunnerContext

    init(context: RunnerContext) { self.context = context }

    func runOnce(db: PostgresConnection, now: Date) throws {
        let settings = context.configuration.settings
        let reportFolders = ((try? FileManager.default.contentsOfDirectory(atPath: settings.reportsDirectory)) ?? [])
            .map { "\(settings.reportsDirectory)/\($0)" }
        var staged: [(name: String, jobRun: Int, attempt: Int)] = []
        for directory in [settings.exportsDirectory] + reportFolders {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { continue }
            for name in names where name.hasPrefix(".") {
                guard let match = name.firstMatch(of: /\.j(\d+)a(\d+)(\.partial|\.scratch)?$/), let run = Int(match.1), let attempt = Int(match.2) else { continue }
                staged.append(("\(directory)/\(name)", run, attempt))
            }
        }
        guard !staged.isEmpty else { return }
        let live = try db.query("""
            SELECT id, attempts FROM nightshift.job_runs
            WHERE id = ANY (\(Set(staged.map(\.jobRun)).sorted())::bigint[]) AND state = \(JobState.running)
              AND lease_expires_at > clock_timestamp()
            """)
        var running: [Int: Int] = [:]
        for (id, attempts) in try live.decode(of: "nightshift.job_runs", { (try $0.int("id"), try $0.int("attempts")) }) { running[id] = attempts }
        for file in staged where running[file.jobRun] != file.attempt {
            try? FileManager.default.removeItem(atPath: file.name)
            context.logger.info("swept a staged file of an attempt that no longer runs", metadata: ["file": "\(file.name)"])
        }
    }
}
