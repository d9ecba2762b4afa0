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
        // The exports directory may not exist before the first export: its volume is that of the
        // nearest directory above it that does.
        var path = exportsDirectory
        while !FileManager.default.fileExists(atPath: path), path != "/", !path.isEmpty {
            path = (path as NSString).deletingLastPathComponent
        }
        if let attributes = try? FileManager.default.attributesOfFileSystem(forPath: path),
           let size = (attributes[.systemSize] as? NSNumber)?.doubleValue, size > 0,
           let available = (attributes[.systemFreeSize] as? NSNumber)?.doubleValue {
            free = available / size
        }
        return ResourceReading(loadPerCore: load, exportsFreeFraction: free)
    }
}
