import Testing
@testable import LWSKit

/// LWSKit against an independent implementation: Python `websockets`.
@Suite("Interop with Python websockets", .timeLimit(.minutes(2)))
struct InteropTests {
    @Test func pythonClientEchoesThroughTheLWSKitServer() async throws {
        let server = try EchoServer()
        defer { server.server.syncShutdown() }

        let python = try PeerProcess.python("ws_client.py", [server.url, "--protocol", "daniel"])
        let status = try await python.waitForExit()
        #expect(status == 0, "python client failed: \(python.standardOutput) \(python.standardError)")
        #expect(python.standardOutput.contains("subprotocol daniel"))
        #expect(python.standardOutput.contains("1 MiB binary: ok"))
        #expect(python.standardOutput.contains("fragmented: ok"))
        #expect(python.standardOutput.hasSuffix("OK\n"))
    }

    @Test func lwskitClientEchoesThroughAPythonServer() async throws {
        // The Python server sends echoes over 1000 bytes as 1000-byte fragments.
        let python = try PeerProcess.python("ws_echo_server.py", ["--fragment-size", "1000"])
        let port = try await python.waitForOutput(/listening on (\d+)/)
        let client = try makeClient()
        defer { client.syncShutdown() }

        let recorder = EventRecorder()
        let connection = try client.connect(to: "ws://127.0.0.1:\(port)/", subprotocol: "daniel", handler: recorder.handler)
        let sent: [Message] = [
            .text("hello python"), .binary([1, 2, 3]), .text(""), .binary([]),
            .binary(pattern(1 << 20, seed: 11)), .text(String(repeating: "ü", count: 100_000)),
        ]
        for message in sent { try await connection.sendWithBackpressure(message) }
        let received = try await recorder.waitForMessages(sent.count)
        #expect(received == sent)
        #expect(connection.subprotocol == "daniel")
        try connection.close()
        #expect(try await recorder.waitForEnd() == .closed(.normalClosure, reason: ""))
    }
}
