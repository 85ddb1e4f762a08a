import Foundation
import Testing
@testable import LWSKit

/// permessage-deflate (RFC 7692) between LWSKit peers and with Python `websockets`, over ws and
/// wss, with random and compressible payloads and the empty messages lws 4.1.6 cannot compress.
@Suite("permessage-deflate", .timeLimit(.minutes(2)))
struct DeflateTests {
    /// A "daniel" echo server with deflate on; TLS with the test leaf when asked.
    private func deflateServer(tls: Bool) throws -> WebSocketServer {
        let certificates = try TestCertificates.shared()
        let server = try WebSocketServer(
            configuration: .init(
                host: "127.0.0.1", port: 0, protocols: [EchoServer.daniel],
                tls: tls ? .init(certificateChain: .file(certificates.leaf.certificate), privateKey: .file(certificates.leaf.key)) : nil,
                permessageDeflate: true
            ),
            logger: testLogger("deflate-server")
        )
        try server.start()
        return server
    }

    private func deflateClient() throws -> WebSocketClient {
        try WebSocketClient(
            configuration: .init(tls: .init(trustRoots: .file(try TestCertificates.shared().ca)), permessageDeflate: true),
            logger: testLogger("deflate-client")
        )
    }

    /// Random bytes (a seed drawn per call): deflate cannot shrink them, so every output buffer
    /// fills.
    private func random(_ count: Int) -> [UInt8] {
        pattern(count, seed: Int.random(in: 0...Int.max))
    }

    /// Sends `messages` on `connection` and checks every echo came back intact and in order.
    private func expectEchoes(_ messages: [Message], on connection: WebSocketConnection) async throws {
        for message in messages { try await connection.sendWithBackpressure(message) }
        var replies: [Message] = []
        for try await reply in connection.messages {
            replies.append(reply)
            if replies.count == messages.count { break }
        }
        #expect(replies.count == messages.count)
        for (index, (reply, sent)) in zip(replies, messages).enumerated() where reply != sent {
            Issue.record("echo \(index) differs: \(reply) for \(sent)")
            break
        }
    }

    @Test(arguments: [false, true])
    func lwskitPeersEchoRandomCompressibleAndEmptyMessages(tls: Bool) async throws {
        let server = try deflateServer(tls: tls)
        defer { server.syncShutdown() }
        let client = try deflateClient()
        defer { client.syncShutdown() }
        let connection = try await client.connect(to: "\(tls ? "wss" : "ws")://localhost:\(server.port)/", subprotocol: "daniel")
        let compressible = String(repeating: "daniel says hello ", count: (4 << 20) / 18)
        var messages: [Message] = [
            .text("first"), .text(""), .binary([]), .text("after empty"), .binary(random(1 << 20)),
            .text(compressible), .binary(random(4 << 20)), .text(""),
        ]
        // Many small messages, written several per WRITEABLE.
        messages += (0..<200).map { .text("small \($0)") }
        try await expectEchoes(messages, on: connection)
    }

    @Test(arguments: [false, true])
    func pythonClientWithCompressionEchoesUpToFourMebibytes(tls: Bool) async throws {
        let server = try deflateServer(tls: tls)
        defer { server.syncShutdown() }
        let ca = try TestCertificates.shared().ca
        let python = try PeerProcess.python("ws_client.py", ["\(tls ? "wss" : "ws")://localhost:\(server.port)/", "--deflate", "--ca", ca])
        #expect(try await python.waitForExit() == 0, "\(python.standardOutput) \(python.standardError)")
        #expect(python.standardOutput.contains("extensions permessage-deflate"))
        #expect(python.standardOutput.contains("4 MiB random binary: ok"))
        #expect(python.standardOutput.contains("4 MiB compressible text: ok"))
    }

    @Test func clientNegotiatesWithAPythonServer() async throws {
        let python = try PeerProcess.python("ws_echo_server.py", [])
        defer { python.send(signal: SIGTERM) }
        let port = try await python.waitForOutput(/listening on (\d+)/)
        let client = try deflateClient()
        defer { client.syncShutdown() }
        let connection = try await client.connect(to: "ws://127.0.0.1:\(port)/", subprotocol: "daniel")
        try await expectEchoes([.binary(random(1 << 20)), .text(""), .text(String(repeating: "z", count: 1 << 20))], on: connection)
        #expect(python.standardOutput.contains("extensions permessage-deflate"), "\(python.standardOutput)")
    }

    @Test func deflateOnOneSideOnlyFallsBackToPlainFrames() async throws {
        let server = try deflateServer(tls: false)
        defer { server.syncShutdown() }
        let plain = try WebSocketClient(logger: testLogger("plain-client"))
        defer { plain.syncShutdown() }
        let connection = try await plain.connect(to: "ws://127.0.0.1:\(server.port)/", subprotocol: "daniel")
        try await expectEchoes([.text(""), .binary(random(100_000)), .text("plain")], on: connection)
    }
}
