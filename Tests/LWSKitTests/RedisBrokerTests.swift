import Foundation
import Testing
@testable import LWSKit
@testable import LWSKitRedis

/// `RedisTopicBroker` in process: servers (nodes) sharing topics through a Redis of the test's
/// own, what crosses and what does not, limits, foreign messages, and a Redis that is absent,
/// killed or silent. These run under ASan and TSan with the rest of the suite.
@Suite("Redis topic broker", .timeLimit(.minutes(2)))
struct RedisBrokerTests {
    /// A server whose connections subscribe to the topic named by their URL path.
    private final class Node: Sendable {
        let server: WebSocketServer
        let broker: RedisTopicBroker
        let subscribeErrors = LockedValue<[LWSError]>([])

        init(_ redis: RedisServer, configuration: RedisTopicBroker.Configuration = .init()) throws {
            broker = try RedisTopicBroker(url: redis.url, configuration: configuration, logger: testLogger("redis"))
            let errors = subscribeErrors
            server = try WebSocketServer(
                configuration: .init(host: "127.0.0.1", port: 0, protocols: [
                    WebSocketProtocol(name: "room") { connection, event in
                        guard case .established = event else { return }
                        do { try connection.subscribe(to: connection.request?.path ?? "/") } catch let error as LWSError {
                            errors.withLock { $0.append(error) }
                        } catch {}
                    },
                ], topicBroker: broker),
                logger: testLogger("node"))
        }

        func url(_ topic: String) -> String { "ws://127.0.0.1:\(server.port)\(topic)" }
    }

    /// A client of `node` in `topic`, established and (unless `subscribed` is false: a topic
    /// the node refuses) counted as the topic's subscriber. (A client is established once it has
    /// the 101; the server's handler subscribes it just after: a local publish made in between
    /// missed it in one ThreadSanitizer run of ten.)
    private func join(_ node: Node, _ topic: String, with client: WebSocketClient, subscribed: Bool = true) async throws -> EventRecorder {
        let before = node.server.subscriberCount(of: topic)
        let recorder = EventRecorder()
        _ = try client.connect(to: node.url(topic), subprotocol: "room", handler: recorder.handler)
        try await recorder.waitEstablished()
        if subscribed { try await waitUntil("\(topic) subscribed") { node.server.subscriberCount(of: topic) > before } }
        return recorder
    }

    /// Runs `body` with a started node on `redis` and a client, both shut down after it.
    private func withNode(on redis: RedisServer, configuration: RedisTopicBroker.Configuration = .init(),
                          _ body: (Node, WebSocketClient) async throws -> Void) async throws {
        let node = try Node(redis, configuration: configuration)
        try node.server.start()
        defer { node.server.syncShutdown() }
        let client = try makeClient()
        defer { client.syncShutdown() }
        try await body(node, client)
    }

    /// Runs `body` with two started nodes on `redis` and a client, all shut down after it.
    private func withTwoNodes(on redis: RedisServer, configuration: RedisTopicBroker.Configuration = .init(),
                              _ body: (Node, Node, WebSocketClient) async throws -> Void) async throws {
        let (a, b) = (try Node(redis, configuration: configuration), try Node(redis, configuration: configuration))
        try a.server.start()
        try b.server.start()
        defer { a.server.syncShutdown(); b.server.syncShutdown() }
        let client = try makeClient()
        defer { client.syncShutdown() }
        try await body(a, b, client)
    }

    /// Waits until `count` nodes subscribe `topic` in Redis (`PUBSUB NUMSUB`).
    private func waitForSubscribers(_ redis: RedisServer, _ topic: String, count: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while try await subscribers(redis, topic) != count {
            guard ContinuousClock.now < deadline else { throw PeerError("\(topic) has not \(count) subscribers in Redis") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    private func subscribers(_ redis: RedisServer, _ topic: String) async throws -> Int? {
        let output = try await redis.cli(["PUBSUB", "NUMSUB", "lwskit:\(topic)"])
        return output.split(separator: "\n").last.flatMap { Int($0) }
    }

    private func waitUntil(_ what: String, timeout: Duration = .seconds(20), _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { throw PeerError("timed out waiting until \(what)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Text stays text and binary binary across nodes; every subscriber gets each message once
    /// (a node drops its own messages coming back from Redis), in each publisher's order.
    @Test func messagesCrossNodesOnceAndKeepTheirKind() async throws {
        let redis = try await RedisServer.started()
        try await withTwoNodes(on: redis) { a, b, client in
            let onA = try await join(a, "/room", with: client)
            let onB = try await join(b, "/room", with: client)
            try await waitForSubscribers(redis, "/room", count: 2)

            let big = pattern(1 << 20, seed: 17)
            try a.server.publish(.text("héllo ☃"), to: "/room")
            try a.server.publish(.binary(big), to: "/room")
            _ = try await onB.waitForMessages(2)
            try b.server.publish(.text("from B"), to: "/room")
            _ = try await onA.waitForMessages(3)
            try a.server.publish(.text("end"), to: "/room")
            _ = try await onB.waitForMessages(4)
            _ = try await onA.waitForMessages(4)

            let expected: [Message] = [.text("héllo ☃"), .binary(big), .text("from B"), .text("end")]
            #expect(onA.messages == expected)
            #expect(onB.messages == expected)
            #expect(a.broker.statistics.published == 3 && a.broker.statistics.delivered == 1)
            #expect(b.broker.statistics.published == 1 && b.broker.statistics.delivered == 3)
            #expect(a.broker.isConnected && b.broker.isConnected)
        }
    }

    /// A node subscribes a topic in Redis while it has subscribers, once however many.
    @Test func aNodeSubscribesInRedisWhileItHasSubscribers() async throws {
        let redis = try await RedisServer.started()
        try await withNode(on: redis) { node, client in
            #expect(try await subscribers(redis, "/room") == 0)
            let first = try client.connect(to: node.url("/room"), subprotocol: "room", handler: { _, _ in })
            let second = try client.connect(to: node.url("/room"), subprotocol: "room", handler: { _, _ in })
            try await waitUntil("two subscribers") { node.server.subscriberCount(of: "/room") == 2 }
            try await waitForSubscribers(redis, "/room", count: 1)
            try first.close()
            try await waitUntil("one subscriber") { node.server.subscriberCount(of: "/room") == 1 }
            #expect(try await subscribers(redis, "/room") == 1)
            try second.close()
            try await waitForSubscribers(redis, "/room", count: 0)
        }
    }

    /// Past the broker's limits a publish or subscription throws and nothing is delivered,
    /// here or elsewhere.
    @Test func limitsRefuseBeforeAnyNodeSeesTheMessage() async throws {
        let redis = try await RedisServer.started()
        try await withNode(on: redis, configuration: .init(limits: .init(maxTopicBytes: 8, maxMessageBytes: 100))) { node, client in
            let member = try await join(node, "/room", with: client)
            _ = try await join(node, "/much-too-long", with: client, subscribed: false)
            try await waitUntil("the refused subscription") { !node.subscribeErrors.withLock { $0 }.isEmpty }
            #expect(node.subscribeErrors.withLock { $0 }.first.map { "\($0)" }?.contains("maxTopicBytes (8)") == true)

            #expect(throws: LWSError.self) { try node.server.publish(.binary(Array(repeating: 1, count: 101)), to: "/room") }
            #expect(throws: LWSError.self) { try node.server.publish(.text("x"), to: "/much-too-long") }
            try node.server.publish(.binary(Array(repeating: 2, count: 100)), to: "/room")
            #expect(try await member.waitForMessages(1) == [.binary(Array(repeating: 2, count: 100))])
            try await waitUntil("the broker published the message within limits") { node.broker.statistics.published == 1 }
            #expect(node.broker.statistics.published + node.broker.statistics.dropped == 1)
            #expect(throws: LWSError.self) { try RedisTopicBroker(url: redis.url, configuration: .init(limits: .init(maxMessageBytes: 0))) }
        }
    }

    /// What other programs publish on the service's channels never reaches a WebSocket peer:
    /// bytes that are not an envelope, text that is not UTF-8.
    @Test func foreignMessagesOnTheChannelAreDropped() async throws {
        let redis = try await RedisServer.started()
        try await withNode(on: redis) { node, client in
            let member = try await join(node, "/room", with: client)
            try await waitForSubscribers(redis, "/room", count: 1)
            _ = try await redis.cli(["PUBLISH", "lwskit:/room", "not an envelope"])
            _ = try await redis.cli(["PUBLISH", "lwskit:/room"], input: Array("t0123456789abcdef".utf8) + [0xFF, 0xFE])
            try await waitUntil("two rejected messages") { node.broker.statistics.rejected == 2 }
            try node.server.publish(.text("after"), to: "/room")
            #expect(try await member.waitForMessages(1) == [.text("after")])
            #expect(node.broker.statistics.delivered == 0)
        }
    }

    /// Redis absent at start: the server starts and serves its own subscribers; the broker
    /// connects once Redis is up. Told to fail fast, `start` throws instead.
    @Test func aServerStartsWithoutRedisUnlessToldToFailFast() async throws {
        let redis = try RedisServer.notStarted()
        let strict = try Node(redis, configuration: .init(requiresConnectionAtStart: true))
        #expect {
            try strict.server.start()
        } throws: { error in
            guard case .brokerUnavailable(let reason) = error as? LWSError else { return false }
            return reason.contains("cannot reach Redis at \(redis.url)")
        }
        #expect(strict.server.port == 0)

        try await withNode(on: redis) { node, client in
            let member = try await join(node, "/room", with: client)
            try node.server.publish(.text("local"), to: "/room")
            #expect(try await member.waitForMessages(1) == [.text("local")])
            #expect(!node.broker.isConnected)
            try await waitUntil("the publish dropped for the other nodes") { node.broker.statistics.dropped == 1 }

            try await redis.start()
            try await waitUntil("connected", timeout: .seconds(10)) { node.broker.isConnected }
            let other = try Node(redis)
            try other.server.start()
            defer { other.server.syncShutdown() }
            try await waitForSubscribers(redis, "/room", count: 1)
            try other.server.publish(.text("across"), to: "/room")
            #expect(try await member.waitForMessages(2) == [.text("local"), .text("across")])
        }
    }

    /// Redis killed and started again: both nodes notice, reconnect, subscribe again, and
    /// messages cross again.
    @Test func nodesResubscribeAfterRedisRestarts() async throws {
        let redis = try await RedisServer.started()
        try await withTwoNodes(on: redis) { a, b, client in
            let onB = try await join(b, "/room", with: client)
            try await waitForSubscribers(redis, "/room", count: 1)

            try await redis.stop()
            try await waitUntil("both see Redis gone", timeout: .seconds(10)) { !a.broker.isConnected && !b.broker.isConnected }
            try await redis.start()
            try await waitUntil("both reconnected", timeout: .seconds(10)) { a.broker.isConnected && b.broker.isConnected }
            try await waitForSubscribers(redis, "/room", count: 1)
            try a.server.publish(.text("after the restart"), to: "/room")
            #expect(try await onB.waitForMessages(1) == [.text("after the restart")])
            #expect(a.broker.statistics.connections == 2 && b.broker.statistics.connections == 2)
        }
    }

    /// A Redis that stops answering (SIGSTOP) is noticed within the reply timeout; meanwhile the
    /// server goes on serving and publishing locally; when Redis answers again the nodes
    /// reconnect.
    @Test func aSilentRedisIsNoticedAndNeverStallsTheServer() async throws {
        let redis = try await RedisServer.started()
        let quick = RedisTopicBroker.Configuration(replyTimeout: .seconds(1), pingInterval: .milliseconds(200))
        try await withTwoNodes(on: redis, configuration: quick) { a, b, client in
            let onA = try await join(a, "/room", with: client)
            let onB = try await join(b, "/room", with: client)
            try await waitForSubscribers(redis, "/room", count: 2)

            redis.send(signal: SIGSTOP)
            defer { redis.send(signal: SIGCONT) }
            for number in 0..<100 { try a.server.publish(.text("while silent \(number)"), to: "/room") }
            #expect(try await onA.waitForMessages(100).count == 100)
            try await waitUntil("the silence noticed", timeout: .seconds(10)) { !a.broker.isConnected && !b.broker.isConnected }

            redis.send(signal: SIGCONT)
            try await waitUntil("both reconnected", timeout: .seconds(10)) { a.broker.isConnected && b.broker.isConnected }
            try await waitForSubscribers(redis, "/room", count: 2)
            try a.server.publish(.text("answering again"), to: "/room")
            try await onB.wait(for: "the message after the silence") { _ in onB.messages.last == .text("answering again") }
            // At most once, in order: what B got of the messages published during the silence (what
            // Redis read before it stopped may still be published when it resumes) is a run of them
            // in order, without repeats.
            let published = (0..<100).map { Message.text("while silent \($0)") } + [.text("answering again")]
            var position = published.startIndex
            for message in onB.messages {
                guard let found = published[position...].firstIndex(of: message) else {
                    Issue.record("B received \(message) out of order or twice: \(onB.messages)")
                    break
                }
                position = found + 1
            }
        }
    }

    /// A broker serves one server; shutting the server down ends the broker's connections.
    @Test func aBrokerServesOneServerAndStopsWithIt() async throws {
        let redis = try await RedisServer.started()
        let node = try Node(redis)
        try node.server.start()
        try await waitUntil("connected") { node.broker.isConnected }
        let second = try WebSocketServer(
            configuration: .init(host: "127.0.0.1", port: 0, protocols: [EchoServer.daniel], topicBroker: node.broker),
            logger: testLogger("second"))
        #expect(throws: LWSError.self) { try second.start() }
        node.server.syncShutdown()
        #expect(!node.broker.isConnected)
        // Redis then lists only redis-cli's own connection.
        let deadline = ContinuousClock.now + .seconds(10)
        var clients = try await redis.cli(["CLIENT", "LIST"])
        while clients.split(separator: "\n").count != 1, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            clients = try await redis.cli(["CLIENT", "LIST"])
        }
        #expect(clients.split(separator: "\n").count == 1, "\(clients)")
    }

    @Test(arguments: [
        ("redis://127.0.0.1:6380", "127.0.0.1", 6380, nil, nil),
        ("redis://localhost", "localhost", 6379, nil, nil),
        ("redis://:secret@[::1]:7000/2", "::1", 7000, nil, "secret"),
        ("redis://user:pa:ss@host:1", "host", 1, "user", "pa:ss"),
    ] as [(String, String, Int, String?, String?)])
    func redisURLsParse(url: String, host: String, port: Int, username: String?, password: String?) throws {
        let endpoint = try RedisEndpoint(url: url)
        #expect(endpoint == RedisEndpoint(host: host, port: port, username: username, password: password))
        #expect(!endpoint.description.contains("secret"))
    }

    @Test(arguments: ["http://host", "redis://", "redis://host:0", "redis://host:70000", "redis://host:x", "redis://[::1", "redis://host/db"])
    func badRedisURLsAreRefused(url: String) {
        #expect(throws: LWSError.self) { try RedisEndpoint(url: url) }
    }
}
