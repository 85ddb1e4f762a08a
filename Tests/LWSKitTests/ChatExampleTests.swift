import Testing
@testable import LWSKit

/// The README's chat room, both styles, run as written there: what a room member says reaches
/// everyone in the room, the speaker included, and nobody elsewhere.
@Suite("README chat example", .timeLimit(.minutes(2)))
struct ChatExampleTests {
    struct Member: Sendable { let name: String; let room: String }

    /// The README's callback-style protocol.
    static let chat = WebSocketProtocol(name: "chat", path: "/rooms/:room", shouldUpgrade: { request in
        guard let name = request.queryValue("name"), !name.isEmpty else { return .refuse(status: 401, reason: "?name= is required") }
        return .accept(headers: [:], context: Member(name: name, room: request.pathParameters["room"]!))
    }) { connection, event in
        guard let member = connection.context(as: Member.self) else { return }
        switch event {
        case .established:
            try? connection.subscribe(to: member.room)
        case .message(.text(let text)):
            try? connection.publish(.text("\(member.name): \(text)"), to: member.room, includingSelf: true)
        default:
            break
        }
    }

    /// Ann and Bob in room a, Cy in room b: Ann's line reaches Ann and Bob, Cy's only Cy;
    /// a handshake without a name is refused.
    private func expectRoomsWork(port: Int, joined: @Sendable () async -> Bool = { true }) async throws {
        let client = try makeClient()
        defer { client.syncShutdown() }
        let url = "ws://127.0.0.1:\(port)/rooms/"
        let ann = try await client.connect(to: url + "a?name=ann", subprotocol: "chat")
        let bob = try await client.connect(to: url + "a?name=bob", subprotocol: "chat")
        let cy = try await client.connect(to: url + "b?name=cy", subprotocol: "chat")
        var (toAnn, toBob, toCy) = (ann.messages.makeAsyncIterator(), bob.messages.makeAsyncIterator(), cy.messages.makeAsyncIterator())
        let deadline = ContinuousClock.now + .seconds(10)
        while !(await joined()), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        try cy.send(.text("hi b"))
        #expect(try await toCy.next() == .text("cy: hi b"))
        try ann.send(.text("hi a"))
        #expect(try await toAnn.next() == .text("ann: hi a"))
        #expect(try await toBob.next() == .text("ann: hi a"))
        try cy.send(.text("still b"))
        #expect(try await toCy.next() == .text("cy: still b"), "nothing of room a reached room b")
        await #expect(throws: LWSError.handshakeRefused(url: url + "a", status: 401, reason: "Unauthorized")) {
            _ = try await client.connect(to: url + "a", subprotocol: "chat")
        }
    }

    @Test func theCallbackStyleRoomServer() async throws {
        let server = try WebSocketServer(configuration: .init(host: "127.0.0.1", port: 0, protocols: [Self.chat]),
                                         logger: testLogger("chat"))
        try server.start()
        defer { server.syncShutdown() }
        try await expectRoomsWork(port: server.port) { Self.joined(server) }
    }

    @Test func theAsyncStyleRoomServer() async throws {
        let server = try WebSocketServer(configuration: .init(host: "127.0.0.1", port: 0, protocols: [
            .streaming(name: "chat", path: "/rooms/:room", shouldUpgrade: { request in
                guard let name = request.queryValue("name") else { return .refuse(status: 401, reason: "?name= is required") }
                return .accept(headers: [:], context: Member(name: name, room: request.pathParameters["room"]!))
            }),
        ]), logger: testLogger("chat"))
        try server.start()
        defer { server.syncShutdown() }
        let serving = Task {
            await withTaskGroup(of: Void.self) { group in
                for await connection in server.connections {
                    group.addTask(executorPreference: connection.executor) {
                        guard let member = connection.context(as: Member.self) else { return }
                        try? connection.subscribe(to: member.room)
                        do {
                            for try await case .text(let text) in connection.messages {
                                try? connection.publish(.text("\(member.name): \(text)"), to: member.room, includingSelf: true)
                            }
                        } catch {}  // (the connection failed; it left its room all the same)
                    }
                }
            }
        }
        defer { serving.cancel() }
        try await expectRoomsWork(port: server.port) { Self.joined(server) }
    }

    /// Whether Ann, Bob and Cy have joined their rooms (a member subscribes once connected).
    static func joined(_ server: WebSocketServer) -> Bool {
        server.subscriberCount(of: "a") == 2 && server.subscriberCount(of: "b") == 1
    }
}
