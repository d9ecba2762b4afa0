import Foundation

/// `<base>.manifest.json`: what an export delivered. Every archive with its size and SHA-256 as
/// written (the ciphertext when encrypted) and before encryption, and every CSV file inside with
/// its rows, size and plaintext SHA-256. When the export is signed, `<base>.manifest.json.asc` is
/// a detached signature of these exact bytes. A consumer takes an export when the manifest is
/// there, its signature verifies, and each archive's SHA-256 matches.
struct ExportManifest: Codable, Equatable {
    var formatVersion = 2
    let job: String
    let businessDate: String
    let createdAt: String
    /// `zip` or `tar.zst`.
    let format: String
    /// Fingerprints of the recipients (empty: the archives are not encrypted).
    let encryptedTo: [String]
    /// Fingerprint of the key that signed the archives and this manifest.
    let signedBy: String?
    let rows: Int
    let archives: [Archive]

    struct Archive: Codable, Equatable {
        let file: String
        let rows: Int
        let bytes: Int
        let sha256: String
        let plaintextBytes: Int
        let plaintextSha256: String
        let files: [File]
    }

    struct File: Codable, Equatable {
        let name: String
        let rows: Int
        let bytes: Int
        let sha256: String
    }

    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try encoder.encode(self) + Data("\n".utf8)
    }
}
