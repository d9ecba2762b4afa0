import Foundation
import NightShiftCore

/// Reads `etc/operators.yaml`: who may ask for work (role by operating-system account), the daily
/// quota and how long a request may wait for approval. A missing file means nobody may ask (a
/// warning, not an error: the runner runs its schedules without it).
enum OperatorsFile {
    static let file = "etc/operators.yaml"

    static func read(root: String, production: Bool, diagnostics: Diagnostics, warnings: inout [String]) -> RequestPolicy {
        let path = "\(root)/\(file)"
        guard FileManager.default.fileExists(atPath: path) else {
            warnings.append("\(file) is missing: nobody may submit requests; add it with the accounts of operators, managers and directors")
            return RequestPolicy(accounts: [:], needsApproval: production)
        }
        guard let top = MappingReader.open(path: path, file: file, diagnostics: diagnostics) else {
            return RequestPolicy(accounts: [:], needsApproval: production)
        }
        var accounts: [String: Role] = [:]
        if let section = top.mapping("accounts", required: true, example: "`alice: manager`") {
            for (account, value, line) in section.scalarPairs() {
                guard let role = Role(rawValue: value) else {
                    section.error(account, line: line, "`\(value)` is not a role", fix: "write `\(account): manager` (operator, manager or director)")
                    continue
                }
                guard !account.isEmpty, !account.contains(where: { $0.isWhitespace || $0 == ":" || $0 == "/" }) else {
                    section.error(account, line: line, "`\(account)` is not an account name", fix: "use the login name, e.g. alice")
                    continue
                }
                accounts[account] = role
            }
            section.finish()
        }
        let quota = top.int("quota_per_day", range: 1...100, example: "3") ?? 3
        let hours = top.int("approval_hours", range: 1...168, example: "24") ?? 24
        top.finish()
        return RequestPolicy(accounts: accounts, quotaPerDay: quota, approvalHours: hours, needsApproval: production)
    }
}
