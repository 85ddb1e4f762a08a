import Foundation
import Testing

/// simple-server --mirror against Python `websockets` room clients: rooms by URL path, with
/// TLS, a token and permessage-deflate, and a subscriber that never reads.
@Suite("simple-server --mirror", .serialized, .timeLimit(.minutes(2)))
struct ExecutableMirrorTests {
    /// simple-server --mirror on a free port of 127.0.0.1 with `extra` flags, and its port.
    /// (An AddressSanitizer build keeps freed memory in quarantine, 256 MiB by default, which
    /// a server freeing published frames all along would count as resident: 1 MiB here, so that
    /// its RSS says what the server holds.)
    private func startMirror(_ extra: [String] = []) async throws -> (PeerProcess, String) {
        let server = try PeerProcess(try Peers.executable("simple-server"), ["--port", "0", "--host", "127.0.0.1", "--mirror"] + extra,
                                     environment: ["ASAN_OPTIONS": "quarantine_size_mb=1"])
        let port = try await server.waitForOutput(/listening on [^\n]*:(\d+)/)
        return (server, port)
    }

    private func rooms(_ arguments: [String]) async throws -> PeerProcess {
        let clients = try PeerProcess.python("mirror_rooms.py", ["rooms"] + arguments)
        _ = try await clients.waitForExit()
        return clients
    }

    @Test func aMessageReachesEveryoneInItsRoomAndNobodyElse() async throws {
        let (server, port) = try await startMirror()
        defer { server.send(signal: SIGTERM) }
        let clients = try await rooms(["ws://127.0.0.1:\(port)"])
        #expect(clients.exitStatus == 0 && clients.standardOutput.hasSuffix("OK\n"), "\(clients.standardOutput) \(clients.standardError)")
    }

    @Test func roomsWorkWithATokenTLSAndPermessageDeflate() async throws {
        let certificates = try TestCertificates.shared()
        let (server, port) = try await startMirror([
            "--token", "T", "--permessage-deflate", "--tls-cert", certificates.leaf.certificate, "--tls-key", certificates.leaf.key,
        ])
        defer { server.send(signal: SIGTERM) }
        let base = "wss://localhost:\(port)"
        let admitted = try await rooms([base, "--query", "token=T", "--deflate", "--ca", certificates.ca])
        #expect(admitted.exitStatus == 0 && admitted.standardOutput.hasSuffix("OK\n"), "\(admitted.standardOutput) \(admitted.standardError)")
        let refused = try await rooms([base, "--ca", certificates.ca])
        #expect(refused.exitStatus != 0 && "\(refused.standardOutput)\(refused.standardError)".contains("401"),
                "\(refused.standardOutput) \(refused.standardError)")
    }

    /// A subscriber that never reads, while a publisher floods the room: the server's memory
    /// stays bounded, the others receive every message in order, and the silent one is dropped
    /// from, as logged.
    @Test func aSubscriberThatNeverReadsDoesNotGrowTheServerOrStallTheRoom() async throws {
        let (server, port) = try await startMirror(["--log-level", "warning"])
        defer { server.send(signal: SIGTERM) }
        let silent = try RawSocket(port: Int(port)!, receiveBuffer: 4096)
        try silent.write(RawSocket.upgradeRequest(port: Int(port)!, target: "/rooms/flood", subprotocol: "daniel"))
        #expect(try silent.read(until: "\r\n\r\n").hasPrefix("HTTP/1.1 101"))

        // (256 MiB as the issue asks; 16 MiB under the sanitizers, whose slower server starved
        // the tests beside it. The silent socket's small buffer fills within the first few.)
        let total = isUnderSanitizer ? 16 << 20 : 256 << 20
        let flood = try PeerProcess.python("mirror_rooms.py", [
            "flood", "ws://127.0.0.1:\(port)/rooms/flood", "--total", "\(total)", "--size", "\(64 << 10)",
        ])
        var peak = 0
        let deadline = ContinuousClock.now + .seconds(90)
        while flood.isRunning, ContinuousClock.now < deadline {
            peak = max(peak, try residentBytes(of: server.pid))
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await flood.waitForExit() == 0, "\(flood.standardOutput) \(flood.standardError)")
        #expect(flood.standardOutput.contains("OK \(total >> 16) messages"), "\(flood.standardOutput)")
        #expect(peak < 64 << 20, "simple-server's RSS reached \(peak >> 20) MiB")
        #expect(server.standardError.contains("dropping published messages"), "\(server.standardError)")
        silent.reset()
    }
}
