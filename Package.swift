// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "NightShift",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "nightshift", targets: ["nightshift"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // The runner's HTTP servers (trigger, metrics): Hummingbird on SwiftNIO with swift-nio-ssl.
        // NIO's llhttp parser is linear and limits the head; TLS, connection limits and an idle
        // timeout come with it (about two more minutes of build on CI). FlyingFox, used before, had
        // no TLS, quadratic request-line parsing and no way to bound a chunked body.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // Metrics: the swift-metrics API in the engine, Prometheus as its backend in the CLI
        // (swift-prometheus needs only swift-metrics and swift-atomics: seconds to build).
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C libraries: module maps only. Only the wrapper modules below import them.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CGPGME", pkgConfig: "gpgme", providers: [.apt(["libgpgme-dev"])]),
        // OpenSSL's libcrypto, for SHA-256 (hardware SHA where the CPU has it).
        .systemLibrary(name: "CLibCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // libcurl (OpenSSL flavour) for SMTP with STARTTLS and AUTH.
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // libxlsxwriter for Excel report outputs (constant-memory mode: one row in memory at a time).
        .systemLibrary(name: "CXlsxWriter", pkgConfig: "xlsxwriter", providers: [.apt(["libxlsxwriter-dev"])]),

        // Wrappers: the only code that touches C pointers.
        .target(name: "PostgresClient", dependencies: ["CLibPQ"]),
        .target(name: "Packaging", dependencies: ["CArchive", "CGPGME", "CLibCrypto", "CXlsxWriter"]),
        .target(name: "CurlClients", dependencies: ["CCurl"]),

        // Pure domain: no I/O.
        .target(name: "NightShiftCore"),
        .target(name: "NightShiftConfig", dependencies: [
            "NightShiftCore", .product(name: "Yams", package: "Yams"),
        ]),
        .target(name: "NightShiftMail", dependencies: [
            "Packaging",
            .product(name: "Mustache", package: "swift-mustache"),
        ]),
        .target(name: "NightShiftEngine", dependencies: [
            "NightShiftCore", "NightShiftConfig", "PostgresClient", "Packaging", "NightShiftMail", "CurlClients",
            .product(name: "Mustache", package: "swift-mustache"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // The HTTP trigger API (`api:` in etc/nightshift.yaml), served by `nightshift run`.
        .target(name: "NightShiftAPI", dependencies: [
            "NightShiftEngine", "NightShiftConfig", "NightShiftCore", "PostgresClient", "Packaging",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // The web console (`console:` in etc/nightshift.yaml), served by `nightshift run`: pages
        // rendered on the server from templates/console/, on the same HTTP server as the trigger.
        .target(name: "NightShiftConsole", dependencies: [
            "NightShiftAPI", "NightShiftEngine", "NightShiftConfig", "NightShiftCore", "PostgresClient",
            .product(name: "Mustache", package: "swift-mustache"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "nightshift", dependencies: [
            "NightShiftEngine", "NightShiftConfig", "NightShiftCore", "NightShiftAPI", "NightShiftConsole", "Packaging",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),

        // scripts/bench: the planning and delivery benchmarks' Swift side (release build).
        .executableTarget(name: "nightshift-bench", dependencies: ["NightShiftCore", "NightShiftConfig", "CurlClients"]),

        // Helpers shared by the test targets: processes, temporary directories, keyrings, databases.
        .target(name: "TestSupport", dependencies: ["PostgresClient"], path: "Tests/TestSupport"),
        .testTarget(name: "NightShiftCoreTests", dependencies: ["NightShiftCore", "TestSupport"]),
        .testTarget(name: "NightShiftConfigTests", dependencies: ["NightShiftConfig", "NightShiftCore", "TestSupport"]),
        .testTarget(name: "PostgresClientTests", dependencies: ["PostgresClient", "TestSupport"]),
        .testTarget(name: "PackagingTests", dependencies: ["Packaging", "TestSupport"]),
        .testTarget(name: "CurlClientsTests", dependencies: ["CurlClients", "TestSupport"]),
        .testTarget(name: "NightShiftMailTests", dependencies: ["NightShiftMail", "TestSupport"]),
        .testTarget(name: "NightShiftAPITests", dependencies: ["NightShiftAPI", "NightShiftConfig", "NightShiftCore", "TestSupport"]),
        .testTarget(name: "NightShiftConsoleTests", dependencies: ["NightShiftConsole", "NightShiftCore", "TestSupport"]),
        .testTarget(name: "NightShiftEngineTests", dependencies: [
            "NightShiftEngine", "NightShiftConfig", "NightShiftCore", "PostgresClient", "TestSupport",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Runs the built `nightshift` binary as an operator would.
        .testTarget(name: "nightshiftTests", dependencies: ["TestSupport", "nightshift"]),
    ]
)
