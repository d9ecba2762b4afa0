import CurlClients
import Foundation

/// `nightshift-bench delivery --url URL --host-key SHA256 --key FILE FILES…`: uploads the files as
/// the delivery sender does (`CurlClients.SFTPClient`: one connection, each file under a temporary
/// name, renamed, its remote size checked) and prints the wall seconds. scripts/bench_delivery.py
/// times it against `curl -T` of the same files.
enum DeliveryBench {
    static func run(_ arguments: [String]) throws {
        func value(_ name: String) throws -> String {
            guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else {
                throw BenchUsage(message: "usage: nightshift-bench delivery --url URL --host-key SHA256 --key FILE FILES…")
            }
            return arguments[i + 1]
        }
        let url = try value("--url"), hostKey = try value("--host-key"), key = try value("--key")
        let options: Set<String> = [url, hostKey, key, "--url", "--host-key", "--key"]
        let files = arguments.filter { !options.contains($0) }
        let started = Date()
        let client = try SFTPClient(server: SFTPServer(url: url, hostKeySHA256: hostKey, privateKeyFile: key))
        defer { client.close() }
        var bytes: Int64 = 0
        for file in files {
            bytes += try client.upload(file: file, as: URL(fileURLWithPath: file).lastPathComponent).size
        }
        print(String(format: "%d files, %lld bytes, %.3f s", files.count, bytes, Date().timeIntervalSince(started)))
    }
}

struct BenchUsage: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
