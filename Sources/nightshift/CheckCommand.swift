import ArgumentParser
import Foundation
import NightShiftAPI
import NightShiftConfig
import NightShiftConsole
import NightShiftCore
import NightShiftEngine
import NightShiftMail
import Packaging
import PostgresClient

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate etc/nightshift.yaml, every job file, the dependency graph, the templates (the console's too), the export keys, the trigger's TLS files and the SMTP credentials file.",
        discussion: """
            Prints every problem with its file, line and key and how to fix it. Exits 1 when there is any. When a \
            database is configured, also says where its copy of the people's rules (nightshift.operators, \
            nightshift.request_policy: what the request functions decide by) differs from etc/ — `nightshift migrate` \
            or any runner's start makes them equal.
            """
    )

    @OptionGroup var options: GlobalOptions

    func run() throws {
        let root = options.absoluteRoot
        let (configuration, errors) = Configuration.check(root: root)
        var problems = errors.map(\.description)
        if let configuration {
            let settings = configuration.settings
            for name in ["summary", "alert", "ops"] {
                do { _ = try MailTemplates(directory: settings.templatesDirectory, name: name) } catch { problems.append("\(error)") }
            }
            if settings.console != nil {
                do { _ = try ConsoleTemplates(directory: settings.templatesDirectory) } catch { problems.append("\(error)") }
            }
            // Every export's and customer-data report's keys must be in the keyring: recipients able to
            // encrypt, the signing key able to sign.
            var recipients: [String: (job: String, section: String)] = [:]
            var signers: Set<String> = []
            for job in configuration.jobs {
                switch job.action {
                case let .export(spec):
                    for recipient in spec.recipients where recipients[recipient] == nil { recipients[recipient] = (job.name, "export") }
                    if spec.sign { signers.insert(job.name) }
                case let .report(spec):
                    for recipient in spec.recipients where recipients[recipient] == nil { recipients[recipient] = (job.name, "report") }
                default: continue
                }
            }
            let pgp = try OpenPGPContext(homedir: settings.keyring)
            for (recipient, user) in recipients.sorted(by: { $0.key < $1.key }) {
                do { _ = try pgp.encryptionKey(for: recipient) } catch {
                    problems.append("jobs/\(user.job).yaml: \(user.section).recipients (\(recipient)): \(error)")
                }
            }
            // Archive jobs verify by decrypting: the keyring needs a secret key of one recipient.
            for job in configuration.jobs {
                guard case let .archive(spec) = job.action else { continue }
                let keys = spec.recipients.map { recipient in Result { try pgp.encryptionKey(for: recipient) } }
                for case let (recipient, .failure(error)) in zip(spec.recipients, keys) {
                    problems.append("jobs/\(job.name).yaml: archive.recipients (\(recipient)): \(error)")
                }
                let usable = keys.compactMap { try? $0.get() }
                if !usable.isEmpty, !usable.contains(where: { (try? pgp.hasSecretKey(for: $0.fingerprint)) == true }) {
                    problems.append("jobs/\(job.name).yaml: archive.recipients: the keyring \(settings.keyring) holds no secret key of "
                                    + "\(spec.recipients.joined(separator: ", ")), so archives could not be verified before rows are deleted; "
                                    + "import one recipient's secret key or add a recipient whose secret key it holds")
                }
            }
            // The trigger's TLS files are loaded when the service starts; say now if they could not be.
            if let tls = settings.api?.tls {
                do { _ = try HTTPService.tlsConfiguration(tls) } catch { problems.append("etc/nightshift.yaml: api.tls: \(error)") }
            }
            // The SMTP credentials are read when mail is sent; say now if they could not be.
            if let file = settings.mail.smtp?.credentialsFile, case let .failure(error) = SMTPCredentials.read(path: file) {
                problems.append("etc/nightshift.yaml: mail.smtp.credentials: \(error)")
            }
            if let signingKey = settings.signingKey, !signers.isEmpty {
                do { _ = try pgp.signingKey(for: signingKey) } catch {
                    problems.append("etc/nightshift.yaml: export.signing_key (used by \(signers.sorted().joined(separator: ", "))): \(error)")
                }
            }
        }
        if let configuration {
            for warning in configuration.warnings + configuration.calendarCoverageWarnings(from: Date(), days: 90) {
                print("warning: \(warning)")
            }
            for line in databaseRules(configuration) { print(line) }
        }
        if problems.isEmpty, let configuration {
            let byBatch = Dictionary(grouping: configuration.jobs, by: \.batch)
            print("configuration OK: \(configuration.jobs.count) job\(configuration.jobs.count == 1 ? "" : "s") in \(root)")
            for batch in BatchKind.allCases {
                guard let jobs = byBatch[batch] else { continue }
                let order = try DependencyGraph(jobs).order().map(\.name)
                print("  \(batch.rawValue): \(order.joined(separator: " → "))")
            }
            return
        }
        for problem in problems { print("error: \(problem)") }
        print("\(problems.count) problem\(problems.count == 1 ? "" : "s") found")
        throw ExitCode(1)
    }

    /// Where the database's copy of the people's rules differs from etc/ (nothing when no
    /// database is configured).
    private func databaseRules(_ configuration: Configuration) -> [String] {
        let conninfo = connectionString(options, configuration.settings)
        guard !conninfo.isEmpty else { return [] }
        do {
            let db = try PostgresConnection(conninfo: conninfo)
            defer { db.close() }
            let differences = try OperatorsTable(db: db).differences(from: configuration.requestPolicy, zone: configuration.settings.timeZone)
            return differences.map { "warning: the database's people's rules differ: \($0); `nightshift migrate` makes them equal" }
        } catch let error as PostgresError where ["42P01", "3F000"].contains(error.sqlState ?? "") {
            return ["note: the database's NightShift schema is missing or older than this version; `nightshift migrate` brings it up to date with the people's rules of etc/"]
        } catch {
            return ["note: the database's copy of the people's rules was not compared: \(error)"]
        }
    }
}
