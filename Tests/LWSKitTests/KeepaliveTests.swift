import Foundation
import Testing
@testable import LWSKit

/// Pings, pongs and the idle timeout.
@Suite("Keepalive", .timeLimit(.minutes(2)))
struct KeepaliveTests {
    private static let policy = KeepalivePolicy(pingInterval: .seconds(1), idleTimeout: .seconds(3))

    /// A started server that pings after 1 s idle, hangs up after 3 s, and records its events.
    private func keepaliveServer(recordingInto recorder: EventRecorder) throws -> WebSocketServer {
        let server = try WebSocketServer(
            configuration: .init(host: "127.0.0.1", port: 0, protocols: [.init(name: "daniel", handler: recorder.handler)],
                                 keepalive: Self.policy),
            logger: testLogger("keepalive"))
        try server.start()
        return server
    }

    /// Servers drop idle peers by default (issue 13: a silent peer, or one that stopped after
    /// a frame header, was kept until the process ended); nil opts out.
    @Test func serversPingAndDropIdlePeersByDefault() {
        let configuration = WebSocketServerConfiguration(port: 0, protocols: [EchoServer.daniel])
        #expect(configuration.keepalive == KeepalivePolicy(pingInterval: .seconds(60), idleTimeout: .seconds(120)))
        #expect(WebSocketServerConfiguration(port: 0, protocols: [EchoServer.daniel], keepalive: nil).keepalive == nil)
    }

    @Test func aPeerThatNeverAnswersPingsIsDroppedWithinTheIdleTimeout() async throws {
        let serverSide = EventRecorder()
        let server = try keepaliveServer(recordingInto: serverSide)
        defer { server.syncShutdown() }

        let silent = try RawSocket(port: server.port)
        #expect(try silent.handshake().hasPrefix("HTTP/1.1 101"))
        let connected = ContinuousClock.now
        try await serverSide.waitEstablished()
        guard case .closed = try await serverSide.waitForEnd(timeout: .seconds(10)) else {
            Issue.record("expected a close, got \(serverSide.snapshot)")
            return
        }
        // Not before the idle window; the upper bound is the 10-second wait above (the 6-second
        // figure a user sees is pinned by the serialized simple-server test).
        let elapsed = ContinuousClock.now - connected
        #expect(elapsed >= .seconds(2), "dropped after only \(elapsed)")
    }

    /// A frame header announcing 1 MiB (within the limit; more is refused with 1009 at once,
    /// see `HostilePeerTests`), then nothing: lws gives LWSKit no callback for it (no payload,
    /// no RECEIVE), so only the idle timeout can end it.
    @Test func aPeerStuckAfterAFrameHeaderIsDroppedWithinTheIdleTimeout() async throws {
        let serverSide = EventRecorder()
        let server = try keepaliveServer(recordingInto: serverSide)
        defer { server.syncShutdown() }
        let stuck = try RawSocket(port: server.port)
        #expect(try stuck.handshake().hasPrefix("HTTP/1.1 101"))
        try await serverSide.waitEstablished()
        try stuck.write([0x82, 0xFF, 0, 0, 0, 0, 0, 0x10, 0, 0, 1, 2, 3, 4])
        guard case .closed = try await serverSide.waitForEnd(timeout: .seconds(10)) else {
            Issue.record("expected a close, got \(serverSide.snapshot)")
            return
        }
    }

    @Test func aPeerThatAnswersPingsStays() async throws {
        // The client sends nothing after its handshake: only its pongs to the server's keepalive
        // pings keep it valid. (lws 4.1 does not report those empty pongs to the handler.)
        let serverSide = EventRecorder()
        let server = try keepaliveServer(recordingInto: serverSide)
        defer { server.syncShutdown() }
        let client = try makeClient()
        defer { client.syncShutdown() }

        let recorder = EventRecorder()
        try client.connect(to: "ws://127.0.0.1:\(server.port)/", subprotocol: "daniel", handler: recorder.handler)
        try await serverSide.waitEstablished()
        try await Task.sleep(for: .seconds(4.5))  // longer than the idle timeout
        let events = serverSide.snapshot
        let ended = events.contains { $0.isTerminal }
        #expect(!ended, "a responsive client was dropped: \(events)")
    }

    @Test func aUserPingIsAnsweredWithItsPayload() async throws {
        let session = try EchoSession()
        defer { session.shutdown() }
        try await session.recorder.waitEstablished()
        try session.connection.ping([1, 2, 3])
        try await session.recorder.wait(for: "pong") { $0.contains(.pong([1, 2, 3])) }
        #expect(throws: LWSError.self) { try session.connection.ping([UInt8](repeating: 0, count: 126)) }
    }

    @Test func keepaliveMustHangUpAfterItPings() {
        #expect(throws: LWSError.self) {
            try WebSocketClient(configuration: .init(keepalive: .init(pingInterval: .seconds(5), idleTimeout: .seconds(5))))
        }
    }
}
