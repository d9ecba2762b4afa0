import Foundation

/// `metrics:` in etc/nightshift.yaml: where the running service serves Prometheus metrics
/// (`/metrics`, on a loopback address only), and the node-exporter textfile `run --once` writes.
public struct MetricsSettings: Sendable, Equatable {
    /// A loopback address (127.0.0.0/8) and port; nil: the service serves no metrics.
    public let host: String?
    public let port: UInt16?
    /// Absolute path of the textfile (`textfile:`, inside the project); nil: none is written.
    public let textfile: String?

    public init(host: String?, port: UInt16?, textfile: String?) {
        self.host = host
        self.port = port
        self.textfile = textfile
    }

    static func read(_ section: MappingReader?, root: String) -> MetricsSettings? {
        guard let section else { return nil }
        let listen = section.scalar("listen", required: false, expected: "a loopback address and port, like 127.0.0.1:9464",
                                    example: "\"127.0.0.1:9464\"", ipv4AndPort)
        if let (host, _) = listen, !host.hasPrefix("127.") {
            section.error("listen", line: section.line(of: "listen"), "\(host) is not a loopback address: the metrics would be open to the network",
                          fix: "listen on 127.0.0.1 and let a local Prometheus agent or node exporter scrape it")
        }
        var textfile: String?
        if let relative = section.string("textfile", required: false, example: "var/metrics/nightshift.prom") {
            switch ConfigText.inside(root, relative) {
            case let .failure(failure):
                section.error("textfile", line: section.line(of: "textfile"), failure.problem,
                              fix: "give a path relative to the directory holding etc/, e.g. var/metrics/nightshift.prom (point node exporter's --collector.textfile.directory there)")
            case .success where !relative.hasSuffix(".prom"):
                section.error("textfile", line: section.line(of: "textfile"), "`\(relative)` does not end in .prom, which node exporter's textfile collector requires",
                              fix: "name it like var/metrics/nightshift.prom")
            case let .success(path):
                textfile = path
            }
        }
        section.finish()
        return MetricsSettings(host: listen?.0, port: listen?.1, textfile: textfile)
    }
}
