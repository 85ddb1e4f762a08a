import Foundation
import Testing
@testable import LWSKit

/// LWSKit client against LWSKit server, in one process, over real sockets on 127.0.0.1.
@Suite("Echo, in process", .timeLimit(.minutes(2)))
struct EchoTests {
    @Test func echoesTextBinaryAndEmptyMessages() async throws {
        let session = try EchoSession()
        defer { session.shutdown() }
        let (recorder, connection) = (session.recorder, session.connection)
        let sent: [Message] = [
            .text("hello"), .binary([0, 1, 2, 255]), .text(""), .binary([]), .text("ünïcødé ✓"),
        ]
        for message in sent { try await connection.sendWithBackpressure(message) }
        let received = try await recorder.waitForMessages(sent.count)
        #expect(received == sent)
        #expect(connection.subprotocol == "daniel")

        try connection.close(code: .normalClosure, reason: "done")
        #expect(try await recorder.waitForEnd() == .closed(.normalClosure, reason: "done"))
    }

    @Test(arguments: [1 << 20, 16 << 20])
    func echoesLargeMessagesWhole(size: Int) async throws {
        let session = try EchoSession()
        defer { session.shutdown() }
        let (recorder, connection) = (session.recorder, session.connection)
        let binary = Message.binary(pattern(size, seed: size))
        let text = Message.text(String(repeating: "0123456789abcdef", count: size / 16))
        try await connection.sendWithBackpressure(binary)
        try await connection.sendWithBackpressure(text)
        let received = try await recorder.waitForMessages(2, timeout: .seconds(90))
        #expect(received.count == 2)
        #expect(received.first == binary, "binary echo of \(size) bytes differs")
        #expect(received.last == text, "text echo of \(size) bytes differs")
    }

    @Test func reassemblesAMessageThePeerFragmented() async throws {
        // The server records what it receives; the client sends in 1000-byte frames.
        let serverSide = EventRecorder()
        let recording = WebSocketProtocol(name: "daniel", handler: serverSide.handler)
        let server = try EchoServer(protocols: [recording])
        let client = try makeClient(limits: .init(maxFrameSize: 1000))
        defer { client.syncShutdown(); server.server.syncShutdown() }

        let connection = try client.connect(to: server.url, subprotocol: "daniel", handler: EventRecorder().handler)
        let payload = pattern(100_000, seed: 7)
        let text = String(repeating: "ö", count: 30_000)  // 2-byte characters split across frames
        try await connection.sendWithBackpressure(.binary(payload))
        try await connection.sendWithBackpressure(.text(text))
        let received = try await serverSide.waitForMessages(2)
        #expect(received == [.binary(payload), .text(text)])
    }

    @Test func hundredClientsEachEchoAHundredMessages() async throws {
        let server = try EchoServer()
        let client = try makeClient()
        defer { client.syncShutdown(); server.server.syncShutdown() }

        let clients = 100, messagesEach = 100
        var sessions: [(EventRecorder, [Message])] = []
        for index in 0..<clients {
            let recorder = EventRecorder()
            let connection = try client.connect(to: server.url, subprotocol: "daniel", handler: recorder.handler)
            let messages: [Message] = (0..<messagesEach).map { number in
                let seed = index * 1000 + number
                return number.isMultiple(of: 2)
                    ? .binary(pattern(1 + seed % 3000, seed: seed))
                    : .text("client \(index) message \(number) " + String(repeating: "x", count: seed % 500))
            }
            for message in messages { try await connection.sendWithBackpressure(message) }
            sessions.append((recorder, messages))
        }
        for (index, (recorder, sent)) in sessions.enumerated() {
            let received = try await recorder.waitForMessages(messagesEach)
            #expect(received == sent, "client \(index): echoes differ from what it sent")
        }
    }

    @Test func eightTasksSendingToOneConnectionNeverInterleave() async throws {
        let session = try EchoSession()
        defer { session.shutdown() }
        let (recorder, connection) = (session.recorder, session.connection)
        try await recorder.waitEstablished()
        let tasks = 8, perTask = 25, size = 150_000  // larger than a frame: sent in fragments
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    for number in 0..<perTask {
                        try connection.send(.binary([UInt8(task), UInt8(number)] + pattern(size, seed: task * 100 + number)))
                    }
                }
            }
            try await group.waitForAll()
        }
        let received = try await recorder.waitForMessages(tasks * perTask)
        var nextNumber = [Int](repeating: 0, count: tasks)
        for message in received {
            guard case .binary(let bytes) = message, bytes.count == size + 2 else {
                Issue.record("unexpected message \(message)")
                continue
            }
            let task = Int(bytes[0]), number = Int(bytes[1])
            #expect(Array(bytes[2...]) == pattern(size, seed: task * 100 + number), "message \(task)/\(number) is corrupted")
            #expect(number == nextNumber[task], "task \(task): message \(number) arrived out of order")
            nextNumber[task] = number + 1
        }
        #expect(nextNumber == [Int](repeating: perTask, count: tasks))
    }

    @Test func closesWith1009WhenAMessageExceedsTheLimit() async throws {
        let session = try EchoSession(serverLimits: .init(maxMessageSize: 1000))
        defer { session.shutdown() }
        let (recorder, connection) = (session.recorder, session.connection)
        try await connection.sendWithBackpressure(.binary(pattern(1000, seed: 1)))  // exactly the limit: echoed
        #expect(try await recorder.waitForMessages(1) == [.binary(pattern(1000, seed: 1))])
        try await connection.sendWithBackpressure(.binary(pattern(1001, seed: 2)))
        guard case .closed(let code, _) = try await recorder.waitForEnd() else {
            Issue.record("expected a close, got \(recorder.snapshot.map(\.summary))")
            return
        }
        #expect(code == .messageTooBig)
        #expect(throws: LWSError.connectionClosed) { try connection.send(.text("after close")) }
    }

    @Test func refusesAnAnnouncedOversizeFrameBeforeBufferingIt() async throws {
        // The client's 8 MiB frame is refused on its header: the server does not wait for it.
        let session = try EchoSession(serverLimits: .init(maxMessageSize: 64 << 10), clientLimits: .init(maxFrameSize: 16 << 20))
        defer { session.shutdown() }
        let (recorder, connection) = (session.recorder, session.connection)
        try await connection.sendWithBackpressure(.binary(pattern(8 << 20, seed: 3)))
        #expect(try await recorder.waitForEnd() == .closed(.messageTooBig, reason: "message of \(8 << 20) bytes exceeds the limit of \(64 << 10)"))
    }

    @Test func connectingToAClosedPortFailsFastWithAClearError() async throws {
        let closed = try ClosedPort()
        defer { withExtendedLifetime(closed) {} }
        let port = closed.port
        let client = try makeClient()
        defer { client.syncShutdown() }

        // No hang: the error arrives within a generous bound (the 5-second figure for a user is
        // pinned by the serialized simple-client test, away from this suite's parallel load).
        let recorder = EventRecorder()
        try client.connect(to: "ws://127.0.0.1:\(port)/", subprotocol: "daniel", handler: recorder.handler)
        let error = try await recorder.waitForConnectionError(timeout: .seconds(10))
        guard case .connectionFailed(let url, let reason) = error else {
            Issue.record("expected connectionFailed, got \(error)")
            return
        }
        #expect(url == "ws://127.0.0.1:\(port)/")
        #expect(reason.contains("refused or unreachable"))
        #expect(recorder.snapshot.count == 1, "no event may follow connectionError")
    }

    @Test func shutdownClosesFiftyConnectedClientsWith1001AndEndsTheThread() async throws {
        let server = try EchoServer()
        let client = try makeClient()
        defer { client.syncShutdown() }

        // Every client sees the server's 1001: the closing handshakes finished within the grace
        // period (had it run out, the context would have been destroyed under them: 1006).
        let recorders = (0..<50).map { _ in EventRecorder() }
        for recorder in recorders {
            try client.connect(to: server.url, subprotocol: "daniel", handler: recorder.handler)
            try await recorder.waitEstablished()
        }
        let threadName = server.server.loops.loops[0].threadName
        #expect(threadNames().contains(threadName))

        await server.server.shutdown(grace: .seconds(5))
        for recorder in recorders {
            #expect(try await recorder.waitForEnd() == .closed(.goingAway, reason: "shutting down"))
        }
        #expect(!threadNames().contains(threadName), "the server's loop thread is still alive")
        let late = EventRecorder()
        try client.connect(to: server.url, subprotocol: "daniel", handler: late.handler)
        _ = try await late.waitForConnectionError()
    }

    @Test func aPeerThatVanishesWithoutACloseFrameEndsWith1006() async throws {
        let serverSide = EventRecorder()
        let server = try EchoServer(protocols: [WebSocketProtocol(name: "daniel", handler: serverSide.handler)])
        defer { server.server.syncShutdown() }

        let peer = try RawSocket(port: server.port)
        let response = try peer.handshake()
        #expect(response.hasPrefix("HTTP/1.1 101"))
        #expect(response.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "wrong Sec-WebSocket-Accept: \(response)")
        try await serverSide.waitEstablished()
        peer.reset()
        #expect(try await serverSide.waitForEnd() == .closed(.abnormalClosure, reason: ""))
        #expect(serverSide.snapshot == [.established, .closed(.abnormalClosure, reason: "")])
    }

    @Test func aSecondServerOnTheSamePortFailsWithAddressInUse() throws {
        let first = try EchoServer()
        defer { first.server.syncShutdown() }
        let second = try WebSocketServer(
            configuration: .init(host: "127.0.0.1", port: first.port, protocols: [EchoServer.daniel]),
            logger: testLogger("second"))
        #expect {
            try second.start()
        } throws: { error in
            guard case LWSError.listenFailed(_, let port, let reason) = error else { return false }
            return port == first.port && reason.contains("address already in use")
        }
    }

    @Test func libwebsocketsLogLinesReachTheUsersLogger() throws {
        // A certificate lws cannot parse: lws logs why at error level while making the vhost.
        let broken = PEMSource.pem("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
        let (logger, records) = CapturingLogHandler.logger(level: .debug)
        let server = try WebSocketServer(
            configuration: .init(host: "127.0.0.1", port: 0, protocols: [EchoServer.daniel],
                                 tls: .init(certificateChain: broken, privateKey: broken)), logger: logger)
        #expect(throws: LWSError.self) { try server.start() }
        let fromLibwebsockets = records.all.filter { $0.metadata["source"] == "libwebsockets" }
        #expect(fromLibwebsockets.contains { $0.level == .error },
                "lws' error lines did not reach the logger: \(fromLibwebsockets.map(\.message))")
        #expect(fromLibwebsockets.contains { $0.level == .debug && $0.message.contains("LWS: 4.1") },
                "lws' NOTICE lines should arrive at debug level")
    }

    @Test func aClientNamingNoSubprotocolIsServedByTheFirstProtocol() async throws {
        let session = try EchoSession(subprotocol: nil)
        defer { session.shutdown() }
        let (recorder, connection) = (session.recorder, session.connection)
        try await connection.sendWithBackpressure(.text("no subprotocol"))
        #expect(try await recorder.waitForMessages(1) == [.text("no subprotocol")])
        #expect(connection.subprotocol == nil)
    }

    @Test func aClientAskingForAnUnknownSubprotocolIsRefused() async throws {
        let session = try EchoSession(subprotocol: "nobody-serves-this")
        defer { session.shutdown() }
        let recorder = session.recorder
        _ = try await recorder.waitForConnectionError()
    }

    @Test func writeableArrivesAfterQueuedDataWhenRequested() async throws {
        // A producer that sends one message per writeable event, ten in all.
        let produced = LockedValue(0)
        let producer = WebSocketProtocol(name: "producer") { connection, event in
            switch event {
            case .established, .writeable:
                let number = produced.withLock { count -> Int in
                    count += 1
                    return count
                }
                guard number <= 10 else { return }
                try? connection.send(.text("chunk \(number)"))
                try? connection.requestWriteable()
            default:
                break
            }
        }
        let session = try EchoSession(protocols: [producer], subprotocol: "producer")
        defer { session.shutdown() }
        let recorder = session.recorder
        let received = try await recorder.waitForMessages(10)
        #expect(received == (1...10).map { .text("chunk \($0)") })
    }

    @Test func aClientReceivesWriteableWhenItAsks() async throws {
        let session = try EchoSession()
        defer { session.shutdown() }
        let (recorder, connection) = (session.recorder, session.connection)
        try await connection.sendWithBackpressure(.text("queued first"))
        try await recorder.waitEstablished()
        try connection.requestWriteable()
        try await recorder.wait(for: "writeable") { $0.contains(.writeable) }
        _ = try await recorder.waitForMessages(1)
        let events = recorder.snapshot
        #expect(events.filter { $0 == .writeable }.count == 1, "one request, one writeable event")
    }

    @Test func rejectsCloseCodesAndReasonsTheRFCForbids() async throws {
        let session = try EchoSession()
        defer { session.shutdown() }
        let (recorder, connection) = (session.recorder, session.connection)
        try await recorder.waitEstablished()
        #expect(throws: LWSError.self) { try connection.close(code: .abnormalClosure) }
        #expect(throws: LWSError.self) { try connection.close(code: CloseCode(rawValue: 999)) }
        #expect(throws: LWSError.self) { try connection.close(reason: String(repeating: "r", count: 124)) }
        try connection.close(code: CloseCode(rawValue: 4000), reason: "app specific")
        #expect(try await recorder.waitForEnd() == .closed(CloseCode(rawValue: 4000), reason: "app specific"))
        #expect(throws: LWSError.connectionClosed) { try connection.close() }
    }
}

/// A port of 127.0.0.1 that refuses connections while this lives: bound, so that no server
/// of a test running beside can be given it (a port bound and closed at once was, now and
/// then: a "closed" port then answered), and not listening.
final class ClosedPort: Sendable {
    /// The port.
    let port: Int
    private let descriptor: Int32

    init() throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard let port = bindToFreeLoopbackPort(descriptor) else {
            close(descriptor)
            throw PeerError("cannot bind a probe socket")
        }
        self.port = port
    }

    deinit { close(descriptor) }
}

/// Binds `fd` to a free port on 127.0.0.1 (and listens, if asked); returns the port.
func bindToFreeLoopbackPort(_ fd: Int32, listening: Bool = false) -> Int? {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && (!listening || listen(fd, 16) == 0) && getsockname(fd, $0, &length) == 0
        }
    }
    return bound ? Int(UInt16(bigEndian: address.sin_port)) : nil
}

/// The names of this process' threads, from /proc.
func threadNames() -> Set<String> {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    return Set(tasks.compactMap { task in
        (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    })
}
