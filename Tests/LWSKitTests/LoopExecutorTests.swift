import Testing
@testable import LWSKit

/// The service thread as an executor: tasks that prefer it and actors isolated to it run on the
/// thread that serves the connections.
@Suite("Loop executor", .timeLimit(.minutes(2)))
struct LoopExecutorTests {
    /// An actor isolated to a server's service thread, counting what its connections send.
    actor Tally {
        let server: WebSocketServer
        private(set) var messages = 0
        nonisolated var unownedExecutor: UnownedSerialExecutor { server.executor.asUnownedSerialExecutor() }

        init(server: WebSocketServer) { self.server = server }

        /// Counts a message and echoes it; returns whether it ran on the service thread.
        func record(_ message: Message, from connection: WebSocketConnection) throws -> Bool {
            messages += 1
            try connection.send(message)
            return server.loops.loops[0].isLoopThread
        }
    }

    @Test func tasksPreferringTheExecutorAndIsolatedActorsRunOnTheServiceThread() async throws {
        let server = try WebSocketServer(
            configuration: .init(host: "127.0.0.1", port: 0, protocols: [.streaming(name: "daniel")]), logger: testLogger("server"))
        try server.start()
        let tally = Tally(server: server)
        let onServiceThread = LockedValue<[Bool]>([])
        let serving = Task(executorPreference: server.executor) {
            for await connection in server.connections {
                onServiceThread.withLock { $0.append(server.loops.loops[0].isLoopThread) }
                for try await message in connection.messages {
                    onServiceThread.withLock { $0.append(server.loops.loops[0].isLoopThread) }
                    let actorRanThere = try await tally.record(message, from: connection)
                    onServiceThread.withLock { $0.append(actorRanThere) }
                }
            }
        }

        let client = try makeClient()
        defer { client.syncShutdown() }
        let connection = try await client.connect(to: "ws://127.0.0.1:\(server.port)/", subprotocol: "daniel")
        var replies = connection.messages.makeAsyncIterator()
        for number in 0..<50 {
            try await connection.sendWithBackpressure(.text("number \(number)"))
            #expect(try await replies.next() == .text("number \(number)"))
        }
        #expect(await tally.messages == 50)
        let observed = onServiceThread.withLock { $0 }
        #expect(observed.count == 101 && observed.allSatisfy { $0 }, "\(observed.filter { !$0 }.count) of \(observed.count) off the service thread")

        await server.shutdown(grace: .seconds(2))
        _ = try await serving.value
    }

    /// lws drops a peer that stopped answering pings from one of its timers, and runs timers
    /// just before it waits for events. A task reading that connection on the service thread
    /// must hear of it then, not at lws' next unrelated wake-up (its housekeeping timer runs
    /// every 30 seconds, and nothing else happens on this server).
    @Test func aTaskOnTheExecutorHearsAtOnceOfAConnectionATimerEnded() async throws {
        let server = try WebSocketServer(
            configuration: .init(host: "127.0.0.1", port: 0, protocols: [.streaming(name: "daniel")],
                                 keepalive: .init(pingInterval: .seconds(1), idleTimeout: .seconds(2))),
            logger: testLogger("server"))
        try server.start()
        let endedAt = LockedValue<ContinuousClock.Instant?>(nil)
        let reading = Task(executorPreference: server.executor) {
            for await connection in server.connections {
                do {
                    for try await _ in connection.messages {}
                } catch {}
                endedAt.withLock { $0 = .now }
            }
        }
        let silent = try RawSocket(port: server.port)
        #expect(try silent.handshake().hasPrefix("HTTP/1.1 101"))
        let connected = ContinuousClock.now
        while endedAt.withLock({ $0 }) == nil, ContinuousClock.now < connected + .seconds(15) {
            try await Task.sleep(for: .milliseconds(50))
        }
        let ended = endedAt.withLock { $0 }
        #expect(ended != nil, "the reading task had not seen the silent peer's end 15 s after it connected (dropped after 2 s)")

        await server.shutdown(grace: .seconds(2))
        await reading.value
    }

    @Test func jobsSentAfterShutdownStillRun() async throws {
        let client = try makeClient()
        await client.shutdown()
        let ran = await Task(executorPreference: client.executor) { 42 }.value
        #expect(ran == 42)
    }
}
