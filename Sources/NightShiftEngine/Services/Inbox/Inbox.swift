import Foundation
import NightShiftConfig
import NightShiftCore
import Packaging
import PostgresClient
#if canImport(Glibc)
import Glibc
#endif

/// The watched folder of event files (`paths.inbox`) and what happens to each file:
///
/// 1. **Complete files only.** A name starting with `.` or ending in `.tmp`, `.part` or `.swp`
///    is being written and is left alone. A file renamed into the folder is complete; any other
///    is taken once its size and modification time are the same at two looks `settle` apart.
/// 2. **Claim** by renaming it into `processing/` (atomic: of several runners, one wins).
/// 3. **Record** it in one transaction: its SHA-256 (unique: the same content twice is one
///    event), valid or rejected with the reason, and for a valid event the request it makes.
/// 4. **Move** it to `processed/`, or to `rejected/` with `<file>.reason` beside it.
///
/// The folders are the runner's: processing/, processed/ and rejected/ must be real directories it
/// owns that nobody else may write to (checked at every pass; else the intake refuses to work and
/// says why), and the inbox itself a real directory. Files are opened without following links, and
/// their size is checked on the open descriptor before they are read. Anything in the inbox that is
/// not a regular file (a link, a FIFO, a directory) is moved aside to rejected/ with the reason.
///
/// A runner killed at any step leaves the file in the inbox or in `processing/`; the next pass
/// (of any runner) takes files in `processing/` that nobody touched for `abandoned` seconds, finds
/// the row of step 3 if it was written, and only finishes the move: no event is lost, none runs
/// twice.
final class Inbox {
    let root: String
    var processing: String { "\(root)/processing" }
    var processed: String { "\(root)/processed" }
    var rejected: String { "\(root)/rejected" }
    /// How long size and mtime must hold still.
    let settle: TimeInterval
    /// How long a file may sit in processing/ before another pass takes it over.
    let abandoned: TimeInterval
    private var sightings: [String: (size: Int64, mtime: Double, at: Date)] = [:]
    private var renamedIn: Set<String> = []
    /// Files this process claimed (processing/ files of others are left to them until abandoned).
    private var firstPass = true

    init(root: String, settle: TimeInterval = 0.5, abandoned: TimeInterval = 60) {
        self.root = root
        self.settle = settle
        self.abandoned = abandoned
    }

    func prepare() throws {
        for directory in [root, processing, processed, rejected] { try PrivateFiles.makeDirectory(directory) }
        try checkDirectories()
    }

    /// The inbox is a real directory (others may drop files into it); the runner's own folders are
    /// real directories it owns and nobody else may write to.
    func checkDirectories() throws {
        var info = Glibc.stat()
        guard lstat(root, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw FileSafetyError(path: root, problem: "is not a real directory (a symbolic link, or missing)",
                                  fix: "make paths.inbox a directory; NightShift creates it when it is missing")
        }
        for directory in [processing, processed, rejected] { try PrivateFiles.checkOwnDirectory(directory) }
    }

    /// What is in the inbox and is neither a regular file nor being written nor one of the
    /// runner's folders: links, FIFOs, devices, directories.
    private(set) var strays: [(name: String, what: String)] = []

    /// Moves a stray entry (the entry itself, never what a link points to) to rejected/ with why.
    func setAside(_ name: String, because reason: String) throws {
        let target = freeName(in: rejected, for: name)
        try writeReason(reason, for: target)
        guard rename("\(root)/\(name)", target) == 0 || errno == ENOENT else {
            throw InboxError(path: "\(root)/\(name)", operation: "rename to rejected/", code: errno)
        }
    }

    private func freeName(in destination: String, for name: String) -> String {
        var target = "\(destination)/\(name)"
        var n = 1
        while Inbox.fileInfo(target) != nil {
            n += 1
            target = "\(destination)/\(name).\(n)"
        }
        return target
    }

    /// `<target>.reason`, written whole with a fixed mode, never through a link.
    private func writeReason(_ reason: String, for target: String) throws {
        try PrivateFiles.write(Data((reason + "\n").utf8), to: "\(target).reason")
    }

    func noteRenamedIn(_ names: [String]) { renamedIn.formUnion(names) }

    static func isTemporary(_ name: String) -> Bool {
        name.hasPrefix(".") || name.hasSuffix(".tmp") || name.hasSuffix(".part") || name.hasSuffix(".swp") || name.hasSuffix("~")
    }

    /// Files of the inbox ready to be claimed now, and whether others are still settling.
    func ready(now: Date = Date()) throws -> (names: [String], settling: Bool) {
        var names: [String] = []
        var present: Set<String> = []
        strays = []
        let own: Set<String> = ["processing", "processed", "rejected"]
        for name in try FileManager.default.contentsOfDirectory(atPath: root).sorted() where !Inbox.isTemporary(name) && !own.contains(name) {
            guard let info = Inbox.fileInfo("\(root)/\(name)") else { continue }
            guard info.isRegular else {
                strays.append((name, info.kind))
                continue
            }
            present.insert(name)
            if renamedIn.contains(name) {
                names.append(name)
                continue
            }
            if let seen = sightings[name], seen.size == info.size, seen.mtime == info.mtime {
                if now.timeIntervalSince(seen.at) >= settle { names.append(name) }
            } else {
                sightings[name] = (info.size, info.mtime, now)
            }
        }
        sightings = sightings.filter { present.contains($0.key) }
        renamedIn.formIntersection(present)
        let settling = sightings.keys.contains { !names.contains($0) }
        return (names, settling)
    }

    /// Claims `name` into processing/; nil when another runner took it first.
    func claim(_ name: String) throws -> String? {
        sightings[name] = nil
        renamedIn.remove(name)
        let target = "\(processing)/\(name)"
        if rename("\(root)/\(name)", target) == 0 { return target }
        if errno == ENOENT { return nil }
        throw InboxError(path: "\(root)/\(name)", operation: "rename to processing/", code: errno)
    }

    /// Files in processing/ to take over: all of them on this process's first pass (a restart
    /// after a crash), else those nobody touched for `abandoned` seconds (a dead runner's).
    func leftInProcessing(now: Date = Date()) throws -> [String] {
        defer { firstPass = false }
        return try FileManager.default.contentsOfDirectory(atPath: processing).sorted().filter { name in
            guard !name.hasSuffix(".reason"), let info = Inbox.fileInfo("\(processing)/\(name)"), info.isRegular else { return false }
            return firstPass || now.timeIntervalSince1970 - info.ctime >= abandoned
        }
    }

    /// Moves a handled file out of processing/ (to processed/ or rejected/, with the reason).
    func finish(_ name: String, rejectedBecause reason: String?) throws {
        let destination = reason == nil ? processed : rejected
        let target = freeName(in: destination, for: name)
        // The reason first, written whole: never a rejected file without it.
        if let reason { try writeReason(reason, for: target) }
        guard rename("\(processing)/\(name)", target) == 0 else {
            if errno == ENOENT { return } // another runner finished it
            throw InboxError(path: "\(processing)/\(name)", operation: "rename to \((destination as NSString).lastPathComponent)/", code: errno)
        }
    }

    struct FileInfo {
        let size: Int64
        let mtime: Double
        let ctime: Double
        let isRegular: Bool
        /// What it is, in words: "a symbolic link", "a FIFO", "a directory", …
        let kind: String
    }

    /// lstat: a symbolic link is not a regular file, so a link in the inbox is never followed.
    static func fileInfo(_ path: String) -> FileInfo? {
        var info = Glibc.stat()
        guard lstat(path, &info) == 0 else { return nil }
        let kind = switch info.st_mode & S_IFMT {
        case S_IFREG: "a regular file"
        case S_IFLNK: "a symbolic link"
        case S_IFIFO: "a FIFO"
        case S_IFDIR: "a directory"
        case S_IFSOCK: "a socket"
        default: "a device"
        }
        return FileInfo(size: Int64(info.st_size),
                        mtime: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9,
                        ctime: Double(info.st_ctim.tv_sec) + Double(info.st_ctim.tv_nsec) / 1e9,
                        isRegular: (info.st_mode & S_IFMT) == S_IFREG, kind: kind)
    }
}

/// What the intake did with one event file.
enum EventHandling: Equatable {
    case processed(event: Int, request: Int?)
    case rejected(event: Int, reason: String)
    /// The same content came before (another file name): not run again.
    case duplicate(of: Int)
}

extension Inbox {
    /// Records the claimed file `name` (in processing/) and makes its request, in one
    /// transaction, then moves it on. Safe to repeat for the same file at any step.
    func handle(_ name: String, db: PostgresConnection, configuration: Configuration, today: LocalDate, runner: String,
                host: String) throws -> EventHandling {
        let path = "\(processing)/\(name)"
        // Never through a link, never more than an event may hold (fstat, before reading).
        let data = try PrivateFiles.readRegular(path, maxBytes: InboxEventRules.maxFileBytes)
        let hash = SHA256()
        hash.update(data)
        let sha = try hash.finalize()
        let inbox = RequestStore(db: db), who = OperatorIdentity(account: "inbox", host: host), command = "event file \(name)"
        let handling: EventHandling = try db.transaction {
            // One handler per content at a time; the row says whether it was handled before.
            try db.query("SELECT pg_advisory_xact_lock(hashtext('nightshift.event'), hashtext(\(sha)))")
            let known = try db.query("SELECT id, state, reason, file_name FROM nightshift.events WHERE sha256 = \(sha)")
            if known.rowCount == 1 {
                let row = known.row(0, of: "nightshift.events")
                let id = try row.int("id")
                let knownName = try row.text("file_name")
                let wasRejected = try row.value("state", as: EventFileState.self) == .rejected
                if knownName != name {
                    try db.query("UPDATE nightshift.events SET duplicates = duplicates + 1 WHERE id = \(id)")
                    if wasRejected {
                        // The sender must learn it is still wrong: rejected again, with the reason.
                        let reason = "the same content as event #\(id) (\(knownName)), which was rejected: \(try row.optionalText("reason") ?? "")"
                        try inbox.refuse(by: who, command: command, reason: reason)
                        return .rejected(event: id, reason: reason)
                    }
                    try inbox.refuse(by: who, command: command,
                                     reason: "the same content as event #\(id) (\(knownName)): not run again")
                    return .duplicate(of: id)
                }
                if wasRejected {
                    return .rejected(event: id, reason: try row.optionalText("reason") ?? "rejected")
                }
                return .processed(event: id, request: nil)
            }
            switch EventFile.parse(data, jobs: configuration.jobs, today: today) {
            case let .failure(rejection):
                let id = try db.query("""
                    INSERT INTO nightshift.events (sha256, file_name, runner, state, reason) VALUES (\(sha), \(name), \(runner), 'rejected', \(rejection.description)) RETURNING id
                    """).scalarInt(of: "nightshift.events")
                try inbox.refuse(by: who, command: command, reason: rejection.description)
                return .rejected(event: id, reason: rejection.description)
            case let .success(event):
                let id = try db.query("""
                    INSERT INTO nightshift.events (sha256, file_name, runner, state, type, business_date, priority, source, job)
                    VALUES (\(sha), \(name), \(runner), 'processed', \(event.type.rawValue), \(event.businessDate.description)::date, \(event.priority.rawValue), \(event.source), \(event.job)) RETURNING id
                    """).scalarInt(of: "nightshift.events")
                var requestID: Int?
                let batch = event.job.flatMap { job in configuration.jobs.first { $0.name == job }?.batch } ?? event.type.batch
                if let batch {
                    let submission = RequestStore.Submission(source: .event, batch: batch, job: event.job, businessDate: event.businessDate,
                                                             priority: event.priority,
                                                             reason: "event #\(id) \(event.type.rawValue) from \(event.source)"
                                                                + (event.note.map { ": \($0)" } ?? ""))
                    if case let .recorded(request, _) = try inbox.submitSystem(submission, requestedBy: "event:\(event.source)", host: host,
                                                                               command: command, quota: nil) {
                        requestID = request
                        try db.query("UPDATE nightshift.events SET request_id = \(request) WHERE id = \(id)")
                    }
                }
                return .processed(event: id, request: requestID)
            }
        }
        switch handling {
        case .processed, .duplicate: try finish(name, rejectedBecause: nil)
        case let .rejected(_, reason): try finish(name, rejectedBecause: reason)
        }
        return handling
    }
}
