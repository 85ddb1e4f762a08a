import Foundation
import Testing
@testable import LWSKit

/// A peer that sends without reading must not make the server grow without bound.
@Suite("Backpressure", .timeLimit(.minutes(2)))
struct BackpressureTests {
    @Test func anEchoServerStopsReadingFromAPeerThatNeverReads() async throws {
        let connections = LockedValue<[WebSocketConnection]>([])
        let echo = WebSocketProtocol(name: "daniel") { connection, event in
            switch event {
            case .established: connections.withLock { $0.append(connection) }
            case .message(let message): try? connection.send(message)
            default: break
            }
        }
        let server = try EchoServer(protocols: [echo])
        defer {
            server.server.syncShutdown(grace: .milliseconds(500))
            // The handler holds `connections`, which holds the connection, which holds the handler.
            connections.withLock { $0.removeAll() }
        }

        let greedy = try RawSocket(port: server.port)
        #expect(try greedy.handshake().hasPrefix("HTTP/1.1 101"))
        let frame = RawSocket.maskedFrame(payload: pattern(1 << 20, seed: 5))
        let offered = 256 << 20
        let accepted = try await offThePool { greedy.offer(frame, total: offered, until: .now + .seconds(3)) }
        let serverSide = try #require(connections.withLock { $0.first })
        let limits = WebSocketLimits()

        #expect(accepted < 64 << 20, "the server kept reading: \(accepted) of \(offered) bytes accepted")
        #expect(serverSide.bufferedAmount > limits.sendHighWaterMark, "the echo backlog should have reached the high-water mark")
        #expect(serverSide.bufferedAmount <= limits.sendHighWaterMark + 2 << 20,
                "the echo backlog grew to \(serverSide.bufferedAmount) bytes")

        // Everyone else is still served meanwhile.
        let session = try makeClient()
        defer { session.syncShutdown() }
        let recorder = EventRecorder()
        try await session.connect(to: server.url, subprotocol: "daniel", handler: recorder.handler).send(.text("still here"))
        #expect(try await recorder.waitForMessages(1) == [.text("still here")])
    }

    @Test func sendThrowsSendBufferFullAtTheCapAndQueuesNothing() async throws {
        let limits = WebSocketLimits(sendHighWaterMark: 64 << 10, sendLowWaterMark: 16 << 10, maxBufferedBytes: 256 << 10)
        let outcome = LockedValue<(sent: Int, error: LWSError?, buffered: Int)?>(nil)
        let pusher = WebSocketProtocol(name: "daniel") { connection, event in
            guard case .established = event else { return }
            // The peer never reads: push 100 KiB messages until the cap refuses one.
            var sent = 0
            var failure: LWSError?
            while failure == nil && sent < 10_000 {
                do {
                    try connection.send(.binary([UInt8](repeating: 7, count: 100 << 10)))
                    sent += 1
                } catch {
                    failure = error as? LWSError
                }
            }
            outcome.withLock { $0 = (sent, failure, connection.bufferedAmount) }
        }
        let server = try EchoServer(limits: limits, protocols: [pusher])
        defer { server.server.syncShutdown(grace: .milliseconds(500)) }

        let silent = try RawSocket(port: server.port)
        #expect(try silent.handshake().hasPrefix("HTTP/1.1 101"))
        try await EventRecorder().wait(for: "the pusher to stop") { _ in outcome.withLock { $0 != nil } }
        let result = try #require(outcome.withLock { $0 })
        #expect(result.error == .sendBufferFull(limit: 256 << 10))
        #expect(result.sent == 2, "two 100 KiB messages fit under 256 KiB, the third does not")
        #expect(result.buffered <= 256 << 10)
    }

    @Test func limitsRejectInconsistentWaterMarks() {
        #expect(throws: LWSError.self) {
            try WebSocketServer(configuration: .init(port: 0, protocols: [EchoServer.daniel],
                                                     limits: .init(sendHighWaterMark: 10, sendLowWaterMark: 20)))
        }
        #expect(throws: LWSError.self) {
            try WebSocketClient(configuration: .init(limits: .init(sendHighWaterMark: 1 << 30, maxBufferedBytes: 1 << 20)))
        }
    }
}
