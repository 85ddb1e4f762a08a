import Testing
@testable import LWSKit

/// A client that closes before its handshake completes: the close waits for the handshake and
/// the messages queued before it, and a handshake that fails reports its own error, never a
/// clean close that did not happen.
@Suite("Close while connecting", .timeLimit(.minutes(2)))
struct CloseWhileConnectingTests {
    private static let queued = Message.text("queued before the handshake")

    /// Connects, queues a message and closes with 1000 "bye" in one turn of the client's loop,
    /// so the close surely comes before the handshake completes.
    private func connectQueueAndClose(
        _ client: WebSocketClient, to url: String, recorder: EventRecorder
    ) async throws -> WebSocketConnection {
        try await withCheckedThrowingContinuation { continuation in
            do {
                try client.loop.execute {
                    continuation.resume(with: Result {
                        let connection = try client.connect(to: url, subprotocol: "daniel", handler: recorder.handler)
                        #expect(connection.termination == nil)
                        try connection.send(Self.queued)
                        try connection.close(code: .normalClosure, reason: "bye")
                        #expect(throws: LWSError.connectionClosed) { try connection.send(.text("after close")) }
                        return connection
                    })
                }
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }

    @Test func theQueuedMessageArrivesBeforeTheClose() async throws {
        let serverSide = EventRecorder()
        let server = try EchoServer(protocols: [WebSocketProtocol(name: "daniel", handler: serverSide.handler)])
        defer { server.server.syncShutdown() }
        let client = try makeClient()
        defer { client.syncShutdown() }
        let clientSide = EventRecorder()

        let connection = try await connectQueueAndClose(client, to: server.url, recorder: clientSide)

        #expect(try await clientSide.waitForEnd() == .closed(.normalClosure, reason: "bye"))
        #expect(clientSide.snapshot.first == .established, "the handshake happened, and is announced")
        #expect(connection.termination == .closed(.normalClosure, reason: "bye"))
        #expect(try await serverSide.waitForEnd() == .closed(.normalClosure, reason: "bye"))
        #expect(serverSide.snapshot == [.established, .message(Self.queued), .closed(.normalClosure, reason: "bye")])
    }

    @Test func aTLSFailureIsReportedNotHiddenByTheClose() async throws {
        let certificates = try TestCertificates.shared()
        let server = try WebSocketServer(
            configuration: .init(
                host: "127.0.0.1", port: 0, protocols: [EchoServer.daniel],
                tls: .init(certificateChain: .file(certificates.leaf.certificate), privateKey: .file(certificates.leaf.key))
            ),
            logger: testLogger("tls-server")
        )
        try server.start()
        defer { server.syncShutdown() }
        let client = try makeClient()  // trusts the system's CAs only: the test CA is unknown
        defer { client.syncShutdown() }
        let recorder = EventRecorder()

        let connection = try await connectQueueAndClose(client, to: "wss://localhost:\(server.port)/", recorder: recorder)

        let error = try await recorder.waitForConnectionError()
        guard case .connectionFailed(_, let reason) = error else {
            Issue.record("expected connectionFailed, got \(error)")
            return
        }
        #expect(reason.contains("certificate verify failed: unable to get local issuer certificate"), "\(reason)")
        #expect(recorder.snapshot.count == 1, "no event besides the error: \(recorder.snapshot.map(\.summary))")
        #expect(connection.termination == .failed(error))
    }

    @Test func shuttingDownAbandonsAHandshakeAsNotRunning() async throws {
        // A server that takes the connection and never answers the handshake.
        let silent = try HostileServer { socket in
            _ = socket.readToEnd(until: .now + .seconds(30))
        }
        defer { silent.stop() }
        let client = try makeClient()
        let recorder = EventRecorder()
        let connection = try await connectQueueAndClose(client, to: "ws://127.0.0.1:\(silent.port)/", recorder: recorder)

        await client.shutdown()

        #expect(try await recorder.waitForConnectionError() == .notRunning)
        #expect(recorder.snapshot.count == 1, "\(recorder.snapshot.map(\.summary))")
        #expect(connection.termination == .failed(.notRunning))
    }
}
