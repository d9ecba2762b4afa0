import Foundation
import Mustache

/// The console's Mustache templates (templates/console/*.mustache: one per page, with the
/// `header` and `footer` partials) and its stylesheet and script (console.css, console.js), read
/// once when the runner starts. Everything is served from here: nothing is fetched from elsewhere.
public struct ConsoleTemplates: Sendable {
    let library: MustacheLibrary
    let stylesheet: String
    let script: String

    public static let pages = ["tonight", "batch_run", "job_run", "history", "requests", "review", "alerts", "runners", "plan", "backfill",
                               "login", "message"]

    public struct Problem: Error, CustomStringConvertible {
        public let file: String
        public let message: String
        public var description: String { "console template \(file): \(message). Fix: correct it, or restore templates/console/ from the release" }
    }

    /// Reads templates/console/ under `directory` (the configured templates directory).
    public init(directory: String) throws {
        let folder = "\(directory)/console"
        func read(_ name: String) throws -> String {
            let file = "\(folder)/\(name)"
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw Problem(file: file, message: "cannot be read") }
            return text
        }
        var templates: [String: MustacheTemplate] = [:]
        for name in Self.pages + ["header", "footer"] {
            let file = "\(folder)/\(name).mustache"
            do { templates[name] = try MustacheTemplate(string: try read("\(name).mustache")) } catch let problem as Problem { throw problem } catch {
                throw Problem(file: file, message: "\(error)")
            }
        }
        library = MustacheLibrary(templates: templates)
        stylesheet = try read("console.css")
        script = try read("console.js")
    }

    func render(_ page: String, _ context: [String: Any]) -> String {
        library.render(context, withTemplate: page) ?? "template \(page) is missing"
    }
}
