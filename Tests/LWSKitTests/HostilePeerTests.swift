import Foundation
import Testing
@testable import LWSKit

/// Peers that break RFC 6455 or HTTP on purpose, over raw sockets: each must get the RFC's close
/// code, an HTTP error or a dropped connection within a bound, and the server must go on
/// echoing a well-behaved client.
@Suite("Hostile peers", .timeLimit(.minutes(2)))
struct HostilePeerTests {
    /// How long a server may take to fail a broken connection.
    private static let bound = Duration.seconds(5)

    /// A frame-level violation sent after a valid handshake, and the endings that are correct.
    struct FrameCase: CustomTestStringConvertible, Sendable {
        let name: String
        let bytes: @Sendable () -> [UInt8]
        let accepted: [RawSocket.Ending]
        var testDescription: String { name }
    }

    static let frameCases: [FrameCase] = [
        FrameCase(name: "RSV1 without a negotiated extension", bytes: { RawSocket.maskedFrame(opcode: 0x41, payload: Array("hi".utf8)) },
                  accepted: [.closeFrame(1002)]),
        FrameCase(name: "reserved data opcode 3", bytes: { RawSocket.maskedFrame(opcode: 0x3, payload: [1]) }, accepted: [.closeFrame(1002)]),
        FrameCase(name: "reserved control opcode 11", bytes: { RawSocket.maskedFrame(opcode: 0xB, payload: [1]) }, accepted: [.closeFrame(1002)]),
        FrameCase(name: "ping of 126 bytes", bytes: { RawSocket.maskedFrame(opcode: 0x9, payload: [UInt8](repeating: 7, count: 126)) },
                  accepted: [.closeFrame(1002), .dropped]),
        FrameCase(name: "fragmented ping", bytes: { RawSocket.maskedFrame(opcode: 0x9, payload: [1], fin: false) }, accepted: [.closeFrame(1002)]),
        FrameCase(name: "continuation without a start", bytes: { RawSocket.maskedFrame(opcode: 0x0, payload: [1]) }, accepted: [.closeFrame(1002)]),
        FrameCase(name: "new message inside a fragmented one",
                  bytes: { RawSocket.maskedFrame(opcode: 0x1, payload: [0x61], fin: false) + RawSocket.maskedFrame(opcode: 0x2, payload: [1]) },
                  accepted: [.closeFrame(1002)]),
        FrameCase(name: "length with bit 63 set",
                  bytes: { [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0] }, accepted: [.closeFrame(1002), .dropped]),
        FrameCase(name: "frame announcing 2^62 bytes",
                  bytes: { [0x82, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0] }, accepted: [.closeFrame(1009)]),
        // Headers alone: lws reports no payload, LWSKit sees the announced length between
        // callbacks (issue 13: these peers stayed connected until the idle timeout).
        FrameCase(name: "header alone announcing 2^63 - 1 bytes",
                  bytes: { [0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4] }, accepted: [.closeFrame(1009)]),
        FrameCase(name: "header alone announcing 17 MiB (limit 16 MiB)",
                  bytes: { [0x81, 0xFF, 0, 0, 0, 0, 0x01, 0x10, 0, 0, 1, 2, 3, 4] }, accepted: [.closeFrame(1009)]),
        FrameCase(name: "unmasked header alone announcing 2^63 - 1 bytes",
                  bytes: { [0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] }, accepted: [.closeFrame(1009)]),
        // Adding the fragment's length to 2^63 - 1 trapped: one frame stopped the server.
        FrameCase(name: "continuation announcing 2^63 - 1 bytes after a fragment",
                  bytes: { RawSocket.maskedFrame(opcode: 0x2, payload: [1, 2], fin: false)
                           + [0x80, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4, 5] }, accepted: [.closeFrame(1009)]),
        FrameCase(name: "invalid UTF-8 in text", bytes: { RawSocket.maskedFrame(opcode: 0x1, payload: [0x68, 0xFF, 0xFE]) },
                  accepted: [.closeFrame(1007)]),
        FrameCase(name: "invalid UTF-8 split across fragments",
                  bytes: { RawSocket.maskedFrame(opcode: 0x1, payload: [0xCE], fin: false) + RawSocket.maskedFrame(opcode: 0x0, payload: [0x41]) },
                  accepted: [.closeFrame(1007)]),
        FrameCase(name: "close code 999", bytes: { RawSocket.maskedFrame(opcode: 0x8, payload: [0x03, 0xE7]) }, accepted: [.closeFrame(1002)]),
        FrameCase(name: "close code 1005", bytes: { RawSocket.maskedFrame(opcode: 0x8, payload: [0x03, 0xED]) }, accepted: [.closeFrame(1002)]),
        FrameCase(name: "close code 5000", bytes: { RawSocket.maskedFrame(opcode: 0x8, payload: [0x13, 0x88]) }, accepted: [.closeFrame(1002)]),
        FrameCase(name: "close frame with a 1-byte payload", bytes: { RawSocket.maskedFrame(opcode: 0x8, payload: [0x03]) },
                  accepted: [.closeFrame(1002)]),
        FrameCase(name: "close reason that is not UTF-8", bytes: { RawSocket.maskedFrame(opcode: 0x8, payload: [0x03, 0xE8, 0xFF]) },
                  accepted: [.closeFrame(1007), .closeFrame(1002), .dropped]),
        // RFC 6455 wants 1002; lws 4.1.6 does not show LWSKit the mask bit and takes the frame
        // (README, known limits). What must hold: no crash, no hang, the others still served.
        FrameCase(name: "unmasked client frame", bytes: { [0x82, 0x03, 1, 2, 3] },
                  accepted: [.closeFrame(1002), .dropped, .stillOpen]),
    ]

    @Test(arguments: frameCases)
    func frameViolationsFailTheConnection(_ violation: FrameCase) async throws {
        let (response, ending) = try await converseWithEchoServer { port in
            let raw = try RawSocket(port: port)
            let response = try raw.handshake()
            try raw.write(violation.bytes())
            return (response, raw.ending(until: .now + Self.bound))
        }
        #expect(response.hasPrefix("HTTP/1.1 101"))
        #expect(violation.accepted.contains(ending), "\(violation.name): \(ending), expected one of \(violation.accepted)")
    }

    /// An opening handshake (or what stands in for one) that must not get a 101.
    struct HandshakeCase: CustomTestStringConvertible, Sendable {
        let name: String
        let request: @Sendable () -> [UInt8]
        var testDescription: String { name }
    }

    private static func upgrade(key: String? = "dGhlIHNhbXBsZSBub25jZQ==", version: String? = "13", extra: String = "") -> [UInt8] {
        RawSocket.upgradeRequest(key: key, version: version, extraHeaders: extra)
    }

    static let handshakeCases: [HandshakeCase] = [
        HandshakeCase(name: "garbage instead of a handshake") { (0..<2000).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) } },
        HandshakeCase(name: "garbage before the handshake") { Array("\u{16}\u{3}\u{1}garbage\r\n".utf8) + upgrade() },
        HandshakeCase(name: "no Sec-WebSocket-Key") { upgrade(key: nil) },
        HandshakeCase(name: "a key that is not 16 bytes of base64") { upgrade(key: "short") },
        HandshakeCase(name: "Sec-WebSocket-Version 8") { upgrade(version: "8") },
        HandshakeCase(name: "no Sec-WebSocket-Version") { upgrade(version: nil) },
        HandshakeCase(name: "1 MiB of headers") { upgrade(extra: (0..<1050).map { "X-Filler-\($0): \(String(repeating: "a", count: 1000))\r\n" }.joined()) },
        HandshakeCase(name: "a subprotocol nobody serves") { RawSocket.upgradeRequest(subprotocol: "nobody") },
    ]

    @Test(arguments: handshakeCases)
    func brokenHandshakesGetNo101AndAreDropped(_ handshake: HandshakeCase) async throws {
        let (bytes, ended) = try await converseWithEchoServer { port in
            let raw = try RawSocket(port: port)
            try? raw.write(handshake.request())
            return raw.readToEnd(until: .now + Self.bound)
        }
        let response = String(decoding: bytes.prefix(200), as: UTF8.self)
        #expect(!response.contains(" 101 "), "\(handshake.name): \(response)")
        #expect(ended, "\(handshake.name): the connection is still open after \(Self.bound): \(response)")
    }

    /// lws 4.1.6 drops such a socket without a word; LWSKit answers 400 naming what was
    /// offered and what is served (issue 13), then closes.
    @Test func anUpgradeOfferingOnlyUnservedSubprotocolsIsAnswered400NamingThem() async throws {
        let (bytes, ended) = try await converseWithEchoServer { port in
            let raw = try RawSocket(port: port)
            try? raw.write(RawSocket.upgradeRequest(subprotocol: "nobody, other"))
            return raw.readToEnd(until: .now + Self.bound)
        }
        let response = String(decoding: bytes, as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 400 "), "\(response)")
        #expect(response.contains("(nobody, other)") && response.contains("served: daniel"), "\(response)")
        #expect(ended)
    }

    /// Request shapes used for HTTP request smuggling: refused with 400 and the connection closed.
    @Test(arguments: [
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello!!",
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ])
    func ambiguousRequestBodiesAreRefused(request: String) async throws {
        let echo = HTTPRoute("POST", "/echo") { request in HTTPResponse(status: 200, body: request.body) }
        let server = try WebSocketServer(
            configuration: .init(host: "127.0.0.1", port: 0, protocols: [EchoServer.daniel], http: .init(routes: [echo])),
            logger: testLogger("server")
        )
        try server.start()
        defer { server.syncShutdown() }
        let port = server.port
        let (bytes, ended) = try await offThePool {
            let raw = try RawSocket(port: port)
            try raw.write(Array(request.utf8))
            return raw.readToEnd(until: .now + Self.bound)
        }
        let response = String(decoding: bytes, as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 400 "), "\(response)")
        #expect(response.components(separatedBy: "HTTP/1.1 ").count == 2, "one response only: \(response)")
        #expect(ended)
    }

    @Test func aThousandPeersResettingMidMessageLeaveTheServerServing() async throws {
        let upgraded = try await converseWithEchoServer { port in
            let half = Array(RawSocket.maskedFrame(opcode: 0x2, payload: [UInt8](repeating: 9, count: 4096)).prefix(2000))
            var upgraded = 0
            for _ in 0..<1000 {
                let raw = try RawSocket(port: port)
                if try raw.handshake().hasPrefix("HTTP/1.1 101") { upgraded += 1 }
                try raw.write(half)
                raw.reset()
            }
            return upgraded
        }
        #expect(upgraded == 1000)
    }

    /// Starts an echo server, runs `conversation` with its port on a thread of its own (it
    /// blocks on raw sockets), then checks that a well-behaved LWSKit client still gets its
    /// echo. Returns what the conversation returned.
    private func converseWithEchoServer<Result: Sendable>(_ conversation: @escaping @Sendable (Int) throws -> Result) async throws -> Result {
        let server = try EchoServer()
        defer { server.server.syncShutdown() }
        let port = server.port
        let result = try await offThePool { try conversation(port) }
        try await expectStillServes(server)
        return result
    }

    /// A well-behaved LWSKit client still gets its echo.
    private func expectStillServes(_ server: EchoServer) async throws {
        let client = try makeClient()
        defer { client.syncShutdown() }
        let connection = try await client.connect(to: server.url, subprotocol: "daniel")
        try await connection.sendWithBackpressure(.text("still here"))
        var iterator = connection.messages.makeAsyncIterator()
        #expect(try await iterator.next() == .text("still here"))
    }
}
