import Testing
@testable import LWSKit

/// The handshake as the application's front door: `shouldUpgrade` sees the request, refuses
/// with a status the client receives, or accepts with response headers and a per-connection
/// context that every event can read.
@Suite("Upgrade decisions", .timeLimit(.minutes(2)))
struct UpgradeDecisionTests {
    /// The per-connection state of these tests.
    struct Member: Sendable, Equatable {
        let name: String
        let room: String
    }

    /// Accepts `?name=…` on /rooms/…, with a cookie and a `Member` context; refuses the rest
    /// with 401 or 404.
    static let decide: WebSocketUpgradeDecider = { request in
        guard request.path.hasPrefix("/rooms/") else {
            return .refuse(status: 404, reason: "no WebSocket at \(request.path)")
        }
        guard let name = request.queryValue("name") else {
            return .refuse(HTTPResponse(status: 401, headers: ["www-authenticate": "Bearer"], body: Array("who are you?\n".utf8)))
        }
        let room = String(request.path.dropFirst("/rooms/".count))
        return .accept(headers: ["set-cookie": "member=\(name)"], context: Member(name: name, room: room))
    }

    /// A server whose handler answers every message with what the connection's context and
    /// request say, and records every event with the context it saw.
    private final class RoomServer: Sendable {
        let server: WebSocketServer
        let seen = LockedValue<[(event: WebSocketEvent, member: Member?)]>([])

        init() throws {
            let seen = seen
            server = try WebSocketServer(
                configuration: .init(host: "127.0.0.1", port: 0, protocols: [
                    WebSocketProtocol(name: "chat", shouldUpgrade: UpgradeDecisionTests.decide) { connection, event in
                        let member = connection.context(as: Member.self)
                        seen.withLock { $0.append((event, member)) }
                        if case .message(.text(let text)) = event, let member, let request = connection.request {
                            let cookie = request.cookies["session"] ?? "-"
                            try? connection.send(.text("\(member.name)@\(member.room) \(request.path) cookie=\(cookie): \(text)"))
                        }
                    },
                ], serverLimits: testServerLimits),
                logger: testLogger("rooms"))
            try server.start()
        }
    }

    /// A raw "chat" handshake for `target` (path and query) and the server's answer: the
    /// head of a 101, or the whole of a refusal.
    private func handshake(port: Int, target: String) async throws -> String {
        try await RawSocket.upgradeAnswer(port: port, RawSocket.upgradeRequest(port: port, target: target, subprotocol: "chat"))
    }

    @Test func refusalsReachTheClientWithTheirStatusHeadersAndBody() async throws {
        let rooms = try RoomServer()
        defer { rooms.server.syncShutdown() }
        let unnamed = try await handshake(port: rooms.server.port, target: "/rooms/a")
        #expect(unnamed.hasPrefix("HTTP/1.1 401 Unauthorized\r\n"), "\(unnamed)")
        #expect(unnamed.contains("www-authenticate: Bearer\r\n"), "\(unnamed)")
        #expect(unnamed.contains("connection: close\r\n") && unnamed.hasSuffix("\r\n\r\nwho are you?\n"), "\(unnamed)")
        let elsewhere = try await handshake(port: rooms.server.port, target: "/lobby?name=ann")
        #expect(elsewhere.hasPrefix("HTTP/1.1 404 Not Found\r\n") && elsewhere.hasSuffix("no WebSocket at /lobby\n"), "\(elsewhere)")
        #expect(rooms.seen.withLock { $0.isEmpty }, "a refused handshake delivers no event")
    }

    @Test func anAcceptedHandshakeAddsItsHeadersAndItsContextReachesEveryEvent() async throws {
        let rooms = try RoomServer()
        defer { rooms.server.syncShutdown() }
        let answer = try await handshake(port: rooms.server.port, target: "/rooms/a?name=ann")
        #expect(answer.hasPrefix("HTTP/1.1 101 "), "\(answer)")
        #expect(answer.contains("set-cookie: member=ann\r\n"), "\(answer)")

        let client = try makeClient()
        defer { client.syncShutdown() }
        let recorder = EventRecorder()
        let connection = try client.connect(to: "ws://127.0.0.1:\(rooms.server.port)/rooms/b?name=bob", subprotocol: "chat", handler: recorder.handler)
        try await recorder.waitEstablished()
        try connection.send(.text("hi"))
        #expect(try await recorder.waitForMessages(1) == [.text("bob@b /rooms/b cookie=-: hi")])
        try connection.close()
        _ = try await recorder.waitForEnd()
        let deadline = ContinuousClock.now + .seconds(10)
        while !rooms.seen.withLock({ $0.contains { $0.member?.name == "bob" && $0.event.isTerminal } }), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        let bobs = rooms.seen.withLock { $0.filter { $0.member?.name == "bob" } }.map(\.event)
        #expect(bobs.first == .established && bobs.last?.isTerminal == true, "every event, the last one too, saw the context: \(bobs)")
        #expect(rooms.seen.withLock { $0.allSatisfy { $0.member != nil } })
    }

    /// Many connections, each with its own context, interleaved: each reply names its own.
    @Test func eachOfManyConnectionsKeepsItsOwnContext() async throws {
        let rooms = try RoomServer()
        defer { rooms.server.syncShutdown() }
        let client = try makeClient()
        defer { client.syncShutdown() }
        // (Under the sanitizers 1,000, 300 and 200 each starved the tests beside them past their
        // handshake timeouts now and then; 100 make the same point there.)
        let count = isUnderSanitizer ? 100 : 1_000
        let recorders = (0..<count).map { _ in EventRecorder() }
        var connections: [WebSocketConnection] = []
        // In waves of 50, each established before the next starts: hundreds of handshakes at
        // once outlast the client's handshake timeout under ThreadSanitizer.
        for wave in stride(from: 0, to: count, by: 50) {
            for number in wave..<min(wave + 50, count) {
                connections.append(try client.connect(
                    to: "ws://127.0.0.1:\(rooms.server.port)/rooms/r\(number % 7)?name=n\(number)", subprotocol: "chat",
                    handler: recorders[number].handler))
            }
            for recorder in recorders[wave..<min(wave + 50, count)] { try await recorder.waitEstablished() }
        }
        for round in 0..<3 {
            for (number, connection) in connections.enumerated() { try connection.send(.text("m\(round)-\(number)")) }
        }
        for (number, recorder) in recorders.enumerated() {
            let replies = try await recorder.waitForMessages(3)
            #expect(replies == (0..<3).map { .text("n\(number)@r\(number % 7) /rooms/r\(number % 7) cookie=-: m\($0)-\(number)") })
        }
    }

    /// The client side: headers go with the handshake, the server's answer headers are kept,
    /// and a refusal is a typed error with its status, in both styles.
    @Test func aClientSendsHeadersReadsTheAnswerAndLearnsTheRefusalStatus() async throws {
        let server = try WebSocketServer(
            configuration: .init(host: "127.0.0.1", port: 0, protocols: [
                .streaming(name: "chat", shouldUpgrade: { request in
                    guard request.headers["authorization"] == "Bearer T0k" else {
                        return .refuse(status: 401, reason: "no token")
                    }
                    return .accept(headers: ["set-cookie": "room=\(request.cookies["room"] ?? "-")"], context: nil)
                }),
            ]),
            logger: testLogger("token-server"))
        try server.start()
        defer { server.syncShutdown() }
        let client = try makeClient()
        defer { client.syncShutdown() }
        let url = "ws://127.0.0.1:\(server.port)/"

        let admitted = try await client.connect(to: url, subprotocol: "chat", headers: ["authorization": "Bearer T0k", "cookie": "room=a"])
        #expect(admitted.responseHeaders?["set-cookie"] == "room=a", "\(String(describing: admitted.responseHeaders))")
        #expect(admitted.responseHeaders?["upgrade"]?.lowercased() == "websocket")
        try admitted.close()

        await #expect(throws: LWSError.handshakeRefused(url: url, status: 401, reason: "Unauthorized")) {
            _ = try await client.connect(to: url, subprotocol: "chat")
        }
        let recorder = EventRecorder()
        let refused = try client.connect(to: url, subprotocol: "chat", headers: ["authorization": "Bearer nope"], handler: recorder.handler)
        let error = try await recorder.waitForConnectionError()
        #expect(error == .handshakeRefused(url: url, status: 401, reason: "Unauthorized"))
        #expect("\(error)" == "cannot connect to \(url): refused by the server: 401 Unauthorized")
        #expect(refused.termination == .failed(error))

        #expect(throws: LWSError.self) { try client.connect(to: url, headers: ["sec-websocket-key": "x"]) { _, _ in } }
        #expect(throws: LWSError.self) { try client.connect(to: url, headers: ["x-bad": "a\r\nb"]) { _, _ in } }
    }

    /// A flood of handshakes, refused or accepted, each reset at once (often before lws has
    /// answered or established it), leaves nothing behind: no accepted handshake waiting for an
    /// ESTABLISHED that will not come, no connection, and the server still serves.
    @Test func aFloodOfHandshakesResetMidwayLeavesNothingBehind() async throws {
        let rooms = try RoomServer()
        defer { rooms.server.syncShutdown() }
        let port = rooms.server.port
        try await offThePool {
            // (200: a thousand, then 300, starved concurrent tests' handshakes under ThreadSanitizer.)
            for number in 0..<200 {
                let raw = try RawSocket(port: port)
                let target = number % 2 == 0 ? "/rooms/a" : "/rooms/a?name=n\(number)"
                try raw.write(RawSocket.upgradeRequest(port: port, target: target, subprotocol: "chat"))
                raw.reset()
            }
        }
        let loop = rooms.server.loops.loops[0]
        let deadline = ContinuousClock.now + .seconds(20)
        var left = (accepted: -1, connections: -1)
        while ContinuousClock.now < deadline {
            left = try await withCheckedThrowingContinuation { continuation in
                do {
                    try loop.execute { continuation.resume(returning: (loop.acceptedUpgrades.count, loop.connections.count)) }
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            if left == (0, 0) { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(left == (0, 0), "accepted handshakes and connections left: \(left)")
        let client = try makeClient()
        defer { client.syncShutdown() }
        let connection = try await client.connect(to: "ws://127.0.0.1:\(port)/rooms/z?name=last", subprotocol: "chat")
        try connection.send(.text("still here"))
        var replies = connection.messages.makeAsyncIterator()
        #expect(try await replies.next() == .text("last@z /rooms/z cookie=-: still here"))
    }

    @Test func theRequestCarriesQueryItemsCookiesAndOfferedSubprotocols() {
        let request = HTTPRequest(
            method: "GET", path: "/rooms/a", query: "name=ann&flag&token=a=b",
            headers: ["cookie": "session=s1; theme = dark;session=s2", "sec-websocket-protocol": "chat, v2"])
        #expect(request.queryItems.map { "\($0.name)=\($0.value)" } == ["name=ann", "flag=", "token=a=b"])
        #expect(request.queryValue("token") == "a=b")
        #expect(request.queryValue("missing") == nil)
        #expect(request.cookies == ["session": "s1", "theme": "dark"])
        #expect(request.offeredSubprotocols == ["chat", "v2"])
    }
}
