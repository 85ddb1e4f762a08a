import Foundation
import Testing
@testable import LWSKit

/// Servers that break RFC 6455 on purpose, scripted over raw sockets: an LWSKit client must
/// report a clear error or close with the RFC's code within a bound, never hang.
@Suite("Hostile servers", .timeLimit(.minutes(2)))
struct HostileServerTests {
    /// How long a client may take to give up on a broken server.
    private static let bound = Duration.seconds(8)

    /// A scripted answer to the client's opening handshake that must make it fail.
    struct HandshakeCase: CustomTestStringConvertible, Sendable {
        let name: String
        /// The response, given the request the client sent.
        let response: @Sendable (String) -> String
        /// Words the error's description must contain.
        let reason: String
        var testDescription: String { name }
    }

    private static func upgrade(_ request: String, accept: String? = nil, extra: String = "") -> String {
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: \(accept ?? HostileServer.acceptValue(forRequest: request))\r\n\(extra)\r\n"
    }

    static let handshakeCases: [HandshakeCase] = [
        HandshakeCase(name: "200 instead of 101", response: { _ in "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi" },
                      reason: "refused by the server: 200 OK"),
        HandshakeCase(name: "401 instead of 101", response: { _ in "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n" },
                      reason: "refused by the server: 401 Unauthorized"),
        // lws waits for a status line it can parse: garbage ends at the handshake timeout.
        HandshakeCase(name: "garbage instead of a response", response: { _ in String(repeating: "\u{1}garbage", count: 100) + "\r\n\r\n" },
                      reason: "no answer from the server within 3 s"),
        HandshakeCase(name: "a 101 without Upgrade", response: { request in
            "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: \(HostileServer.acceptValue(forRequest: request))\r\n\r\n"
        }, reason: "no valid Upgrade: websocket"),
        HandshakeCase(name: "a wrong Sec-WebSocket-Accept", response: { upgrade($0, accept: "dGhpcyBpcyBub3QgaXQ=") },
                      reason: "its Sec-WebSocket-Accept does not match the key sent"),
        HandshakeCase(name: "a subprotocol the client did not offer", response: { upgrade($0, extra: "Sec-WebSocket-Protocol: other\r\n") },
                      reason: "a subprotocol the client did not offer"),
    ]

    @Test(arguments: handshakeCases)
    func brokenHandshakeResponsesFailTheConnectWithAClearError(_ broken: HandshakeCase) async throws {
        let server = try HostileServer { socket in
            guard let request = try? socket.read(until: "\r\n\r\n") else { return }
            try? socket.write(Array(broken.response(request).utf8))
            _ = socket.readToEnd(until: .now + .seconds(10))
        }
        defer { server.stop() }
        let client = try WebSocketClient(configuration: .init(handshakeTimeout: .seconds(3)), logger: testLogger("client"))
        defer { client.syncShutdown() }
        let error = try await connectExpectingFailure(client, port: server.port)
        #expect("\(error)".contains(broken.reason), "\(broken.name): \(error)")
    }

    @Test func aServerThatNeverAnswersTheHandshakeTimesOut() async throws {
        let server = try HostileServer { socket in _ = socket.readToEnd(until: .now + .seconds(30)) }
        defer { server.stop() }
        let client = try WebSocketClient(configuration: .init(handshakeTimeout: .seconds(2)), logger: testLogger("client"))
        defer { client.syncShutdown() }
        // The time is taken in the handler, on the client's thread: a busy task pool must not
        // count as the client's delay.
        let failedAt = LockedValue<ContinuousClock.Instant?>(nil)
        let recorder = EventRecorder()
        let started = ContinuousClock.now
        try client.connect(to: "ws://127.0.0.1:\(server.port)/", subprotocol: "daniel") { connection, event in
            if case .connectionError = event { failedAt.withLock { $0 = .now } }
            recorder.handler(connection, event)
        }
        let error = try await recorder.waitForConnectionError()
        let elapsed = try #require(failedAt.withLock { $0 }) - started
        #expect(elapsed < .seconds(6), "gave up after \(elapsed)")
        #expect("\(error)".contains("no answer from the server within 2 s"), "\(error)")
    }

    @Test func aServerThatClosesMidHandshakeFailsTheConnect() async throws {
        let server = try HostileServer { socket in
            _ = try? socket.read(until: "\r\n\r\n")
            try? socket.write(Array("HTTP/1.1 101 Swi".utf8))
        }
        defer { server.stop() }
        let error = try await connectExpectingFailure(port: server.port)
        #expect("\(error)".contains("cannot connect"), "\(error)")
    }

    /// After a valid handshake, a frame the client must refuse, and the close codes it may send
    /// (nil: it may also just drop the connection, which RFC 6455 section 7.1.7 allows when
    /// failing it). Shown by name in test output (one frame is 100 kB).
    struct RefusedFrame: Sendable, CustomTestStringConvertible {
        let name: String
        let frame: [UInt8]
        let codes: [UInt16?]
        var testDescription: String { name }
    }

    @Test(arguments: [
        // 2 MiB announced, 1 MiB sent: lws 4.1.6's client parser, told to fail the connection
        // after its first 64 KiB, wrote the rest past the end of its receive buffer.
        RefusedFrame(name: "a message over the client's limit",
                     frame: [0x82, 0x7F, 0, 0, 0, 0, 0, 0x20, 0, 0] + [UInt8](repeating: 0xA5, count: 1 << 20), codes: [1009]),
        // Headers alone: no payload, no RECEIVE; refused from the announced length.
        RefusedFrame(name: "a header alone announcing 2^63 - 1 bytes",
                     frame: [0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], codes: [1009]),
        RefusedFrame(name: "a header alone announcing 2 MiB", frame: [0x81, 0x7F, 0, 0, 0, 0, 0, 0x20, 0, 0], codes: [1009]),
        RefusedFrame(name: "a reserved opcode", frame: [0x83, 0x01, 0x00], codes: [1002, nil]),
        RefusedFrame(name: "a reserved bit", frame: [0xC1, 0x01, 0x61], codes: [1002, nil]),
        RefusedFrame(name: "a fragmented ping", frame: [0x09, 0x01, 0x61], codes: [1002, nil]),
        RefusedFrame(name: "invalid UTF-8 in text", frame: [0x81, 0x02, 0xC3, 0x28], codes: [1007]),
        // The same failure inside the first buffer's worth of a 1 MiB frame (lws' own check
        // would have failed it there, with the overflow above).
        RefusedFrame(name: "invalid UTF-8 at the start of a 1 MiB text frame",
                     frame: [0x81, 0x7F, 0, 0, 0, 0, 0, 0x10, 0, 0, 0xC3, 0x28] + [UInt8](repeating: 0x61, count: (1 << 20) - 2),
                     codes: [1007]),
        RefusedFrame(name: "a close reason that is not UTF-8", frame: [0x88, 0x04, 0x03, 0xE8, 0xC3, 0x28], codes: [1007, nil]),
    ])
    func framesTheClientMustRefuseEndTheConnection(_ refused: RefusedFrame) async throws {
        let (name, frame, codes) = (refused.name, refused.frame, refused.codes)
        let ending = LockedValue<(code: UInt16?, ended: Bool)?>(nil)
        let server = try HostileServer { socket in
            guard let request = try? socket.read(until: "\r\n\r\n") else { return }
            try? socket.write(Array(Self.upgrade(request).utf8) + frame)
            let (bytes, ended) = socket.readToEnd(until: .now + Self.bound)
            ending.withLock { $0 = (Self.clientCloseCode(in: bytes), ended) }
        }
        defer { server.stop() }
        // The lws client sees a frame's length only with its first receive buffer's worth of
        // payload: the oversize frame sends more than this 64 KiB buffer.
        let client = try makeClient(limits: .init(maxMessageSize: 1 << 20, receiveBufferSize: 64 << 10))
        defer { client.syncShutdown() }
        let connection = try await client.connect(to: "ws://127.0.0.1:\(server.port)/")
        var received: [Message] = []
        do {
            for try await message in connection.messages { received.append(message) }
        } catch {}
        #expect(received.isEmpty, "\(name): the client delivered \(received)")
        let deadline = ContinuousClock.now + Self.bound + .seconds(1)
        while ending.withLock({ $0 }) == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let seen = ending.withLock { $0 }
        #expect(seen?.ended == true, "\(name): the client did not end the connection within \(Self.bound)")
        #expect(codes.contains(seen?.code), "\(name): the client's close code is \(seen?.code.map(String.init) ?? "none"), expected \(codes)")
    }

    // MARK: Helpers

    private func connectExpectingFailure(_ client: WebSocketClient? = nil, port: Int) async throws -> LWSError {
        let owned = client == nil ? try makeClient() : nil
        defer { owned?.syncShutdown() }
        do {
            let connection = try await (client ?? owned!).connect(to: "ws://127.0.0.1:\(port)/", subprotocol: "daniel")
            Issue.record("connected to a broken server: \(connection)")
            throw PeerError("connected")
        } catch let error as LWSError {
            return error
        }
    }

    /// The code of the first close frame among the masked frames a client sent.
    static func clientCloseCode(in bytes: [UInt8]) -> UInt16? {
        var index = 0
        while index + 6 <= bytes.count {
            let opcode = bytes[index] & 0x0F
            var length = Int(bytes[index + 1] & 0x7F)
            var start = index + 2
            if length == 126 {
                guard start + 2 <= bytes.count else { return nil }
                length = Int(bytes[start]) << 8 | Int(bytes[start + 1])
                start += 2
            }
            let mask = Array(bytes[start..<min(start + 4, bytes.count)])
            start += 4
            guard mask.count == 4, start + length <= bytes.count else { return nil }
            if opcode == 0x8 {
                guard length >= 2 else { return 1005 }
                return UInt16(bytes[start] ^ mask[0]) << 8 | UInt16(bytes[start + 1] ^ mask[1])
            }
            index = start + length
        }
        return nil
    }
}
