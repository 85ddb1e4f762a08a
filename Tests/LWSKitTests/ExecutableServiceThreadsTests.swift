import Foundation
import Testing

/// `simple-server --threads 4 --mirror` as a user runs it: four `lwskit-*` threads, each
/// serving and using CPU; a room spanning the threads; SIGTERM closing every client with 1001.
@Suite("simple-server --threads", .serialized, .timeLimit(.minutes(3)))
struct ExecutableServiceThreadsTests {
    /// Fewer under the sanitizers, whose slower server would starve the tests beside it (the
    /// 100-client tests of other suites missed their handshake timeouts 1-2 runs in 10).
    private static let manyClients = isUnderSanitizer ? 20 : 400
    private static let echoes = isUnderSanitizer ? 5 : 20
    private static let roomMessages = isUnderSanitizer ? 50 : 500

    private func startServer(_ extra: [String] = []) async throws -> (PeerProcess, String) {
        let server = try PeerProcess(try Peers.executable("simple-server"),
                                     ["--port", "0", "--host", "127.0.0.1", "--threads", "4", "--log-level", "warning"] + extra)
        let port = try await server.waitForOutput(/listening on [^\n]*:(\d+)/)
        return (server, port)
    }

    /// The server's loop threads: name and CPU time used so far in nanoseconds, from
    /// /proc/PID/task/*/comm and schedstat (exact, where stat's clock ticks round a thread
    /// that ran under 10 ms down to nothing).
    private func loopThreads(of pid: Int32) throws -> [(name: String, nanoseconds: Int)] {
        let tasks = "/proc/\(pid)/task"
        return try FileManager.default.contentsOfDirectory(atPath: tasks).compactMap { id in
            let name = try String(contentsOfFile: "\(tasks)/\(id)/comm", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            guard name.hasPrefix("lwskit-") else { return nil }
            let schedstat = try String(contentsOfFile: "\(tasks)/\(id)/schedstat", encoding: .utf8)
            return (name, Int(schedstat.split(separator: " ")[0])!)
        }
    }

    @Test func fourThreadsServeManyClientsAndARoomSpansThem() async throws {
        let (server, port) = try await startServer(["--mirror"])
        defer { server.send(signal: SIGTERM) }
        let started = try loopThreads(of: server.pid)
        #expect(started.count == 4, "\(started)")

        // Each client in a room of its own: its messages come back to it alone.
        let echo = try PeerProcess.python("many_clients.py", [
            "echo", "ws://127.0.0.1:\(port)/rooms", "--room-per-client", "--clients", "\(Self.manyClients)", "--messages", "\(Self.echoes)",
        ])
        #expect(try await echo.waitForExit(timeout: .seconds(120)) == 0, "\(echo.standardOutput) \(echo.standardError)")
        let threads = try loopThreads(of: server.pid)
        #expect(threads.count == 4 && threads.allSatisfy { $0.nanoseconds > 0 }, "a loop thread used no CPU: \(threads)")

        // 20 subscribers spread over the four threads (five each, the fewest-peers rule), and a
        // publisher that joins last: most subscribers are on other threads than its own.
        let room = try PeerProcess.python("many_clients.py", ["room", "ws://127.0.0.1:\(port)/rooms/x", "--clients", "20", "--messages", "\(Self.roomMessages)"])
        #expect(try await room.waitForExit(timeout: .seconds(120)) == 0, "\(room.standardOutput) \(room.standardError)")
        #expect(room.standardOutput.contains("OK 20 subscribers received \(Self.roomMessages) messages each, in order"))
    }

    /// Out of descriptors (`ulimit -n` 64): peers past the limit wait in the listen backlog,
    /// the server logs it and does not spin on the readable listening socket, and once peers
    /// leave, the waiting ones are served.
    @Test func atTheDescriptorLimitPeersWaitAndTheServerDoesNotSpin() async throws {
        let server = try PeerProcess("/usr/bin/prlimit", [
            "--nofile=64:64", try Peers.executable("simple-server"),
            "--port", "0", "--host", "127.0.0.1", "--threads", "2", "--log-level", "warning",
        ])
        defer { server.send(signal: SIGTERM) }
        let port = Int(try await server.waitForOutput(/listening on [^\n]*:(\d+)/))!
        var sockets: [RawSocket] = []
        for _ in 0..<80 {
            let socket = try RawSocket(port: port)
            try socket.write(RawSocket.upgradeRequest(port: port, target: "/", subprotocol: "daniel"))
            sockets.append(socket)
        }
        let logged = ContinuousClock.now + .seconds(10)
        while !server.standardError.contains("cannot accept peers"), ContinuousClock.now < logged {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(server.standardError.contains("cannot accept peers: Too many open files"), "\(server.standardError)")
        let before = try cpuSeconds(of: server.pid)
        try await Task.sleep(for: .seconds(1))
        let busy = try cpuSeconds(of: server.pid) - before
        #expect(busy < 0.5, "simple-server used \(busy) s of CPU in 1 s while out of descriptors")

        // The first 30 were served first; once they leave, every other one is answered.
        for socket in sockets.prefix(30) { socket.close() }
        let waiting = Array(sockets.dropFirst(30))
        let answers = try await offThePool {
            let deadline = ContinuousClock.now + .seconds(20)
            return waiting.map { socket in
                String(decoding: socket.read(until: deadline) { String(decoding: $0, as: UTF8.self).contains("\r\n\r\n") }.bytes, as: UTF8.self)
            }
        }
        for (index, answer) in answers.enumerated() {
            #expect(answer.hasPrefix("HTTP/1.1 101"), "peer \(index + 30) was never served: \(answer)")
        }
        for socket in sockets.dropFirst(30) { socket.close() }
    }

    @Test func sigtermClosesEveryClientOnEveryThreadWith1001() async throws {
        let (server, port) = try await startServer()
        let count = isUnderSanitizer ? 20 : 200
        let holders = try PeerProcess.python("many_clients.py", ["hold", "ws://127.0.0.1:\(port)/", "--clients", "\(count)"])
        _ = try await holders.waitForOutput(/ready (\d+)/, timeout: .seconds(60))
        server.send(signal: SIGTERM)
        #expect(try await server.waitForExit(timeout: .seconds(20)) == 0, "\(server.standardError)")
        // Every close frame went out within simple-server's grace period (2 s): past it, the
        // connections left would be dropped without one.
        #expect(try await holders.waitForExit() == 0, "\(holders.standardOutput) \(holders.standardError)")
        #expect(holders.standardOutput.contains("OK \(count) clients closed with 1001"))
    }
}
