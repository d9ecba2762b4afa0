import Foundation

/// The hidden names an attempt writes its export and report files under before the runner
/// publishes them (`.<name>.j<run>a<attempt>`, in the same directory): no attempt ever writes a
/// file another one writes, and what a failed attempt staged is found by its suffix.
enum StagedOutputs {
    /// The hidden name an attempt writes `path` under, in the same directory.
    static func name(_ path: String, attempt: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(attempt)").path
    }

    /// Removes what this attempt staged (it failed, so nothing of it is published).
    static func remove(of attempt: String, in directory: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix(".") && (name.hasSuffix(".\(attempt)") || name.hasSuffix(".\(attempt).partial")) {
            try? FileManager.default.removeItem(atPath: "\(directory)/\(name)")
        }
    }
}
