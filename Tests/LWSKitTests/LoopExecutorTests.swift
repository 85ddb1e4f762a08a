import Testing
@testable import LWSKit

/// The service thread as an executor: tasks that prefer it and actors isolated to it run on the
/// thread that serves the connections.
@Suite("Loop executor", .timeLimit(.minutes(1)))
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
            return server.loop.isLoopThread
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
                onServiceThread.withLock { $0.append(server.loop.isLoopThread) }
                for try await message in connection.messages {
                    onServiceThread.withLock { $0.append(server.loop.isLoopThread) }
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
            try await connection.send(.text("number \(number)"))
            #expect(try await replies.next() == .text("number \(number)"))
        }
        #expect(await tally.messages == 50)
        let observed = onServiceThread.withLock { $0 }
        #expect(observed.count == 101 && observed.allSatisfy { $0 }, "\(observed.filter { !$0 }.count) of \(observed.count) off the service thread")

        await server.shutdown(grace: .seconds(2))
        _ = try await serving.value
    }

    @Test func jobsSentAfterShutdownStillRun() async throws {
        let client = try makeClient()
        await client.shutdown()
        let ran = await Task(executorPreference: client.executor) { 42 }.value
        #expect(ran == 42)
    }
}
