import Foundation
import NightShiftCore

/// What the machine says before a start: the 1-minute load average per core (/proc/loadavg) and
/// the free share of the volume holding the exports. A reading that cannot be taken is nil (not
/// a reason to hold work back).
enum MachineReadings {
    static func read(exportsDirectory: String) -> ResourceReading {
        var load: Double?
        if let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8),
           let first = text.split(separator: " ").first, let value = Double(first) {
            load = value / Double(max(1, ProcessInfo.processInfo.activeProcessorCount))
        }
        var free: Double?
        if let attributes = try? FileManager.default.attributesOfFileSystem(forPath: exportsDirectory),
           let size = (attributes[.systemSize] as? NSNumber)?.doubleValue, size > 0,
           let available = (attributes[.systemFreeSize] as? NSNumber)?.doubleValue {
            free = available / size
        }
        return ResourceReading(loadPerCore: load, exportsFreeFraction: free)
    }
}
