import Testing
@testable import LWSKit

/// Topics: who receives a published message, in what order, and what happens to a subscriber
/// that falls behind.
@Suite("Topics", .timeLimit(.minutes(2)))
struct TopicTests {
    /// A server whose connections subscribe to the topics in their `?topics=a,b` query. A text
    /// message "pub:T:x" publishes x to T (not to its sender), "all:T:x" to T sender included,
    /// "unsub:T" unsubscribes and answers "unsubscribed T". Server connections are kept by
    /// their `?name=` for the test to inspect.
    private final class TopicServer: Sendable {
        let server: WebSocketServer
        let connections = LockedValue<[String: WebSocketConnection]>([:])
        let ends = LockedValue<[String: WebSocketEvent]>([:])

        init(slowSubscribers: SlowSubscriberPolicy = .init()) throws {
            let (connections, ends) = (connections, ends)
            server = try WebSocketServer(
                configuration: .init(host: "127.0.0.1", port: 0, protocols: [
                    WebSocketProtocol(name: "topics") { connection, event in
                        let name = connection.request?.queryValue("name") ?? "?"
                        switch event {
                        case .established:
                            connections.withLock { $0[name] = connection }
                            for topic in (connection.request?.queryValue("topics") ?? "").split(separator: ",") {
                                try? connection.subscribe(to: String(topic))
                            }
                        case .message(.text(let text)):
                            let parts = text.split(separator: ":", maxSplits: 2).map(String.init)
                            switch parts.first {
                            case "pub": try? connection.publish(.text(parts[2]), to: parts[1])
                            case "all": try? connection.publish(.text(parts[2]), to: parts[1], includingSelf: true)
                            case "unsub":
                                try? connection.unsubscribe(from: parts[1])
                                try? connection.send(.text("unsubscribed \(parts[1])"))
                            default: break
                            }
                        case .closed, .connectionError:
                            ends.withLock { $0[name] = event }
                        default:
                            break
                        }
                    },
                ], slowSubscribers: slowSubscribers),
                logger: testLogger("topics"))
            try server.start()
        }

        /// Shuts the server down and lets go of its connections (the handler keeps this table,
        /// and the connections their server: a cycle until then).
        func shutdown() {
            server.syncShutdown()
            connections.withLock { $0.removeAll() }
        }

        func url(_ name: String, topics: String) -> String {
            "ws://127.0.0.1:\(server.port)/?name=\(name)&topics=\(topics)"
        }

        /// Waits until `condition` holds for the subscriber count of `topic`.
        func waitForSubscribers(of topic: String, _ condition: (Int) -> Bool) async throws {
            let deadline = ContinuousClock.now + .seconds(10)
            while !condition(server.subscriberCount(of: topic)) {
                guard ContinuousClock.now < deadline else { throw PeerError("\(topic) has \(server.subscriberCount(of: topic)) subscribers") }
                try await Task.sleep(for: .milliseconds(2))
            }
        }
    }

    /// Connects `name` with `topics` and waits until its subscriptions took effect.
    private func join(_ topicServer: TopicServer, _ client: WebSocketClient, _ name: String, topics: [String]) async throws -> (WebSocketConnection, EventRecorder) {
        let recorder = EventRecorder()
        let before = topics.map { topicServer.server.subscriberCount(of: $0) }
        let connection = try client.connect(to: topicServer.url(name, topics: topics.joined(separator: ",")), subprotocol: "topics", handler: recorder.handler)
        try await recorder.waitEstablished()
        for (topic, count) in zip(topics, before) { try await topicServer.waitForSubscribers(of: topic) { $0 > count } }
        return (connection, recorder)
    }

    /// A raw subscriber of "f" that never reads (a 4 KiB receive buffer: little of what is
    /// sent fits in its socket) and a client subscriber of "f" that reads.
    private func silentAndReader(_ topics: TopicServer, _ client: WebSocketClient) async throws -> (RawSocket, EventRecorder) {
        let port = topics.server.port
        let silent = try RawSocket(port: port, receiveBuffer: 4096)
        try silent.write(RawSocket.upgradeRequest(port: port, target: "/?name=silent&topics=f", subprotocol: "topics"))
        #expect(try await offThePool { try silent.read(until: "\r\n\r\n") }.hasPrefix("HTTP/1.1 101"))
        let (_, reader) = try await join(topics, client, "reader", topics: ["f"])
        return (silent, reader)
    }

    @Test func aPublishReachesTheTopicsSubscribersAndNobodyElse() async throws {
        let topics = try TopicServer()
        defer { topics.shutdown() }
        let client = try makeClient()
        defer { client.syncShutdown() }
        let (ann, annEvents) = try await join(topics, client, "ann", topics: ["a"])
        let (_, bobEvents) = try await join(topics, client, "bob", topics: ["a"])
        let (_, cyEvents) = try await join(topics, client, "cy", topics: ["b"])
        let (dee, deeEvents) = try await join(topics, client, "dee", topics: ["a", "b"])
        #expect(topics.server.subscriberCount(of: "a") == 3 && topics.server.subscriberCount(of: "b") == 2)

        try ann.send(.text("pub:a:hi from ann"))
        try ann.send(.text("all:b:to b, not from a subscriber of b"))
        _ = try await deeEvents.waitForMessages(2)
        try dee.send(.text("all:a:dee too"))
        _ = try await annEvents.waitForMessages(1)
        // A last message to each topic from the server itself: everything before it arrived.
        _ = try await bobEvents.waitForMessages(2)
        try topics.server.publish(.binary([1, 2, 3]), to: "a")
        try topics.server.publish(.binary([4]), to: "b")
        #expect(try await annEvents.waitForMessages(2) == [.text("dee too"), .binary([1, 2, 3])], "the sender is left out unless included")
        #expect(try await bobEvents.waitForMessages(3) == [.text("hi from ann"), .text("dee too"), .binary([1, 2, 3])])
        #expect(try await cyEvents.waitForMessages(2) == [.text("to b, not from a subscriber of b"), .binary([4])])
        #expect(try await deeEvents.waitForMessages(5).count == 5)
        #expect(deeEvents.messages.filter { $0 == .binary([1, 2, 3]) || $0 == .binary([4]) }.count == 2)
        #expect(!deeEvents.messages.contains(.text("pub:a:hi from ann")))

        try dee.send(.text("unsub:b"))
        #expect(try await deeEvents.waitForMessages(6).last == .text("unsubscribed b"))
        #expect(topics.server.subscriberCount(of: "b") == 1)
        try ann.close()
        try await topics.waitForSubscribers(of: "a") { $0 == 2 }
    }

    /// One publisher, two topics, one subscriber of both: every message in publish order,
    /// large ones (sent in fragments) among them.
    @Test func aSubscriberOfTwoTopicsGetsOnePublishersMessagesInOrder() async throws {
        let topics = try TopicServer()
        defer { topics.shutdown() }
        let client = try makeClient()
        defer { client.syncShutdown() }
        let (_, both) = try await join(topics, client, "both", topics: ["x", "y"])
        let (_, xOnly) = try await join(topics, client, "x", topics: ["x"])
        func message(_ number: Int) -> Message {
            number % 100 == 7 ? .binary(pattern(40_000 + number, seed: number)) : .text("m\(number)")
        }
        // (Fewer under the sanitizers, whose instrumented pattern building starved other tests.)
        let count = isUnderSanitizer ? 500 : 2_000
        for number in 0..<count {
            try topics.server.publish(message(number), to: number % 3 == 0 ? "y" : "x")
        }
        #expect(try await both.waitForMessages(count) == (0..<count).map(message))
        #expect(try await xOnly.waitForMessages(count - (count + 2) / 3) == (0..<count).filter { $0 % 3 != 0 }.map(message))
    }

    /// A subscriber that never reads: past its backlog bound, what is published is dropped for
    /// it (and counted), while a reading subscriber gets everything.
    @Test func aSubscriberThatNeverReadsIsDroppedFromAndTheOthersGetEverything() async throws {
        let topics = try TopicServer(slowSubscribers: .init(maxBacklog: 256 << 10))
        defer { topics.shutdown() }
        let client = try makeClient()
        defer { client.syncShutdown() }
        let (silent, reader) = try await silentAndReader(topics, client)
        let silentConnection = try #require(topics.connections.withLock { $0["silent"] })

        // Bursts of 1 MiB, each received before the next, until the silent subscriber's socket
        // buffers are full and its backlog too (a few MiB), then two more (40 MiB at most).
        let burst = 16, size = 64 << 10
        var rounds = 0, roundsAfterDrops = 0
        while roundsAfterDrops < 2, rounds < 40 {
            for number in 0..<burst { try topics.server.publish(.binary(pattern(size, seed: rounds * burst + number)), to: "f") }
            rounds += 1
            _ = try await reader.waitForMessages(rounds * burst)
            if silentConnection.droppedPublishCount > 0 { roundsAfterDrops += 1 }
        }
        #expect(reader.messages == (0..<burst * rounds).map { .binary(pattern(size, seed: $0)) })
        let dropped = silentConnection.droppedPublishCount
        #expect(dropped > 0 && dropped < burst * rounds, "dropped \(dropped) of \(burst * rounds)")
        #expect(try #require(topics.connections.withLock { $0["reader"] }).droppedPublishCount == 0)
        silent.reset()
    }

    /// With the close policy, a subscriber past its bound is closed with the configured code,
    /// sent ahead of what was queued for it.
    @Test func theClosePolicyClosesASubscriberThatFallsBehind() async throws {
        let topics = try TopicServer(slowSubscribers: .init(maxBacklog: 256 << 10, action: .close(.tryAgainLater)))
        defer { topics.shutdown() }
        let client = try makeClient()
        defer { client.syncShutdown() }
        let (silent, reader) = try await silentAndReader(topics, client)

        let burst = 16, size = 64 << 10
        var round = 0
        // Until the server has given up on the silent subscriber, which then leaves the topic
        // at once (at most 40 MiB).
        while topics.server.subscriberCount(of: "f") == 2, round < 40 {
            for number in 0..<burst { try topics.server.publish(.binary(pattern(size, seed: round * burst + number)), to: "f") }
            round += 1
            _ = try await reader.waitForMessages(round * burst)
            if round >= 8 { try await Task.sleep(for: .milliseconds(5)) }
        }
        #expect(topics.server.subscriberCount(of: "f") == 1, "the policy closed nobody in \(round) MiB")
        let ending = try await offThePool { silent.ending(until: .now + .seconds(10)) }
        #expect(ending == .closeFrame(1013), "\(ending)")
        silent.close()
        let deadline = ContinuousClock.now + .seconds(10)
        while topics.ends.withLock({ $0["silent"] }) == nil, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(topics.ends.withLock { $0["silent"] } == .closed(.tryAgainLater, reason: "subscriber too slow"))
        #expect(reader.messages.count == round * burst)
    }

    @Test func theAsyncStyleSubscribesAndAClientConnectionCannot() async throws {
        let server = try WebSocketServer(
            configuration: .init(host: "127.0.0.1", port: 0, protocols: [.streaming(name: "news")]),
            logger: testLogger("news"))
        try server.start()
        defer { server.syncShutdown() }
        let client = try makeClient()
        defer { client.syncShutdown() }
        let reader = try await client.connect(to: "ws://127.0.0.1:\(server.port)/", subprotocol: "news")
        var arrivals = server.connections.makeAsyncIterator()
        let subscriber = try #require(await arrivals.next())
        try subscriber.subscribe(to: "headlines")
        try server.publish(.text("extra, extra"), to: "headlines")
        var messages = reader.messages.makeAsyncIterator()
        #expect(try await messages.next() == .text("extra, extra"))
        #expect(throws: LWSError.self) { try reader.subscribe(to: "headlines") }
        #expect(throws: LWSError.self) { try reader.publish(.text("x"), to: "headlines") }
        try subscriber.close()
        #expect(throws: LWSError.connectionClosed) { try subscriber.subscribe(to: "other") }
    }
}
