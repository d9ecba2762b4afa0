/// Names of the sheets of an Excel report output: the configured name, then `name 2`, `name 3`, …
/// for each sheet started before Excel's row limit. Excel's rules: 1 to 31 characters, none of
/// `[ ] : * ? / \`, not starting or ending with `'`, and not `History` (reserved).
public enum SheetName {
    public static let maxLength = 31
    /// Rows of data a sheet holds below its header row (Excel's limit is 1,048,576 rows in all).
    public static let maxDataRows = 1_048_575

    /// What is wrong with `name` as a sheet name, or nil.
    public static func problem(_ name: String) -> String? {
        if name.isEmpty { return "a sheet name cannot be empty" }
        if name.count > maxLength { return "\"\(name)\" has \(name.count) characters and Excel allows \(maxLength) in a sheet name" }
        if let bad = name.first(where: { "[]:*?/\\".contains($0) }) { return "\"\(name)\" holds `\(bad)`, which Excel does not allow in a sheet name" }
        if name.hasPrefix("'") || name.hasSuffix("'") { return "a sheet name cannot start or end with an apostrophe" }
        if name.lowercased() == "history" { return "Excel reserves the sheet name History" }
        return nil
    }

    /// The name of sheet `number` (from 1): `base`, then `base 2`, … shortened to fit 31 characters.
    public static func numbered(_ base: String, _ number: Int) -> String {
        guard number > 1 else { return base }
        let suffix = " \(number)"
        var head = String(base.prefix(maxLength - suffix.count))
        while head.hasSuffix("'") || head.hasSuffix(" ") { head.removeLast() }
        return head + suffix
    }

    /// A sheet name made from a job name: its first 31 characters without the forbidden ones.
    public static func from(_ text: String) -> String {
        var name = String(text.filter { !"[]:*?/\\'".contains($0) }.prefix(maxLength))
        if name.isEmpty || problem(name) != nil { name = "Report" }
        return name
    }
}
