/// CSV as RFC 4180 writes it, for every CSV NightShift writes (report outputs, export headers, the
/// operations report): fields separated by commas, a field quoted when it holds a comma, a quote
/// (doubled inside), a CR, a LF (so also CRLF) or leading or trailing white space. It looks at
/// Unicode scalars, never at Characters: in Swift "\r\n" is one Character, equal to neither "\r"
/// nor "\n".
///
/// For CSVs meant for Excel (`forExcel`), a cell Excel would run as a formula — one that starts
/// with `=`, `+`, `-`, `@`, a tab or a CR — gets a leading `'` and is quoted, as OWASP recommends
/// against CSV injection; a plain number such as `-12.50` is left as it is.
public enum CSVText {
    /// One field; nil (SQL NULL) and "" are both written as nothing.
    public static func field(_ text: String?, forExcel: Bool = false) -> String {
        guard var text, !text.isEmpty else { return "" }
        var quote = false
        if forExcel, let first = text.unicodeScalars.first, formulaStarts.contains(first), !isPlainNumber(text) {
            text = "'" + text
            quote = true
        }
        let scalars = text.unicodeScalars
        if !quote {
            quote = scalars.contains { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" }
                || scalars.first.map(whiteSpace.contains) == true || scalars.last.map(whiteSpace.contains) == true
        }
        guard quote else { return text }
        var out = String.UnicodeScalarView()
        out.append("\"")
        for scalar in scalars {
            out.append(scalar)
            if scalar == "\"" { out.append("\"") }
        }
        out.append("\"")
        return String(out)
    }

    /// One record, without its line end.
    public static func record(_ fields: [String?], forExcel: Bool = false) -> String {
        fields.map { field($0, forExcel: forExcel) }.joined(separator: ",")
    }

    static let formulaStarts: Set<Unicode.Scalar> = ["=", "+", "-", "@", "\t", "\r"]
    static let whiteSpace: Set<Unicode.Scalar> = [" ", "\t"]

    /// `-12`, `+3.5`, `-1.2e5`: a number Excel reads as a number, not a formula.
    static func isPlainNumber(_ text: String) -> Bool {
        var scalars = Substring(text).unicodeScalars[...]
        if let sign = scalars.first, sign == "-" || sign == "+" { scalars = scalars.dropFirst() }
        var digits = 0, dots = 0, exponent = false
        var previous: Unicode.Scalar?
        for scalar in scalars {
            switch scalar {
            case "0"..."9": digits += 1
            case "." where dots == 0 && !exponent: dots += 1
            case "e" where digits > 0 && !exponent, "E" where digits > 0 && !exponent: exponent = true
            case "+" where previous == "e" || previous == "E", "-" where previous == "e" || previous == "E": break
            default: return false
            }
            previous = scalar
        }
        if let last = previous, !("0"..."9").contains(last) { return false }
        return digits > 0
    }
}
