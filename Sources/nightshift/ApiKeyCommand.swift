import ArgumentParser
import Foundation
import NightShiftConfig
import NightShiftCore
import Packaging

struct ApiKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api-key",
        abstract: "Create or list the HTTP trigger's API keys (the key file keeps only their SHA-256).",
        discussion: """
            `add NAME --batches daily,monthly` makes a random key, prints it once, and appends its SHA-256 \
            with the batches it may start to the key file (api.keys, default etc/api-keys.yaml, mode 0600). \
            The running service reads the file again when it changes. `list` shows names and batches. \
            Callers send the key as `Authorization: Bearer KEY`.
            """
    )

    enum Action: String, ExpressibleByArgument { case add, list }

    @OptionGroup var options: GlobalOptions
    @Argument(help: "add or list.") var action: Action
    @Argument(help: "The key's name (who calls, in the audit).") var name: String?
    @Option(help: "The batches the key may start, comma-separated.") var batches: String?

    func run() throws {
        let configuration = try loadConfiguration(options)
        let path = configuration.settings.api?.keyFile ?? "\(options.absoluteRoot)/etc/api-keys.yaml"
        let (keys, errors) = APIKeysFile.read(path: path)
        if !errors.isEmpty {
            for error in errors { printError("error: \(error)") }
            throw ExitCode(2)
        }
        switch action {
        case .list:
            if keys.isEmpty { print("no API keys in \(path)") }
            for key in keys { print("\(key.name): \(key.batches.map(\.rawValue).sorted().joined(separator: ", "))") }
        case .add:
            guard let name, InboxEventRules.isName(name) else {
                throw ValidationError("give the key a name: letters, digits, _ . - (e.g. erp-scheduler)")
            }
            guard !keys.contains(where: { $0.name == name }) else { throw ValidationError("a key named \(name) exists already in \(path)") }
            let kinds = (batches ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard !kinds.isEmpty, kinds.allSatisfy({ BatchKind(rawValue: $0) != nil }) else {
                throw ValidationError("--batches: a comma-separated list of daily, weekly, monthly, yearend")
            }
            var generator = SystemRandomNumberGenerator() // getrandom(2)
            let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let key = "nsk_" + Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            let hash = SHA256()
            hash.update(Array(key.utf8))
            var text = FileManager.default.fileExists(atPath: path) ? try String(contentsOfFile: path, encoding: .utf8)
                : "# API keys of the HTTP trigger: SHA-256 of each key, never the key. Written by `nightshift api-key add`.\nkeys:\n"
            if !text.hasSuffix("\n") { text += "\n" }
            text += "  - name: \(name)\n    sha256: \(try hash.finalize())\n    batches: [\(kinds.joined(separator: ", "))]\n"
            let temporary = path + ".tmp"
            guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]),
                  rename(temporary, path) == 0 else {
                printError("error: cannot write \(path): \(String(cString: strerror(errno)))")
                throw ExitCode(1)
            }
            print(key)
            printError("key \(name) added to \(path) for \(kinds.joined(separator: ", ")); this is the only time it is shown")
        }
    }
}
