import Foundation
import Testing
@testable import LWSKit

/// What a server admits: how many peers, how slow and how large their opening request.
@Suite("Server limits", .timeLimit(.minutes(2)))
struct ServerLimitsTests {
    private func startServer(_ limits: ServerLimits, tls: TLSServerConfiguration? = nil) throws -> WebSocketServer {
        let server = try WebSocketServer(
            configuration: .init(host: "127.0.0.1", port: 0, protocols: [EchoServer.daniel], serverLimits: limits, tls: tls),
            logger: testLogger("server")
        )
        try server.start()
        return server
    }

    @Test func peersBeyondMaxConnectionsAreDisconnectedAndTheOthersKeepEchoing() async throws {
        let server = try startServer(.init(maxConnections: 3))
        defer { server.syncShutdown() }
        let port = server.port
        try await offThePool {
            let admitted = try (0..<3).map { _ in try RawSocket(port: port) }
            for socket in admitted { #expect(try socket.handshake().hasPrefix("HTTP/1.1 101")) }

            let refused = try RawSocket(port: port)
            try? refused.write(RawSocket.upgradeRequest())
            let (bytes, ended) = refused.readToEnd(until: .now + .seconds(5))
            #expect(ended && bytes.isEmpty, "the fourth peer got \(bytes.count) bytes, ended: \(ended)")

            for (index, socket) in admitted.enumerated() {
                try socket.write(RawSocket.maskedFrame(payload: [UInt8(index)]))
                let frames = RawSocket.serverFrames(socket.read(until: .now + .seconds(5)) { RawSocket.serverFrames($0).count >= 1 }.bytes)
                #expect(frames.first?.payload == [UInt8(index)], "admitted peer \(index) lost its echo")
            }

            // A place freed is a place taken.
            admitted[0].close()
            var again: String?
            for _ in 0..<50 where again == nil {
                Thread.sleep(forTimeInterval: 0.05)
                let socket = try RawSocket(port: port)
                let response = try socket.handshake()
                if response.hasPrefix("HTTP/1.1 101") { again = response }
            }
            #expect(again != nil, "no peer was admitted after one left")
        }
    }

    @Test func aSlowlorisPeerIsDroppedAtTheHandshakeTimeout() async throws {
        let server = try startServer(.init(handshakeTimeout: .seconds(2)))
        defer { server.syncShutdown() }
        let port = server.port
        let (sent, elapsed) = try await offThePool {
            let socket = try RawSocket(port: port)
            let request = RawSocket.upgradeRequest(extraHeaders: String(repeating: "X-Slow: a\r\n", count: 100))
            let started = ContinuousClock.now
            var sent = 0
            // One byte every 100 ms, never finishing the head, until the server hangs up.
            for byte in request.dropLast(2) {
                guard (try? socket.write([byte])) != nil, !socket.readToEnd(until: .now + .milliseconds(100)).ended else { break }
                sent += 1
            }
            return (sent, ContinuousClock.now - started)
        }
        #expect(elapsed < .seconds(5), "dropped after \(elapsed), \(sent) bytes")
        #expect(elapsed >= .seconds(1), "dropped too early, after \(elapsed)")
        try await expectStillServes(port: port)
    }

    @Test func aPeerThatSendsNothingIsDroppedAtTheHandshakeTimeout() async throws {
        let server = try startServer(.init(handshakeTimeout: .seconds(2)))
        defer { server.syncShutdown() }
        let port = server.port
        let elapsed = try await offThePool {
            let socket = try RawSocket(port: port)
            let started = ContinuousClock.now
            _ = socket.readToEnd(until: .now + .seconds(8))
            return ContinuousClock.now - started
        }
        #expect(elapsed < .seconds(5), "a silent peer stayed \(elapsed)")
    }

    @Test(arguments: [4096, 16384])
    func requestHeadsAboveMaxHeaderSizeAreDropped(limit: Int) async throws {
        let server = try startServer(.init(maxHeaderSize: limit))
        defer { server.syncShutdown() }
        let port = server.port
        let filler = String(repeating: "a", count: 100)
        let responses = try await offThePool {
            // About 6 KiB of headers: over the default, under 16 KiB.
            let socket = try RawSocket(port: port)
            try socket.write(RawSocket.upgradeRequest(extraHeaders: (0..<60).map { "X-Filler-\($0): \(filler)\r\n" }.joined()))
            return String(decoding: socket.readToEnd(until: .now + .seconds(5)).bytes.prefix(12), as: UTF8.self)
        }
        if limit == 4096 {
            #expect(!responses.hasPrefix("HTTP/1.1 101"), "a 6 KiB head passed a \(limit)-byte limit")
        } else {
            #expect(responses.hasPrefix("HTTP/1.1 101"), "a 6 KiB head was refused under a \(limit)-byte limit: \(responses)")
        }
        try await expectStillServes(port: port)
    }

    @Test func aPlainClientOnTheTLSPortIsDroppedAndTLSClientsAreStillServed() async throws {
        let certificates = try TestCertificates.shared()
        let server = try startServer(.init(handshakeTimeout: .seconds(2)),
                                     tls: .init(certificateChain: .file(certificates.leaf.certificate), privateKey: .file(certificates.leaf.key)))
        defer { server.syncShutdown() }
        let port = server.port
        let (bytes, ended) = try await offThePool {
            let socket = try RawSocket(port: port)
            try? socket.write(RawSocket.upgradeRequest())
            return socket.readToEnd(until: .now + .seconds(5))
        }
        #expect(ended, "a plain-text peer on the TLS port is still connected")
        #expect(!String(decoding: bytes, as: UTF8.self).contains("101"))
        let client = try WebSocketClient(configuration: .init(tls: .init(trustRoots: .file(certificates.ca))),
                                         logger: testLogger("client"))
        defer { client.syncShutdown() }
        let connection = try await client.connect(to: "wss://localhost:\(port)/", subprotocol: "daniel")
        try await connection.sendWithBackpressure(.text("over TLS"))
        var iterator = connection.messages.makeAsyncIterator()
        #expect(try await iterator.next() == .text("over TLS"))
    }

    @Test func aTLSClientOnThePlainPortFailsAndPlainClientsAreStillServed() async throws {
        let server = try startServer(.init())
        defer { server.syncShutdown() }
        let client = try WebSocketClient(configuration: .init(tls: .init(allowSelfSigned: true, skipHostnameCheck: true)),
                                         logger: testLogger("client"))
        defer { client.syncShutdown() }
        await #expect(throws: LWSError.self) { _ = try await client.connect(to: "wss://127.0.0.1:\(server.port)/", subprotocol: "daniel") }
        try await expectStillServes(port: server.port)
    }

    @Test func limitsOutOfRangeAreRejected() {
        for limits in [ServerLimits(maxConnections: 0), ServerLimits(handshakeTimeout: .milliseconds(1500)),
                       ServerLimits(handshakeTimeout: .zero), ServerLimits(maxHeaderSize: 100), ServerLimits(maxHeaderSize: 70000)] {
            #expect(throws: LWSError.self) {
                _ = try WebSocketServer(configuration: .init(port: 0, protocols: [EchoServer.daniel], serverLimits: limits))
            }
        }
        #expect(throws: LWSError.self) { _ = try WebSocketClient(configuration: .init(handshakeTimeout: .zero)) }
    }

    /// A well-behaved LWSKit client still gets its echo.
    private func expectStillServes(port: Int) async throws {
        let client = try makeClient()
        defer { client.syncShutdown() }
        let connection = try await client.connect(to: "ws://127.0.0.1:\(port)/", subprotocol: "daniel")
        try await connection.sendWithBackpressure(.text("still here"))
        var iterator = connection.messages.makeAsyncIterator()
        #expect(try await iterator.next() == .text("still here"))
    }
}
