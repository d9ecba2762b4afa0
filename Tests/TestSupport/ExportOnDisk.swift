import Foundation

/// An export as a consumer takes it, with real tools only: the manifest (and its signature,
/// checked by `gpg --verify`), each archive's SHA-256 (`sha256sum`), decrypted by `gpg`, opened
/// by `unzip` or `bsdtar`, each CSV's SHA-256 and rows checked against the manifest.
public struct ExportOnDisk {
    public struct File {
        public let name: String
        public let rows: Int
        public let sha256: String
        public let text: String
    }

    public let manifest: [String: Any]
    public let archives: [String]
    public let files: [File]
    /// SHA-256 of each decrypted archive (the zip or tar.zst bytes), in manifest order.
    public let plaintextArchiveSHA256: [String]
    public var rows: Int { manifest["rows"] as? Int ?? -1 }

    /// - Parameters:
    ///   - directory: the exports folder; `base` the export's base name (`deliveries-2026-11-22`).
    ///   - keyring: decrypts (nil: the archives are not encrypted).
    ///   - work: a scratch folder for the decrypted and extracted files.
    public init(directory: String, base: String, keyring: ThrowawayKeyring?, work: String) throws {
        let manifestPath = "\(directory)/\(base).manifest.json"
        let data = try Data(contentsOf: URL(fileURLWithPath: manifestPath))
        guard let manifest = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let archives = manifest["archives"] as? [[String: Any]] else {
            throw TestSetupError("\(manifestPath) is not an export manifest")
        }
        if manifest["signed_by"] as? String != nil {
            guard let keyring else { throw TestSetupError("a signed manifest needs a keyring to verify it") }
            let verify = try runProcess(["gpg", "--homedir", keyring.home, "--batch", "--status-fd", "1", "--verify", manifestPath + ".asc", manifestPath])
            guard verify.status == 0, verify.stdout.contains("[GNUPG:] GOODSIG"), verify.stdout.contains("[GNUPG:] VALIDSIG \(manifest["signed_by"]!)") else {
                throw TestSetupError("gpg --verify of the manifest failed: \(verify.stdout) \(verify.stderr)")
            }
        }
        self.manifest = manifest
        var files: [File] = []
        var plain: [String] = []
        var names: [String] = []
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        for (i, archive) in archives.enumerated() {
            guard let name = archive["file"] as? String, let sha = archive["sha256"] as? String,
                  let plainSHA = archive["plaintext_sha256"] as? String, let listed = archive["files"] as? [[String: Any]] else {
                throw TestSetupError("archive \(i) of \(manifestPath) lacks file, sha256, plaintext_sha256 or files")
            }
            names.append(name)
            let path = "\(directory)/\(name)"
            guard try sha256sum(path) == sha else { throw TestSetupError("\(name): its SHA-256 is not the manifest's") }
            var opened = path
            if name.hasSuffix(".gpg") {
                guard let keyring else { throw TestSetupError("\(name) is encrypted and no keyring was given") }
                opened = "\(work)/\(name.dropLast(4))"
                let decrypt = try runProcess(["gpg", "--homedir", keyring.home, "--batch", "--yes", "--status-fd", "2",
                                              "--output", opened, "--decrypt", path])
                guard decrypt.status == 0 else { throw TestSetupError("gpg --decrypt \(name) failed: \(decrypt.stderr)") }
                if let signer = manifest["signed_by"] as? String {
                    guard decrypt.stderr.contains("[GNUPG:] GOODSIG"), decrypt.stderr.contains("VALIDSIG \(signer)") else {
                        throw TestSetupError("\(name) is not signed by \(signer): \(decrypt.stderr)")
                    }
                }
            }
            let digest = try sha256sum(opened)
            guard digest == plainSHA else { throw TestSetupError("\(name): the decrypted archive's SHA-256 is not the manifest's plaintext_sha256") }
            plain.append(digest)
            let out = "\(work)/extracted-\(i)"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let extract = opened.hasSuffix(".zip") ? try runProcess(["unzip", "-q", opened, "-d", out])
                : try runProcess(["bsdtar", "-xf", opened, "-C", out])
            guard extract.status == 0 else { throw TestSetupError("extracting \(name) failed: \(extract.stderr)") }
            for entry in listed {
                guard let file = entry["name"] as? String, let rows = entry["rows"] as? Int, let sha = entry["sha256"] as? String else {
                    throw TestSetupError("a file entry of \(name) lacks name, rows or sha256")
                }
                let csv = "\(out)/\(file)"
                guard try sha256sum(csv) == sha else { throw TestSetupError("\(file): its SHA-256 is not the manifest's") }
                let text = try String(contentsOfFile: csv, encoding: .utf8)
                files.append(File(name: file, rows: rows, sha256: sha, text: text))
            }
        }
        self.archives = names
        self.files = files
        plaintextArchiveSHA256 = plain
    }
}

/// The SHA-256 of a file, by the real `sha256sum`.
public func sha256sum(_ path: String) throws -> String {
    let result = try runProcess(["sha256sum", path])
    guard result.status == 0 else { throw TestSetupError("sha256sum \(path) failed: \(result.stderr)") }
    return String(result.stdout.prefix(64))
}
