import Foundation
import Testing
@testable import LWSKit

/// A server with several service threads (loops) on one port: every loop serves peers, a room
/// spans the loops, `maxConnections` and shutdown count every loop, TLS and HTTP/2 work on the
/// sockets the loops adopt. Four loops on this 2-core machine: correctness, not speed.
@Suite("Several service threads", .serialized, .timeLimit(.minutes(3)))
struct ServiceThreadsTests {
    /// Fewer clients and messages under the sanitizers, whose slower servers would starve the
    /// tests beside them (100-connection tests there missed their handshake timeouts 1-2 runs in 10).
    private static let manyClients = isUnderSanitizer ? 20 : 400
    private static let roomMessages = isUnderSanitizer ? 50 : 300

    /// A server of `threads` loops on 127.0.0.1: `daniel` echoes, or with `mirror` publishes
    /// every message to the room of its path, sender included. Each event records whether it
    /// ran on its connection's own loop thread; `GET /hello` answers "hello".
    private final class LoopsServer: Sendable {
        let server: WebSocketServer
        /// Events that ran on a thread other than their connection's loop thread.
        let offLoopEvents = LockedValue(0)

        init(threads: Int = 4, mirror: Bool = false, maxConnections: Int = 10_000, tls: TLSServerConfiguration? = nil) throws {
            let offLoopEvents = offLoopEvents
            let daniel = WebSocketProtocol(name: "daniel") { connection, event in
                if !connection.loop.isLoopThread { offLoopEvents.withLock { $0 += 1 } }
                let room = connection.request?.path ?? "/"
                switch event {
                case .established where mirror: try? connection.subscribe(to: room)
                case .message(let message) where mirror: try? connection.publish(message, to: room, includingSelf: true)
                case .message(let message): try? connection.send(message)
                default: break
                }
            }
            server = try WebSocketServer(
                configuration: .init(
                    host: "127.0.0.1", port: 0, protocols: [daniel], serverLimits: .init(maxConnections: maxConnections), tls: tls,
                    http: .init(routes: [HTTPRoute("GET", "/hello") { _ in HTTPResponse(status: 200, body: Array("hello".utf8)) }]),
                    serviceThreads: .count(threads)),
                logger: testLogger("loops"))
            try server.start()
        }

        var statistics: [LoopStatistics] { server.statistics }
    }

    private func clients(_ arguments: [String]) async throws -> PeerProcess {
        let process = try PeerProcess.python("many_clients.py", arguments)
        _ = try await process.waitForExit(timeout: .seconds(120))
        return process
    }

    @Test func manyClientsAreEchoedAndEveryLoopServesSome() async throws {
        let loops = try LoopsServer()
        defer { loops.server.syncShutdown() }
        let messages = 5
        let run = try await clients(["echo", "ws://127.0.0.1:\(loops.server.port)/", "--clients", "\(Self.manyClients)", "--messages", "\(messages)"])
        #expect(run.exitStatus == 0, "\(run.standardOutput) \(run.standardError)")

        let statistics = loops.statistics
        #expect(statistics.count == 4)
        #expect(Set(statistics.map(\.threadName)).count == 4, "\(statistics.map(\.threadName))")
        #expect(statistics.map(\.connectionsAccepted).reduce(0, +) == Self.manyClients)
        #expect(statistics.map(\.messagesReceived).reduce(0, +) == Self.manyClients * messages)
        #expect(statistics.map(\.messagesSent).reduce(0, +) == Self.manyClients * messages)
        for loop in statistics {
            #expect(loop.connectionsAccepted >= Self.manyClients / 8 && loop.messagesReceived > 0 && loop.bytesSent > 0,
                    "a loop served too little: \(statistics)")
        }
        #expect(loops.offLoopEvents.withLock { $0 } == 0)
    }

    @Test func aRoomReachesItsSubscribersOnEveryLoopInOrder() async throws {
        let loops = try LoopsServer(mirror: true)
        defer { loops.server.syncShutdown() }
        let (subscribers, messages) = (20, Self.roomMessages)
        let run = try await clients(["room", "ws://127.0.0.1:\(loops.server.port)/rooms/x", "--clients", "\(subscribers)", "--messages", "\(messages)"])
        #expect(run.exitStatus == 0, "\(run.standardOutput) \(run.standardError)")

        // Every loop had subscribers (5 each), and each framed the room's messages for them.
        let statistics = loops.statistics
        for loop in statistics {
            #expect(loop.connectionsAccepted >= 5 && loop.messagesSent >= 5 * messages, "\(statistics)")
        }
        #expect(statistics.map(\.messagesReceived).reduce(0, +) == messages)
        #expect(loops.offLoopEvents.withLock { $0 } == 0)
    }

    @Test func aPublishFromAnyThreadReachesEveryLoopAndSubscriberCountsAddUp() async throws {
        let loops = try LoopsServer(mirror: true)
        defer { loops.server.syncShutdown() }
        let client = try WebSocketClient(logger: testLogger("subscribers"))
        defer { client.syncShutdown() }
        let recorders = (0..<8).map { _ in EventRecorder() }
        for recorder in recorders {
            try client.connect(to: "ws://127.0.0.1:\(loops.server.port)/news", subprotocol: "daniel", handler: recorder.handler)
            try await recorder.waitEstablished()
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while loops.server.subscriberCount(of: "/news") < 8, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(2))
        }
        #expect(loops.server.subscriberCount(of: "/news") == 8)
        #expect(loops.statistics.allSatisfy { $0.connections == 2 }, "\(loops.statistics)")
        for number in 0..<100 { try loops.server.publish(.text("n\(number)"), to: "/news") }
        for (index, recorder) in recorders.enumerated() {
            let received = try await recorder.waitForMessages(100, timeout: .seconds(20))
            #expect(received == (0..<100).map { .text("n\($0)") }, "subscriber \(index)")
        }
    }

    @Test func maxConnectionsCountsThePeersOfEveryLoop() async throws {
        let loops = try LoopsServer(maxConnections: 6)
        defer { loops.server.syncShutdown() }
        let port = loops.server.port
        var held: [RawSocket] = []
        for _ in 0..<6 {
            let socket = try RawSocket(port: port)
            #expect(try socket.handshake().hasPrefix("HTTP/1.1 101"))
            held.append(socket)
        }
        #expect(loops.statistics.allSatisfy { $0.connections >= 1 }, "\(loops.statistics)")
        let refused = try RawSocket(port: port)
        #expect(refused.waitForEndOfStream(until: .now + .seconds(10)), "a seventh peer was not disconnected")

        held.removeFirst().close()
        let deadline = ContinuousClock.now + .seconds(10)
        while loops.statistics.map(\.connections).reduce(0, +) > 5, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        let admitted = try RawSocket(port: port)
        #expect(try admitted.handshake().hasPrefix("HTTP/1.1 101"), "a place freed on one loop was not offered again")
        for socket in held + [admitted] { socket.close() }
    }

    @Test func shutdownClosesEveryConnectionOnEveryLoopWith1001() async throws {
        let loops = try LoopsServer()
        let count = isUnderSanitizer ? 20 : 200
        let holders = try PeerProcess.python("many_clients.py", ["hold", "ws://127.0.0.1:\(loops.server.port)/", "--clients", "\(count)"])
        _ = try await holders.waitForOutput(/ready (\d+)/, timeout: .seconds(60))
        let statistics = loops.statistics
        #expect(statistics.map(\.connections).reduce(0, +) == count)
        #expect(statistics.allSatisfy { $0.connections > 0 }, "\(statistics)")

        await loops.server.shutdown(grace: .seconds(5))
        #expect(try await holders.waitForExit() == 0, "\(holders.standardOutput) \(holders.standardError)")
        #expect(holders.standardOutput.contains("OK \(count) clients closed with 1001"))
        #expect(loops.statistics.allSatisfy { $0.connections == 0 }, "\(loops.statistics)")
        #expect(throws: LWSError.notRunning) { try loops.server.publish(.text("late"), to: "/") }
    }

    @Test func tlsAndHTTP2WorkOnTheAdoptedSocketsOfEveryLoop() async throws {
        let certificates = try TestCertificates.shared()
        let loops = try LoopsServer(tls: .init(certificateChain: .file(certificates.leaf.certificate),
                                               privateKey: .file(certificates.leaf.key), http2: true))
        defer { loops.server.syncShutdown() }
        let port = loops.server.port
        let run = try await clients(["echo", "wss://localhost:\(port)/", "--clients", isUnderSanitizer ? "8" : "40", "--messages", "3", "--ca", certificates.ca])
        #expect(run.exitStatus == 0, "\(run.standardOutput) \(run.standardError)")
        for _ in 0..<8 {
            let curl = try PeerProcess("/usr/bin/curl", [
                "-sS", "--max-time", "20", "--http2", "--cacert", certificates.ca, "-w", " %{http_version}", "https://localhost:\(port)/hello",
            ])
            #expect(try await curl.waitForExit() == 0, "\(curl.standardError)")
            #expect(curl.standardOutput == "hello 2", "\(curl.standardOutput)")
        }
        let statistics = loops.statistics
        #expect(statistics.allSatisfy { $0.connectionsAccepted >= 3 }, "\(statistics)")
    }

    @Test func theConnectionsSequenceMergesEveryLoop() async throws {
        let server = try WebSocketServer(
            configuration: .init(host: "127.0.0.1", port: 0, protocols: [.streaming(name: "daniel")], serviceThreads: .count(4)),
            logger: testLogger("async"))
        try server.start()
        defer { server.syncShutdown() }
        let serving = Task {
            await withDiscardingTaskGroup { group in
                for await connection in server.connections {
                    group.addTask(executorPreference: connection.executor) {
                        do {
                            for try await message in connection.messages { try await connection.sendWithBackpressure(message) }
                        } catch {}
                    }
                }
            }
        }
        let client = try WebSocketClient(logger: testLogger("async-clients"))
        defer { client.syncShutdown() }
        var connections: [WebSocketConnection] = []
        for _ in 0..<8 { connections.append(try await client.connect(to: "ws://127.0.0.1:\(server.port)/", subprotocol: "daniel")) }
        for (index, connection) in connections.enumerated() {
            try await connection.sendWithBackpressure(.text("to \(index)"))
            var replies = connection.messages.makeAsyncIterator()
            #expect(try await replies.next() == .text("to \(index)"))
        }
        #expect(server.statistics.allSatisfy { $0.connections == 2 && $0.messagesReceived == 2 }, "\(server.statistics)")
        server.syncShutdown()
        await serving.value  // the sequence ended with the last loop
    }

    @Test func aConnectionsExecutorRunsOnItsLoopThread() async throws {
        let executors = LockedValue<[LoopExecutor]>([])
        let daniel = WebSocketProtocol(name: "daniel") { connection, event in
            if case .established = event { executors.withLock { $0.append(connection.executor) } }
        }
        let server = try WebSocketServer(
            configuration: .init(host: "127.0.0.1", port: 0, protocols: [daniel], serviceThreads: .count(4)), logger: testLogger("executors"))
        try server.start()
        defer { server.syncShutdown() }
        let client = try WebSocketClient(logger: testLogger("client"))
        defer { client.syncShutdown() }
        for _ in 0..<4 { _ = try await client.connect(to: "ws://127.0.0.1:\(server.port)/", subprotocol: "daniel") }
        let deadline = ContinuousClock.now + .seconds(10)
        while executors.withLock({ $0.count }) < 4, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        let seen = executors.withLock { $0 }
        // One connection per loop (the fewest-peers rule), each with its loop's executor.
        #expect(Set(seen.map(ObjectIdentifier.init)).count == 4)
        for executor in seen {
            let loop = try #require(server.loops.loops.first { $0.executor === executor })
            let onItsLoop = await Task(executorPreference: executor) { loop.isLoopThread }.value
            #expect(onItsLoop)
        }
        #expect(server.executor === server.loops.loops[0].executor)
    }
}
