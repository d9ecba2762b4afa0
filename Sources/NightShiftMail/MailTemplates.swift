import Foundation
import Mustache

/// The Mustache templates of one message: `<name>.subject.mustache`, `<name>.txt.mustache` and
/// `<name>.html.mustache` in the templates directory.
public struct MailTemplates: Sendable {
    public let name: String
    let subject: MustacheTemplate
    let text: MustacheTemplate
    let html: MustacheTemplate

    public struct Problem: Error, CustomStringConvertible {
        public let file: String
        public let message: String
        public var description: String { "template \(file): \(message). Fix: correct the Mustache syntax or restore the file" }
    }

    public init(directory: String, name: String) throws {
        self.name = name
        func load(_ suffix: String, prefix: String = "") throws -> MustacheTemplate {
            let file = "\(directory)/\(name).\(suffix).mustache"
            guard let source = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw Problem(file: file, message: "cannot be read")
            }
            do { return try MustacheTemplate(string: prefix + source) } catch { throw Problem(file: file, message: "\(error)") }
        }
        subject = try load("subject", prefix: "{{% CONTENT_TYPE: TEXT}}")
        text = try load("txt", prefix: "{{% CONTENT_TYPE: TEXT}}")
        html = try load("html")
    }

    /// Renders (subject, text, html) for `context` (dictionaries, arrays, strings and numbers).
    public func render(_ context: [String: Any]) -> (subject: String, text: String, html: String) {
        let subjectLine = subject.render(context).split(whereSeparator: \.isNewline).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
        return (subjectLine, text.render(context), html.render(context))
    }
}
