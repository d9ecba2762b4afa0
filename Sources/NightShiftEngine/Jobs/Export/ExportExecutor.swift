import Foundation
import NightShiftCore
import Packaging
import PostgresClient

/// Streams the job's query with COPY into CSV parts of `rows_per_file` rows, packs each part into
/// an archive of its own (`<base>-0001.zip.gpg`, or `.tar.zst.gpg`) encrypted to the job's
/// recipients (and signed) as it is written, then writes `<base>.manifest.json` (and its detached
/// signature `.asc` when signing). No plaintext touches the disk.
///
/// One thread reads parts from the database while `export.threads` threads compress, encrypt and
/// hash the parts before it: the CPU-heavy packing runs on every core, and memory holds at most a
/// few parts whatever the export's size.
///
/// Files are written under hidden names of their own attempt (`.<name>.j<run>a<attempt>`), so no
/// attempt ever writes a file another one writes, and are published by the runner while it holds
/// the job's lease: the old manifest is removed, the archives moved into place, the manifest last,
/// and parts of an earlier, longer export of the same name removed.
///
/// The plaintext is reproducible: the same business date gives the same CSV bytes, entry names
/// and times (midnight of the business date). The OpenPGP ciphertext differs on every run by
/// design (a fresh session key).
struct ExportExecutor: JobExecutor {
    let spec: ExportSpec

    /// A part packed into its archive.
    struct Packed {
        let archive: ExportManifest.Archive
        let staged: String
        let final: String
    }

    func execute(_ context: JobContext) throws -> JobOutcome {
        let settings = context.configuration.settings
        // Find the keys before touching the database: a missing key is a configuration error.
        let keys = try OutputKeys(spec: spec, settings: settings)
        let format: ArchiveFormat = spec.format == .zip ? .zip(level: settings.compressionLevel) : .tarZstd(level: settings.zstdLevel)
        let fileExtension = format.fileExtension + (keys.encrypts ? ".gpg" : "")

        let query = try context.configuration.sql(spec.querySQL)
            .trimmingCharacters(in: .whitespacesAndNewlines)
            .trimmingCharacters(in: CharacterSet(charactersIn: ";"))
        let directory = settings.exportsDirectory
        try PrivateFiles.makeDirectory(directory)
        let base = spec.baseName(for: context.businessDate)
        let attempt = "j\(context.jobRunID)a\(context.attempt)"
        let modified = Int(settings.timeZone.instant(of: LocalDateTime(date: context.businessDate, minute: 0)).timeIntervalSince1970)
        let db = context.db

        let pool = ParallelWork<ExportPart, Packed>(threads: settings.exportThreads, capacity: settings.exportThreads, name: "export") {
            let protection = try keys.protection()
            return { part in
                let number = String(format: "%04d", part.number)
                let final = "\(directory)/\(base)-\(number).\(fileExtension)"
                let staged = StagedOutputs.name(final, attempt: attempt)
                let source = ExportPartSource(part: part, modified: modified)
                let result = try EncryptedArchive.write(to: staged, format: format, protection: protection,
                                                        literalName: "\(base)-\(number).\(format.fileExtension)", source: source)
                let file = ExportManifest.File(name: part.fileName, rows: part.rows, bytes: part.csv.count, sha256: try source.hasher.finalize())
                return Packed(archive: .init(file: (final as NSString).lastPathComponent, rows: part.rows, bytes: result.bytes,
                                             sha256: result.sha256, plaintextBytes: result.plaintextBytes,
                                             plaintextSha256: result.plaintextSHA256, files: [file]),
                              staged: staged, final: final)
            }
        }
        let packed: [Packed]
        do {
            try db.transaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") {
                try db.setParameters(context.parameters + [("after_key", String(Int64.min)), ("chunk_size", String(spec.rowsPerFile))])
                let shape = try db.query("SELECT * FROM (\n\(unsafeSQL: query)\n) AS export_query LIMIT 0")
                let reader = try ExportPartReader(db: db, query: query, columns: (0..<shape.columnCount).map { shape.columnName($0) },
                                                  keyColumn: spec.keyColumn, baseName: base, rowsPerFile: spec.rowsPerFile,
                                                  parameters: context.parameters)
                while let part = try reader.next() {
                    try pool.submit(part)
                    context.control.setProgress(rows: reader.rows)
                    try context.checkpoint()
                }
            }
            packed = try pool.finish()
        } catch {
            pool.cancel(error)
            StagedOutputs.remove(of: attempt, in: directory)
            throw error
        }

        let manifest = ExportManifest(job: context.job.name, businessDate: context.businessDate.description,
                                      createdAt: iso8601(context.clock.now()), format: spec.format.rawValue,
                                      encryptedTo: keys.recipientFingerprints, signedBy: keys.signerFingerprint,
                                      rows: packed.reduce(0) { $0 + $1.archive.rows }, archives: packed.map(\.archive))
        let manifestPath = "\(directory)/\(base).manifest.json"
        let signaturePath = manifestPath + ".asc"
        var outputs = packed.map {
            JobOutput(kind: .export, path: $0.final, sha256: $0.archive.sha256, bytes: $0.archive.bytes, rows: $0.archive.rows)
        }
        var publish = packed.map { Publication(staged: $0.staged, final: $0.final) }
        do {
            let data = try manifest.encoded()
            if let signature = try keys.signManifest(Array(data)) {
                let file = try OutputFile(path: StagedOutputs.name(signaturePath, attempt: attempt), mode: 0o640)
                try signature.withUnsafeBytes { try file.write($0) }
                let sha = try file.commit()
                outputs.append(JobOutput(kind: .signature, path: signaturePath, sha256: sha, bytes: signature.count, rows: nil))
                publish.append(Publication(staged: file.path, final: signaturePath))
            }
            let file = try OutputFile(path: StagedOutputs.name(manifestPath, attempt: attempt), mode: 0o640)
            try data.withUnsafeBytes { try file.write($0) }
            let sha = try file.commit()
            outputs.append(JobOutput(kind: .manifest, path: manifestPath, sha256: sha, bytes: data.count, rows: nil))
            publish.append(Publication(staged: file.path, final: manifestPath))
        } catch {
            StagedOutputs.remove(of: attempt, in: directory)
            throw error
        }

        let published = Set(publish.map(\.final))
        let retire = ExportExecutor.files(of: base, in: directory).filter { !published.contains($0) }
        let parts = packed.count == 1 ? "1 part" : "\(packed.count) parts"
        let protection = keys.encrypts ? "encrypted to \(keys.recipientNames.joined(separator: ", "))" : "not encrypted"
        return JobOutcome(rows: manifest.rows, outputs: outputs,
                          note: "\(parts), \(spec.format.rawValue), \(protection)\(keys.signs ? ", signed" : "")",
                          publish: publish, retire: retire)
    }

    /// Published archives of the export `base` (any number of parts, any format), its manifest and signature.
    static func files(of base: String, in directory: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.filter { name in
            guard name.hasPrefix(base) else { return false }
            let rest = name.dropFirst(base.count)
            return rest.wholeMatch(of: /(-\d{4,})?\.(zip|tar\.zst)(\.gpg)?/) != nil || rest == ".manifest.json.asc"
        }.sorted().map { "\(directory)/\($0)" }
    }
}
