import Testing
@testable import LWSKit

/// The async style: streaming protocols, `server.connections`, `connection.messages`, async send.
@Suite("Async API", .timeLimit(.minutes(2)))
struct AsyncTests {
    /// An async echo server: every connection in its own child task.
    private func withAsyncEchoServer(
        limits: WebSocketLimits = .init(), _ body: (WebSocketServer) async throws -> Void
    ) async throws {
        let server = try WebSocketServer(
            configuration: .init(host: "127.0.0.1", port: 0, protocols: [.streaming(name: "daniel")], limits: limits, serverLimits: testServerLimits),
            logger: testLogger("async-server"))
        try server.start()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await withTaskGroup(of: Void.self) { connections in
                    for await connection in server.connections {
                        connections.addTask {
                            do {
                                for try await message in connection.messages { try await connection.sendWithBackpressure(message) }
                            } catch {}
                        }
                    }
                }
            }
            defer { group.cancelAll() }
            try await body(server)
            await server.shutdown(grace: .seconds(2))
            try await group.waitForAll()
        }
    }

    @Test func asyncServerAndClientEchoTextBinaryAndSixteenMebibytes() async throws {
        try await withAsyncEchoServer { server in
            let client = try makeClient()
            defer { client.syncShutdown() }
            let connection = try await client.connect(to: "ws://127.0.0.1:\(server.port)/", subprotocol: "daniel")
            #expect(connection.subprotocol == "daniel")
            let sent: [Message] = [.text("hello async"), .binary([9, 8, 7]), .text(""), .binary(pattern(16 << 20, seed: 4))]
            var replies = connection.messages.makeAsyncIterator()
            for message in sent {
                try await connection.sendWithBackpressure(message)
                #expect(try await replies.next() == message)
            }
            try connection.close()
            #expect(try await replies.next() == nil, "a closed connection ends the sequence")
        }
    }

    /// In async code the non-waiting `send` sends to many connections (issue 13: the waiting
    /// overload used to win, so a loop over connections waited for the slowest peer): a peer
    /// that never reads holds up neither the loop nor the peer that does.
    @Test func anAsyncLoopOverConnectionsIsNotHeldUpByAPeerThatNeverReads() async throws {
        let server = try WebSocketServer(
            configuration: .init(host: "127.0.0.1", port: 0, protocols: [.streaming(name: "daniel")]),
            logger: testLogger("async-server"))
        try server.start()
        defer { server.syncShutdown() }
        var arrivals = server.connections.makeAsyncIterator()
        let silent = try RawSocket(port: server.port)
        _ = try silent.handshake()
        let silentConnection = try #require(await arrivals.next())
        let client = try makeClient()
        defer { client.syncShutdown() }
        let reader = try await client.connect(to: "ws://127.0.0.1:\(server.port)/", subprotocol: "daniel")
        let readerConnection = try #require(await arrivals.next())

        let chunk = Message.binary(pattern(64 << 10, seed: 13))
        let count = 200  // 12.8 MiB each: past what the kernel buffers and the high-water mark hold
        for _ in 0..<count {
            for connection in [silentConnection, readerConnection] { try connection.send(chunk) }
        }
        var received = 0
        for try await message in reader.messages {
            #expect(message == chunk)
            received += 1
            if received == count { break }
        }
        #expect(received == count)
        #expect(silentConnection.bufferedAmount > WebSocketLimits().sendHighWaterMark,
                "the silent peer's messages wait in its own queue")
    }

    /// The async style learns why a connection ended once `messages` ends (issue 13): a
    /// client closed by its server with 4401 "invalid token", and a server whose client left
    /// with 4000 "bye".
    @Test func asyncConnectionsTellHowTheyEnded() async throws {
        let server = try WebSocketServer(
            configuration: .init(host: "127.0.0.1", port: 0, protocols: [.streaming(name: "daniel")]),
            logger: testLogger("async-server"))
        try server.start()
        defer { server.syncShutdown() }
        let serving = Task { () -> WebSocketTermination? in
            var accepted = 0
            for await connection in server.connections {
                accepted += 1
                if accepted == 1 {
                    for try await _ in connection.messages { try connection.close(code: CloseCode(rawValue: 4401), reason: "invalid token") }
                } else {
                    for try await _ in connection.messages {}
                    return connection.termination
                }
            }
            return nil
        }
        let client = try makeClient()
        defer { client.syncShutdown() }
        let refused = try await client.connect(to: "ws://127.0.0.1:\(server.port)/", subprotocol: "daniel")
        #expect(refused.termination == nil)
        try await refused.sendWithBackpressure(.text("token: wrong"))
        for try await _ in refused.messages {}
        #expect(refused.termination == .closed(CloseCode(rawValue: 4401), reason: "invalid token"))
        let leaving = try await client.connect(to: "ws://127.0.0.1:\(server.port)/", subprotocol: "daniel")
        try leaving.close(code: CloseCode(rawValue: 4000), reason: "bye")
        #expect(try await serving.value == .closed(CloseCode(rawValue: 4000), reason: "bye"))
    }

    @Test func hundredAsyncClientsEchoConcurrently() async throws {
        try await withAsyncEchoServer { server in
            let client = try makeClient()
            defer { client.syncShutdown() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<100 {
                    group.addTask {
                        let connection = try await client.connect(to: "ws://127.0.0.1:\(server.port)/", subprotocol: "daniel")
                        var replies = connection.messages.makeAsyncIterator()
                        for number in 0..<20 {
                            let message = Message.binary(pattern(100 + number * 37, seed: index * 100 + number))
                            try await connection.sendWithBackpressure(message)
                            let reply = try await replies.next()
                            #expect(reply == message, "client \(index) message \(number)")
                        }
                        try connection.close()
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    @Test func cancellingTheReadingTaskClosesWith1001() async throws {
        let server = try WebSocketServer(
            configuration: .init(host: "127.0.0.1", port: 0, protocols: [.streaming(name: "daniel")]),
            logger: testLogger("async-server"))
        try server.start()
        defer { server.syncShutdown() }
        let reader = Task {
            for await connection in server.connections {
                for try await _ in connection.messages {}
            }
        }
        let session = try makeClient()
        defer { session.syncShutdown() }
        let recorder = EventRecorder()
        try session.connect(to: "ws://127.0.0.1:\(server.port)/", subprotocol: "daniel", handler: recorder.handler)
        try await recorder.waitEstablished()
        try await Task.sleep(for: .milliseconds(50))  // let the reader reach `messages`
        reader.cancel()
        #expect(try await recorder.waitForEnd() == .closed(.goingAway, reason: "cancelled"))
    }

    @Test func aFastSenderWaitsForAReaderThatStoppedReading() async throws {
        let limits = WebSocketLimits(sendHighWaterMark: 256 << 10, sendLowWaterMark: 64 << 10, receiveHighWaterMark: 256 << 10)
        let server = try WebSocketServer(
            configuration: .init(host: "127.0.0.1", port: 0, protocols: [.streaming(name: "daniel")], limits: limits, serverLimits: testServerLimits),
            logger: testLogger("async-server"))
        try server.start()
        defer { server.syncShutdown(grace: .milliseconds(500)) }
        let client = try makeClient(limits: limits)
        defer { client.syncShutdown(grace: .milliseconds(500)) }

        let connection = try await client.connect(to: "ws://127.0.0.1:\(server.port)/", subprotocol: "daniel")
        var accepted = server.connections.makeAsyncIterator()
        let serverSide = try #require(await accepted.next())

        // The server application does not read; the client offers 32 MiB in 1 MiB messages
        // (over 100 times the high-water marks; 64 MiB took a minute under ThreadSanitizer).
        let message = Message.binary(pattern(1 << 20, seed: 8))
        let count = 32
        let sender = Task {
            var sent = 0
            for _ in 0..<count {
                try await connection.sendWithBackpressure(message)
                sent += 1
            }
            return sent
        }
        try await Task.sleep(for: .seconds(2))
        #expect(connection.bufferedAmount <= limits.sendHighWaterMark + (1 << 20),
                "the sender queued \(connection.bufferedAmount) bytes instead of waiting")
        let inbound = try #require(serverSide.state.shared.withLock { $0.inbound })
        #expect(inbound.queuedBytes <= limits.receiveHighWaterMark + (1 << 20),
                "the server buffered \(inbound.queuedBytes) bytes for a reader that stopped")

        // Once the application reads again, everything arrives and the sender finishes.
        var received = 0
        for try await reply in serverSide.messages {
            #expect(reply == message)
            received += 1
            if received == count { break }
        }
        #expect(try await sender.value == count)
    }

    @Test func asyncConnectToAClosedPortThrowsConnectionFailed() async throws {
        let closed = try ClosedPort()
        defer { withExtendedLifetime(closed) {} }
        let port = closed.port
        let client = try makeClient()
        defer { client.syncShutdown() }
        await #expect {
            _ = try await client.connect(to: "ws://127.0.0.1:\(port)/", subprotocol: "daniel")
        } throws: { isConnectionFailure($0, saying: "refused or unreachable") }
    }

    @Test func messagesOfAHandlerConnectionThrowInvalidArgument() async throws {
        let session = try EchoSession()
        defer { session.shutdown() }
        try await session.recorder.waitEstablished()
        await #expect(throws: LWSError.self) {
            for try await _ in session.connection.messages {}
        }
    }
}
