/// SQL with named parameters (`:business_date`, `:branch`) turned into positional ones (`$1`,
/// `$2`) with the values in order, so report queries read like their subject and every value is
/// still bound, never spliced into the text.
///
/// Skipped: `::` casts, string literals ('…', E'…'), quoted identifiers ("…"), dollar-quoted
/// bodies ($tag$…$tag$) and comments (-- and /* */). A name used twice is bound once.
public enum NamedParameters {
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public let name: String
        public let line: Int
        public let known: [String]
        public var description: String {
            "the query uses :\(name) (line \(line)), which is not a parameter; known: \(known.map { ":" + $0 }.joined(separator: ", "))"
        }
    }

    /// The rewritten SQL, the values in `$n` order, and the names the query used.
    public static func bind(_ sql: String, _ values: [String: String]) throws -> (sql: String, values: [String], used: [String]) {
        let text = Array(sql.unicodeScalars)
        var out = String.UnicodeScalarView()
        var order: [String] = []
        var i = 0
        var line = 1
        func copy(to end: Int) {
            while i < end && i < text.count {
                if text[i] == "\n" { line += 1 }
                out.append(text[i])
                i += 1
            }
        }
        func isNameStart(_ c: Unicode.Scalar) -> Bool { c == "_" || (c.properties.isAlphabetic && c.isASCII) }
        func isNamePart(_ c: Unicode.Scalar) -> Bool { isNameStart(c) || ("0"..."9").contains(c) }
        while i < text.count {
            let c = text[i]
            let next: Unicode.Scalar? = i + 1 < text.count ? text[i + 1] : nil
            switch c {
            case "'", "\"":
                // To the closing quote; a doubled quote is an escaped one and stays inside.
                var j = i + 1
                while j < text.count {
                    if text[j] == c {
                        if j + 1 < text.count && text[j + 1] == c { j += 2; continue }
                        break
                    }
                    if c == "'" && text[j] == "\\" && i > 0 && (text[i - 1] == "E" || text[i - 1] == "e") { j += 2; continue }
                    j += 1
                }
                copy(to: j + 1)
            case "-" where next == "-":
                var j = i
                while j < text.count && text[j] != "\n" { j += 1 }
                copy(to: j)
            case "/" where next == "*":
                var j = i + 2
                var depth = 1
                while j < text.count && depth > 0 {
                    if text[j] == "/" && j + 1 < text.count && text[j + 1] == "*" { depth += 1; j += 2 }
                    else if text[j] == "*" && j + 1 < text.count && text[j + 1] == "/" { depth -= 1; j += 2 }
                    else { j += 1 }
                }
                copy(to: j)
            case "$":
                // $tag$ … $tag$ (or $$ … $$); a $1 positional stays as it is.
                var j = i + 1
                while j < text.count && isNamePart(text[j]) && !(j == i + 1 && ("0"..."9").contains(text[j])) { j += 1 }
                if j < text.count && text[j] == "$" {
                    let tag = Array(text[i...j])
                    var k = j + 1
                    while k + tag.count <= text.count && Array(text[k..<(k + tag.count)]) != tag { k += 1 }
                    copy(to: min(text.count, k + tag.count))
                } else {
                    copy(to: i + 1)
                }
            case ":" where next == ":":
                copy(to: i + 2)
            case ":" where next.map(isNameStart) == true && !(i > 0 && isNamePart(text[i - 1])):
                var j = i + 1
                while j < text.count && isNamePart(text[j]) { j += 1 }
                let name = String(String.UnicodeScalarView(text[(i + 1)..<j]))
                guard values[name] != nil else { throw Problem(name: name, line: line, known: values.keys.sorted()) }
                if !order.contains(name) { order.append(name) }
                out.append(contentsOf: "$\(order.firstIndex(of: name)! + 1)".unicodeScalars)
                i = j
            default:
                copy(to: i + 1)
            }
        }
        return (String(out), order.map { values[$0]! }, order)
    }
}
