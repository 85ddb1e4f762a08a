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
final class PeerProcess: @unchecked Sendable {
    private let process = Process()
    private let output = Pipe()
    private let errors = Pipe()
    private let lock = NSLock()
    private var stdoutText = ""
    private var stderrText = ""

    /// Starts `executable` with `arguments`, in this process's environment plus `environment`.
    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        output.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.withLock { self.stdoutText += String(decoding: data, as: UTF8.self) }
        }
        errors.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.withLock { self.stderrText += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
    }

    /// Runs a Python peer script.
    static func python(_ script: String, _ arguments: [String]) throws -> PeerProcess {
        try PeerProcess(try resolve(Peers.python), ["-u", Peers.script(script)] + arguments)
    }

    var standardOutput: String { lock.withLock { stdoutText } }
    var standardError: String { lock.withLock { stderrText } }
    var isRunning: Bool { process.isRunning }
    /// The exit status (meaningful once `waitForExit` returned).
    var exitStatus: Int32 { process.terminationStatus }
    var pid: Int32 { process.processIdentifier }

    /// Waits for the process to exit; returns its status, or throws after `timeout`.
    func waitForExit(timeout: Duration = .seconds(60)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                process.terminate()
                throw PeerError("process \(process.executableURL!.lastPathComponent) still running after \(timeout); stdout: \(standardOutput) stderr: \(standardError)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        // Let the readability handlers catch the last bytes.
        try await Task.sleep(for: .milliseconds(50))
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
        output.fileHandleForReading.readabilityHandler = nil
        errors.fileHandleForReading.readabilityHandler = nil
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
