import Foundation
import NightShiftCore

/// Reads `etc/calendars/*.yaml`: one year of holidays and make-up workdays per file.
enum CalendarFile {
    static func readAll(root: String, diagnostics: Diagnostics) -> HolidayCalendar {
        let directory = "\(root)/etc/calendars"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
        var years: [HolidayCalendar.Year] = []
        for name in names {
            if let year = read(path: "\(directory)/\(name)", file: "etc/calendars/\(name)", diagnostics: diagnostics) {
                if years.contains(where: { $0.year == year.year }) {
                    diagnostics.add(ConfigError(file: "etc/calendars/\(name)", line: nil, key: "year",
                                                problem: "year \(year.year) is defined by another calendar file too",
                                                fix: "keep one file per year"))
                } else {
                    years.append(year)
                }
            }
        }
        return HolidayCalendar(years: years)
    }

    static func read(path: String, file: String, diagnostics: Diagnostics) -> HolidayCalendar.Year? {
        let before = diagnostics.errors.count
        guard let top = MappingReader.open(path: path, file: file, diagnostics: diagnostics) else { return nil }
        let year = top.int("year", required: true, range: 2000...2100, example: "2027")
        let provisional = top.scalar("provisional", required: false, expected: "true or false", example: "false") {
            ["true": true, "false": false][$0.lowercased()]
        } ?? false
        let source = top.string("source", required: false, example: "DGPA office calendar") ?? ""
        func dates(_ key: String) -> [LocalDate: String] {
            guard let map = top.mapping(key, required: false, example: "`2027-01-01: Founding Day`") else { return [:] }
            var result: [LocalDate: String] = [:]
            for (text, name, line) in map.scalarPairs() {
                guard let date = LocalDate(iso: text) else {
                    map.error(text, line: line, "`\(text)` is not a date", fix: "write dates as YYYY-MM-DD")
                    continue
                }
                if let year, date.year != year {
                    map.error(text, line: line, "\(text) is not in \(year)", fix: "move it to etc/calendars/tw-\(date.year).yaml")
                    continue
                }
                result[date] = name
            }
            return result
        }
        let holidays = dates("holidays")
        let makeup = dates("makeup_workdays")
        for date in makeup.keys where holidays[date] != nil {
            top.error("makeup_workdays", line: nil, "\(date) is listed both as a holiday and as a make-up workday", fix: "keep it in one list")
        }
        top.finish()
        guard diagnostics.errors.count == before, let year else { return nil }
        return HolidayCalendar.Year(year: year, holidays: holidays, makeupWorkdays: makeup, provisional: provisional, source: source)
    }
}
