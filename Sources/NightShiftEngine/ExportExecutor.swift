import Foundation
import NightShiftCore
import Packaging
import PostgresClient

/// Streams the job's query with COPY into CSV files inside a zip that is encrypted with OpenPGP
/// as it is written (`<exports>/<base>.zip.gpg`), then writes a manifest
/// (`<base>.manifest.json`) with each CSV's rows and SHA-256 and the encrypted file's SHA-256.
/// No plaintext touches the disk.
///
/// Both files are written under hidden names of their own attempt (`.<name>.j<run>a<attempt>`),
/// so no attempt ever writes a file another one writes, and are published by the runner while it
/// holds the job's lease: the old manifest is removed, the archive moved into place, the manifest
/// last. A consumer takes an export when its manifest is there and the archive's SHA-256 matches.
///
/// The plaintext is reproducible: the same business date gives the same CSV bytes, zip entry
/// names and times (midnight of the business date) and manifest entries. The OpenPGP ciphertext
/// differs on every run by design (a fresh session key).
struct ExportExecutor: JobExecutor {
    let spec: ExportSpec

    struct Manifest: Codable {
        let job: String
        let businessDate: String
        let createdAt: String
        let archive: Archive
        let files: [CSVArchiveSource.Entry]
        let rows: Int

        struct Archive: Codable {
            let file: String
            let bytes: Int
            let sha256: String
            let format: String
            let recipient: String
        }
    }

    func execute(_ context: JobContext) throws -> JobOutcome {
        let settings = context.configuration.settings
        // Find the key before touching the database: a missing key is a configuration error.
        let pgp = try OpenPGPContext(homedir: settings.keyring)
        let key = try pgp.encryptionKey(for: spec.recipient)

        let query = try context.configuration.sql(spec.querySQL)
            .trimmingCharacters(in: .whitespacesAndNewlines)
            .trimmingCharacters(in: CharacterSet(charactersIn: ";"))
        try FileManager.default.createDirectory(atPath: settings.exportsDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o750])
        let base = spec.baseName(for: context.businessDate)
        let archivePath = "\(settings.exportsDirectory)/\(base).zip.gpg"
        let manifestPath = "\(settings.exportsDirectory)/\(base).manifest.json"
        let attempt = "j\(context.jobRunID)a\(context.attempt)"
        let stagedArchive = ExportExecutor.staged(archivePath, attempt: attempt)
        let stagedManifest = ExportExecutor.staged(manifestPath, attempt: attempt)
        let entryTime = settings.timeZone.instant(of: LocalDateTime(date: context.businessDate, minute: 0))
        let db = context.db

        let (result, source): (EncryptedArchiveResult, CSVArchiveSource) = try db.transaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") {
            try db.setParameters(context.parameters)
            let shape = try db.execute("SELECT * FROM (\n\(query)\n) AS export_query LIMIT 0")
            let header = (0..<shape.columnCount).map { csvField(shape.columnName($0)) }.joined(separator: ",") + "\n"
            let stream = try db.copyOutStream("COPY (\n\(query)\n) TO STDOUT WITH (FORMAT csv)")
            defer { stream.close() }
            let source = CSVArchiveSource(stream: stream, header: header, baseName: base, rowsPerFile: spec.rowsPerFile,
                                          modified: Int(entryTime.timeIntervalSince1970)) { rows in
                context.control.setProgress(rows: rows)
                try context.checkpoint()
            }
            let result = try EncryptedArchive.write(to: stagedArchive, recipients: [key], using: pgp,
                                                    compressionLevel: settings.compressionLevel, literalName: "\(base).zip", source: source)
            return (result, source)
        }

        let manifest = Manifest(job: context.job.name, businessDate: context.businessDate.description,
                                createdAt: iso8601(context.clock.now()),
                                archive: .init(file: (archivePath as NSString).lastPathComponent, bytes: result.bytes,
                                               sha256: result.sha256, format: "zip+openpgp", recipient: key.fingerprint),
                                files: source.entries, rows: source.totalRows)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let manifestFile = try OutputFile(path: stagedManifest, mode: 0o640)
        let data = try encoder.encode(manifest) + Data("\n".utf8)
        try data.withUnsafeBytes { try manifestFile.write($0) }
        let manifestSHA = try manifestFile.commit()

        return JobOutcome(rows: source.totalRows, outputs: [
            JobOutput(kind: .export, path: archivePath, sha256: result.sha256, bytes: result.bytes, rows: source.totalRows),
            JobOutput(kind: .manifest, path: manifestPath, sha256: manifestSHA, bytes: data.count, rows: nil),
        ], note: "\(source.entries.count) file\(source.entries.count == 1 ? "" : "s") encrypted to \(key.userID)",
           publish: [Publication(staged: stagedArchive, final: archivePath), Publication(staged: stagedManifest, final: manifestPath)])
    }

    /// The hidden name an attempt writes `path` under, in the same directory.
    static func staged(_ path: String, attempt: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(attempt)").path
    }
}

/// Quotes a CSV field when it needs it (RFC 4180).
func csvField(_ text: String) -> String {
    guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
    return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}
