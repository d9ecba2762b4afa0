import Yams

/// Reads one YAML mapping key by key, recording problems in `Diagnostics` instead of stopping at
/// the first. Every key read (present or not) becomes "known"; `finish()` reports the rest as
/// unknown, with a suggestion when a known key is close.
final class MappingReader {
    let file: String
    let prefix: String
    let line: Int?
    private let pairs: [(key: String, value: Node, line: Int?)]
    private var known: [String] = []
    let diagnostics: Diagnostics

    init?(_ node: Node?, file: String, prefix: String, diagnostics: Diagnostics, line: Int? = nil) {
        self.file = file
        self.prefix = prefix
        self.diagnostics = diagnostics
        guard let node else { return nil }
        guard let mapping = node.mapping else {
            diagnostics.add(ConfigError(file: file, line: node.mark?.line ?? line, key: prefix,
                                        problem: "expected a mapping of keys to values", fix: "write it as `key: value` lines"))
            return nil
        }
        self.line = node.mark?.line ?? line
        pairs = mapping.map { ($0.key.string ?? "\($0.key)", $0.value, $0.key.mark?.line) }
    }

    func path(_ key: String) -> String { prefix.isEmpty ? key : "\(prefix).\(key)" }

    private func lookup(_ key: String) -> (value: Node, line: Int?)? {
        known.append(key)
        return pairs.first { $0.key == key }.map { ($0.value, $0.line) }
    }

    func error(_ key: String, line: Int?, _ problem: String, fix: String) {
        diagnostics.add(ConfigError(file: file, line: line ?? self.line, key: path(key), problem: problem, fix: fix))
    }

    /// A scalar converted by `parse`; nil (with an error) when missing-but-required or invalid.
    func scalar<T>(_ key: String, required: Bool, expected: String, example: String,
                   _ parse: (String) -> T?) -> T? {
        guard let (node, line) = lookup(key) else {
            if required { error(key, line: nil, "missing required key", fix: "add `\(key): \(example)`") }
            return nil
        }
        guard let text = node.scalar?.string else {
            error(key, line: line, "expected \(expected), found a \(node.mapping != nil ? "mapping" : "list")",
                  fix: "write `\(key): \(example)`")
            return nil
        }
        guard let value = parse(text) else {
            error(key, line: line, "`\(text)` is not \(expected)", fix: "write `\(key): \(example)`")
            return nil
        }
        return value
    }

    func string(_ key: String, required: Bool = true, example: String) -> String? {
        scalar(key, required: required, expected: "a text value", example: example) { $0 }
    }

    func bool(_ key: String, example: String = "true") -> Bool? {
        scalar(key, required: false, expected: "true or false", example: example) { ["true": true, "false": false][$0] }
    }

    func int(_ key: String, required: Bool = false, range: ClosedRange<Int>, example: String) -> Int? {
        scalar(key, required: required, expected: "a whole number from \(range.lowerBound) to \(range.upperBound)",
               example: example) { Int($0).flatMap { range.contains($0) ? $0 : nil } }
    }

    func stringList(_ key: String, required: Bool = false, example: String) -> [String]? {
        guard let (node, line) = lookup(key) else {
            if required { error(key, line: nil, "missing required key", fix: "add `\(key): \(example)`") }
            return nil
        }
        if let scalar = node.scalar, scalar.string.isEmpty || scalar.string == "~" { return [] }
        guard let sequence = node.sequence else {
            error(key, line: line, "expected a list", fix: "write `\(key): \(example)`")
            return nil
        }
        var items: [String] = []
        for item in sequence {
            guard let text = item.scalar?.string else {
                error(key, line: item.mark?.line ?? line, "every list item must be a text value", fix: "write `\(key): \(example)`")
                return nil
            }
            items.append(text)
        }
        return items
    }

    func mapping(_ key: String, required: Bool, example: String) -> MappingReader? {
        guard let (node, line) = lookup(key) else {
            if required { error(key, line: nil, "missing required section", fix: "add a `\(key):` section, e.g. \(example)") }
            return nil
        }
        return MappingReader(node, file: file, prefix: path(key), diagnostics: diagnostics, line: line)
    }

    /// A list of nodes (for lists of mappings).
    func sequence(_ key: String, required: Bool, example: String) -> [Node]? {
        guard let (node, line) = lookup(key) else {
            if required { error(key, line: nil, "missing required key", fix: "add `\(key):` with \(example)") }
            return nil
        }
        guard let sequence = node.sequence else {
            error(key, line: line, "expected a list", fix: "write \(example) as `- ` items")
            return nil
        }
        return Array(sequence)
    }

    /// A scalar or a list of scalars, converted by `parse`.
    func scalarOrList<T>(_ key: String, example: String, _ parse: ([String]) -> T?) -> T? {
        guard let (node, line) = lookup(key) else {
            error(key, line: nil, "missing required key", fix: "add `\(key): \(example)`")
            return nil
        }
        let values = node.scalar.map { [$0.string] } ?? node.sequence?.compactMap { $0.scalar?.string } ?? []
        guard let value = parse(values) else {
            error(key, line: line, "`\(values.joined(separator: ", "))` is not valid here",
                  fix: "write `\(key): workdays` (or weekends, holidays, all, or a list like [mon, tue])")
            return nil
        }
        return value
    }

    /// Every key with its scalar value and line, all marked known (for free-form maps like dates).
    func scalarPairs() -> [(String, String, Int?)] {
        pairs.compactMap { pair in
            known.append(pair.key)
            return pair.value.scalar.map { (pair.key, $0.string, pair.line) }
        }
    }

    /// The keys present, in file order (not marked known: read each to mark it).
    var keys: [String] { pairs.map(\.key) }

    /// The line of a key, if present.
    func line(of key: String) -> Int? { pairs.first { $0.key == key }?.line }

    /// Whether the key is present at all (and marks it known).
    func has(_ key: String) -> Bool { lookup(key) != nil }

    /// Reports every key that was never asked for.
    func finish() {
        for pair in pairs where !known.contains(pair.key) {
            let suggestion = known.min { editDistance($0, pair.key) < editDistance($1, pair.key) }
                .flatMap { editDistance($0, pair.key) <= 2 ? $0 : nil }
            let fix = suggestion.map { "did you mean `\($0)`? " } ?? ""
            diagnostics.add(ConfigError(file: file, line: pair.line, key: path(pair.key), problem: "unknown key",
                                        fix: "\(fix)remove it or use one of: \(Set(known).sorted().joined(separator: ", "))"))
        }
    }
}

func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}

extension MappingReader {
    /// Reads a YAML file whose top level is a mapping. Problems (unreadable file, bad YAML, not a
    /// mapping) are recorded and give nil. `problem`/`fix` describe an unreadable file.
    static func open(path: String, file: String, diagnostics: Diagnostics,
                     problem: String = "cannot read the file", fix: String = "check its permissions") -> MappingReader? {
        let text: String
        switch ConfigText.read(path) {
        case let .success(read): text = read
        case let .failure(failure):
            let missing = failure.problem == ConfigText.Failure.missing
            diagnostics.add(ConfigError(file: file, line: failure.line, key: "", problem: missing ? problem : failure.problem,
                                        fix: missing ? fix : failure.fix))
            return nil
        }
        guard let node = parseYAML(text, file: file, diagnostics: diagnostics) else { return nil }
        return MappingReader(node, file: file, prefix: "", diagnostics: diagnostics)
    }
}

/// Parses a whole file into its root node, reporting YAML syntax errors with their line.
func parseYAML(_ text: String, file: String, diagnostics: Diagnostics) -> Node? {
    do {
        guard let node = try Yams.compose(yaml: text) else {
            diagnostics.add(ConfigError(file: file, line: nil, key: "", problem: "the file is empty", fix: "add the required keys"))
            return nil
        }
        return node
    } catch let error as YamlError {
        diagnostics.add(ConfigError(file: file, line: yamlErrorLine(error), key: "", problem: "not valid YAML: \(error)",
                                    fix: "correct the YAML syntax at that line (indentation, colons, quotes)"))
        return nil
    } catch {
        diagnostics.add(ConfigError(file: file, line: nil, key: "", problem: "not valid YAML: \(error)", fix: "correct the YAML syntax"))
        return nil
    }
}

private func yamlErrorLine(_ error: YamlError) -> Int? {
    switch error {
    case let .scanner(_, _, mark, _), let .parser(_, _, mark, _), let .composer(_, _, mark, _):
        return mark.line
    default:
        return nil
    }
}
