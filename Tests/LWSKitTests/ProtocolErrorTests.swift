import Foundation
import Testing

/// What a server does when a peer breaks the protocol (RFC 6455 section 7.1.7: fail the
/// connection, with 1002): answers to the valid messages before the bad frame still go out.
@Suite("Protocol errors", .timeLimit(.minutes(2)))
struct ProtocolErrorTests {
    /// Ten text messages and one bad frame arrive in one read. lws closes on the bad frame
    /// before the next writeable callback; the echoes queued for the ten must precede its close.
    @Test(arguments: [
        (0x03, "reserved data opcode 3"), (0x0B, "reserved control opcode 11"), (0x31, "text with RSV2 and RSV3 set"),
    ] as [(UInt8, String)])
    func answersQueuedInTheSameReadGoOutBeforeThe1002Close(badFrame: (first: UInt8, name: String)) async throws {
        let texts = (1...10).map { "message \($0) before the error" }
        let frames = try await converseWithEchoServer(
            texts.flatMap { RawSocket.maskedFrame(opcode: 1, payload: Array($0.utf8)) } + RawSocket.maskedFrame(opcode: badFrame.first, payload: [1, 2, 3]))

        let echoes = frames.filter { $0.head == 0x81 }.map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(echoes == texts, "\(badFrame.name): \(frames.map(\.head))")
        let close = try #require(frames.last, "\(badFrame.name): nothing came back")
        #expect(close.head == 0x88 && close.payload.prefix(2) == [0x03, 0xEA], "\(badFrame.name): ends with \(close)")
    }

    /// Ten messages and the peer's close arrive in one read: lws answers the close without
    /// another writeable callback, so the ten echoes must go out first, then the close answer.
    @Test func echoesOfMessagesSentTogetherWithACloseGoOutBeforeTheCloseAnswer() async throws {
        let texts = (1...10).map { "message \($0) before the close" }
        let frames = try await converseWithEchoServer(
            texts.flatMap { RawSocket.maskedFrame(opcode: 1, payload: Array($0.utf8)) } + RawSocket.maskedFrame(opcode: 0x8, payload: [0x03, 0xE8]))

        let echoes = frames.filter { $0.head == 0x81 }.map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(echoes == texts, "\(frames.map(\.head))")
        let close = try #require(frames.last, "nothing came back")
        #expect(close.head == 0x88 && close.payload.prefix(2) == [0x03, 0xE8], "ends with \(close)")
    }

    /// Opens a raw connection to a new echo server, writes `bytes` in one write and returns the
    /// server's frames up to its close, reading on a thread of its own (not the task pool's).
    private func converseWithEchoServer(_ bytes: [UInt8]) async throws -> [(head: UInt8, payload: [UInt8])] {
        let server = try EchoServer()
        defer { server.server.syncShutdown() }
        let port = server.port
        return try await offThePool {
            let raw = try RawSocket(port: port)
            guard try raw.handshake().hasPrefix("HTTP/1.1 101") else { throw PeerError("no 101") }
            try raw.write(bytes)
            return raw.readFramesUntilClose(until: .now + .seconds(10))
        }
    }
}
