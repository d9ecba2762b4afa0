import Foundation
import PostgresClient

/// Samples the metrics' gauges from the database (`RunnerMetrics.sample`), every 5 s at most.
final class GaugeSampler: UpkeepConcern {
    let name = "metrics gauges"
    private var lastSample = Date.distantPast

    func runOnce(db: PostgresConnection, now: Date) throws {
        guard Date().timeIntervalSince(lastSample) >= 5 else { return }
        try RunnerMetrics.sample(db: db)
        lastSample = Date()
    }
}
