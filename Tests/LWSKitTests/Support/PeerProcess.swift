import Foundation
import Testing

/// Runs the independent peers (Python `websockets`) and the example executables as processes.
enum Peers {
    /// The Python interpreter that has `websockets`: `LWSKIT_PYTHON`, else `python3`.
    static var python: String { ProcessInfo.processInfo.environment["LWSKIT_PYTHON"] ?? "python3" }

    /// The folder of the Python peer scripts (`Tests/peers`).
    static let scriptDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("peers")

    /// The folder holding the built executables: `LWSKIT_BIN_DIR`, else the test bundle's
    /// folder (SwiftPM puts every product of a build there).
    static var binDirectory: URL {
        if let override = ProcessInfo.processInfo.environment["LWSKIT_BIN_DIR"] {
            return URL(fileURLWithPath: override)
        }
        return Bundle.main.bundleURL
    }

    /// The path of a built product, or an error saying how to build it.
    static func executable(_ name: String) throws -> String {
        let candidate = binDirectory.appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: candidate) else {
            throw PeerError("\(name) is not built in \(binDirectory.path); run `swift build` first (scripts/test.sh does)")
        }
        return candidate
    }

    /// A Python peer script's path.
    static func script(_ name: String) -> String {
        scriptDirectory.appendingPathComponent(name).path
    }
}

struct PeerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A child process whose output is collected; killed if still running when dropped.
///
/// Started with `posix_spawn` rather than Foundation's `Process`, which on Linux learns that a
/// child exited when a socket it hands the child is closed (swift-corelibs-foundation issue
/// 4795): a child started at the same moment from another thread inherited that socket, and
/// curl, exited and a zombie, was reported running for 60 s; `Process.run()` also crashed once
/// in `memcpy` while the test process had 2,000 sockets open. Here every descriptor of the
/// test process stays out of the child (pipes close-on-exec, then `closefrom(3)` in the child),
/// the child starts with no signal blocked, and a thread of its own reaps it with `waitpid`.
///
/// Each output pipe is read by a thread of its own with blocking reads until end of file.
final class PeerProcess: @unchecked Sendable {
    /// What the reader threads collected; they hold it, not the `PeerProcess`, whose release
    /// must still kill the process.
    private final class Collected: @unchecked Sendable {
        let lock = NSLock()
        /// Bytes as read: a character split across two reads is decoded whole.
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var openStreams = 2
        /// The exit status once the child was reaped (its code, or the signal that ended it).
        var exitStatus: Int32?
    }

    private let collected = Collected()
    private let name: String
    /// The child's process id.
    let pid: pid_t

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's Glibc
    /// module does not declare.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    /// Starts `executable` (a path, or a command found in `PATH`) with `arguments`, in this
    /// process's environment plus `environment`.
    init(_ command: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        let executable = try Self.resolve(command)
        name = URL(fileURLWithPath: executable).lastPathComponent
        var output: [Int32] = [-1, -1], errors: [Int32] = [-1, -1]
        guard pipe(&output) == 0, pipe(&errors) == 0 else {
            throw PeerError("cannot make pipes for \(name): errno \(errno)")
        }
        // (Not atomic: a child spawned meanwhile by another thread may get these, and its
        // `closefrom(3)` closes them.)
        for descriptor in output + errors { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errors[1], 2)
        _ = Self.addCloseFrom?(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), everySignal = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&everySignal)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &everySignal)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let variables = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = variables.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        close(output[1])
        close(errors[1])
        guard status == 0 else {
            close(output[0])
            close(errors[0])
            throw PeerError("cannot start \(executable): \(String(cString: strerror(status)))")
        }
        pid = child
        Self.collect(output[0], into: collected) { $0.stdout += $1 }
        Self.collect(errors[0], into: collected) { $0.stderr += $1 }
        Self.reap(child, into: collected)
    }

    /// Appends what `descriptor` yields with `append` until end of file, on a thread of its
    /// own, then closes it.
    private static func collect(_ descriptor: Int32, into collected: Collected,
                                _ append: @escaping @Sendable (Collected, ArraySlice<UInt8>) -> Void) {
        Thread {
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                collected.lock.withLock { append(collected, buffer[..<count]) }
            }
            close(descriptor)
            collected.lock.withLock { collected.openStreams -= 1 }
        }.start()
    }

    /// Waits for `pid` to end, on a thread of its own, and keeps its status.
    private static func reap(_ pid: pid_t, into collected: Collected) {
        Thread {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            // As Foundation reports it: the exit code, or the number of the signal that ended it.
            let code = status & 0x7f == 0 ? (status >> 8) & 0xff : status & 0x7f
            collected.lock.withLock { collected.exitStatus = code }
        }.start()
    }

    /// Runs a Python peer script.
    static func python(_ script: String, _ arguments: [String]) throws -> PeerProcess {
        try PeerProcess(Peers.python, ["-u", Peers.script(script)] + arguments)
    }

    var standardOutput: String { collected.lock.withLock { String(decoding: collected.stdout, as: UTF8.self) } }
    var standardError: String { collected.lock.withLock { String(decoding: collected.stderr, as: UTF8.self) } }
    var isRunning: Bool { collected.lock.withLock { collected.exitStatus == nil } }
    /// The exit status (meaningful once `waitForExit` returned).
    var exitStatus: Int32 { collected.lock.withLock { collected.exitStatus ?? -1 } }

    /// Each thread's name, state and kernel wait channel from /proc, for the error of a
    /// process that does not exit.
    private var threadStates: String {
        let tasks = "/proc/\(pid)/task"
        guard let ids = try? FileManager.default.contentsOfDirectory(atPath: tasks) else { return "gone" }
        return ids.sorted().map { id in
            let stat = (try? String(contentsOfFile: "\(tasks)/\(id)/stat", encoding: .utf8)) ?? ""
            let name = stat.split(separator: "(").dropFirst().first?.split(separator: ")").first ?? "?"
            let state = stat.split(separator: ")").last?.split(separator: " ").first ?? "?"
            let channel = (try? String(contentsOfFile: "\(tasks)/\(id)/wchan", encoding: .utf8)) ?? "?"
            return "\(name) \(state) \(channel)"
        }.joined(separator: ", ")
    }

    /// Waits for the process to exit; returns its status, or throws after `timeout`.
    func waitForExit(timeout: Duration = .seconds(60)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while isRunning {
            guard ContinuousClock.now < deadline else {
                let threads = threadStates
                kill(pid, SIGTERM)
                throw PeerError("process \(name) still running after \(timeout) (threads: \(threads)); stdout: \(standardOutput) stderr: \(standardError)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        // The readers catch the last bytes (a grandchild may hold the pipes open: 1 s at most).
        let drained = ContinuousClock.now + .seconds(1)
        while collected.lock.withLock({ collected.openStreams > 0 }), ContinuousClock.now < drained {
            try await Task.sleep(for: .milliseconds(5))
        }
        return exitStatus
    }

    /// Waits until standard output has a line matching `regex` and returns its first capture.
    func waitForOutput(_ regex: Regex<(Substring, Substring)>, timeout: Duration = .seconds(30)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let match = standardOutput.firstMatch(of: regex) { return String(match.1) }
            guard isRunning, ContinuousClock.now < deadline else {
                throw PeerError("no output matching the expected line; stdout: \(standardOutput) stderr: \(standardError)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Sends `signal` to the process, unless it has been reaped (its id may be reused then).
    func send(signal: Int32) {
        collected.lock.withLock { if collected.exitStatus == nil { kill(pid, signal) } }
    }

    deinit {
        send(signal: SIGTERM)
    }

    private static func resolve(_ command: String) throws -> String {
        if command.contains("/") { return command }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(directory)/\(command)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw PeerError("\(command) not found in PATH")
    }
}
