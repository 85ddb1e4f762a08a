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
/// Each output pipe is read by a thread of its own with blocking reads until end of file, and
/// the pipe stays open until that thread is done. (Foundation's `readabilityHandler` watches
/// the descriptor with a dispatch source that may still be registered when the `FileHandle`
/// closes it; once the number was reused, libdispatch's event thread crashed on freed memory,
/// or corrupted the heap, in about one full run of the suite in eight.)
final class PeerProcess: @unchecked Sendable {
    /// What the reader threads collected; they hold it, not the `PeerProcess`, whose release
    /// must still kill the process.
    private final class Collected: @unchecked Sendable {
        let lock = NSLock()
        /// Bytes as read: a character split across two reads is decoded whole.
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var openStreams = 2
    }

    private let process = Process()
    private let collected = Collected()

    /// Held while a child process of the tests is made and started, by every thread.
    ///
    /// Foundation's `Process` on Linux learns that a child exited when a socket it hands the
    /// child is closed (swift-corelibs-foundation issue 4795). A child started at the same
    /// moment from another thread inherits that socket, and the first child's exit then goes
    /// unnoticed until the second one ends: curl, exited and a zombie, was reported running for
    /// 60 s while a simple-server started beside it ran. The output pipes of one child leak into
    /// another the same way.
    static let spawning = NSLock()

    /// Starts `executable` with `arguments`, in this process's environment plus `environment`.
    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let (output, errors) = try Self.spawning.withLock {
            let output = Pipe(), errors = Pipe()
            process.standardOutput = output
            process.standardError = errors
            process.standardInput = FileHandle.nullDevice
            try process.run()
            return (output, errors)
        }
        Self.collect(output.fileHandleForReading, into: collected) { $0.stdout += $1 }
        Self.collect(errors.fileHandleForReading, into: collected) { $0.stderr += $1 }
    }

    /// Appends what `handle` yields with `append` until end of file, on a thread of its own.
    private static func collect(_ handle: FileHandle, into collected: Collected,
                                _ append: @escaping @Sendable (Collected, ArraySlice<UInt8>) -> Void) {
        Thread {
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                collected.lock.withLock { append(collected, buffer[..<count]) }
            }
            try? handle.close()
            collected.lock.withLock { collected.openStreams -= 1 }
        }.start()
    }

    /// Runs a Python peer script.
    static func python(_ script: String, _ arguments: [String]) throws -> PeerProcess {
        try PeerProcess(try resolve(Peers.python), ["-u", Peers.script(script)] + arguments)
    }

    var standardOutput: String { collected.lock.withLock { String(decoding: collected.stdout, as: UTF8.self) } }
    var standardError: String { collected.lock.withLock { String(decoding: collected.stderr, as: UTF8.self) } }
    var isRunning: Bool { process.isRunning }
    /// The exit status (meaningful once `waitForExit` returned).
    var exitStatus: Int32 { process.terminationStatus }
    var pid: Int32 { process.processIdentifier }

    /// Each thread's name, state and kernel wait channel from /proc ("Z" for all: it exited and
    /// Foundation has not reaped it yet), for the error of a process that does not exit.
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
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                let threads = threadStates
                process.terminate()
                throw PeerError("process \(process.executableURL!.lastPathComponent) still running after \(timeout) (threads: \(threads)); stdout: \(standardOutput) stderr: \(standardError)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        // The readers catch the last bytes (a grandchild may hold the pipes open: 1 s at most).
        let drained = ContinuousClock.now + .seconds(1)
        while collected.lock.withLock({ collected.openStreams > 0 }), ContinuousClock.now < drained {
            try await Task.sleep(for: .milliseconds(5))
        }
        return process.terminationStatus
    }

    /// Waits until standard output has a line matching `regex` and returns its first capture.
    func waitForOutput(_ regex: Regex<(Substring, Substring)>, timeout: Duration = .seconds(30)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let match = standardOutput.firstMatch(of: regex) { return String(match.1) }
            guard process.isRunning, ContinuousClock.now < deadline else {
                throw PeerError("no output matching the expected line; stdout: \(standardOutput) stderr: \(standardError)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Sends `signal` to the process.
    func send(signal: Int32) { kill(process.processIdentifier, signal) }

    deinit {
        if process.isRunning { process.terminate() }
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
