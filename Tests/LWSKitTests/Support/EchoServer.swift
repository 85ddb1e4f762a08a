import Foundation
import Logging
@testable import LWSKit

/// An in-process "daniel" echo server on 127.0.0.1 and a free port.
struct EchoServer {
    let server: WebSocketServer
    var port: Int { server.port }
    var url: String { "ws://127.0.0.1:\(server.port)/" }

    /// The echo protocol: every message goes back to its sender unchanged.
    static let daniel = WebSocketProtocol(name: "daniel") { connection, event in
        if case .message(let message) = event { try? connection.send(message) }
    }

    init(limits: WebSocketLimits = .init(), protocols: [WebSocketProtocol] = [Self.daniel]) throws {
        server = try WebSocketServer(
            configuration: .init(host: "127.0.0.1", port: 0, protocols: protocols, limits: limits, serverLimits: testServerLimits),
            logger: testLogger("server")
        )
        try server.start()
    }
}

/// A client for tests, logging warnings and errors.
///
/// Under the sanitizers its connections have 30 s for each step of connecting instead of the
/// default 10: the tests opening 100 connections at once from one instrumented client thread,
/// beside the other suites, missed the 10 s in 2 of 8 ThreadSanitizer runs of the whole suite
/// (runs that took 45-79 s instead of 33: the machine was slow). What those tests check is the
/// echoes and contexts, not how fast a starved client connects; timings belong in benchmarks.
func makeClient(limits: WebSocketLimits = .init()) throws -> WebSocketClient {
    try WebSocketClient(
        configuration: .init(limits: limits, handshakeTimeout: isUnderSanitizer ? .seconds(30) : .seconds(10)),
        logger: testLogger("client"))
}

/// Server limits for the tests that open 100 connections or more at once: under the
/// sanitizers their servers give a handshake 30 s instead of the default 10, as `makeClient`
/// does. In one ThreadSanitizer run of ten (62 s and 48 s instead of 37: the machine was slow),
/// a server of `eachOfManyConnectionsKeepsItsOwnContext` starved past 10 s closed a waiting
/// handshake unanswered. What those tests check is contexts and echoes, not how fast a starved
/// server answers; the handshake timeout itself has tests of its own.
let testServerLimits = ServerLimits(handshakeTimeout: isUnderSanitizer ? .seconds(30) : .seconds(10))

/// A logger for tests: warnings and errors only, so failures show lws' reasons.
func testLogger(_ label: String) -> Logger {
    var logger = Logger(label: "test.\(label)")
    logger.logLevel = ProcessInfo.processInfo.environment["LWSKIT_TEST_DEBUG"] != nil ? .trace : .warning
    return logger
}

/// `count` bytes whose values depend on `seed`, so a mix-up between messages shows. They are
/// SplitMix64 output, which deflate cannot shrink.
///
/// Eight bytes per step, written as words: under ThreadSanitizer every store is instrumented,
/// and the byte-at-a-time generators this replaced (one `getrandom` call per byte, in one of
/// them) took most of the test pool's two threads for half a minute.
func pattern(_ count: Int, seed: Int) -> [UInt8] {
    var state = UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9_7F4A_7C15
    return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        let raw = UnsafeMutableRawBufferPointer(buffer)
        var offset = 0
        while offset < count {
            state &+= 0x9E37_79B9_7F4A_7C15
            var word = state
            word = (word ^ (word >> 30)) &* 0xBF58_476D_1CE4_E5B9
            word = (word ^ (word >> 27)) &* 0x94D0_49BB_1331_11EB
            word ^= word >> 31
            let size = min(8, count - offset)
            withUnsafeBytes(of: word.littleEndian) { bytes in
                raw.baseAddress!.advanced(by: offset).copyMemory(from: bytes.baseAddress!, byteCount: size)
            }
            offset += size
        }
        initialized = count
    }
}

/// An echo server, a client and one connection between them, whose events are recorded.
struct EchoSession {
    let server: EchoServer
    let client: WebSocketClient
    let recorder = EventRecorder()
    let connection: WebSocketConnection

    init(
        serverLimits: WebSocketLimits = .init(), protocols: [WebSocketProtocol] = [EchoServer.daniel],
        clientLimits: WebSocketLimits = .init(), subprotocol: String? = "daniel"
    ) throws {
        server = try EchoServer(limits: serverLimits, protocols: protocols)
        client = try makeClient(limits: clientLimits)
        connection = try client.connect(to: server.url, subprotocol: subprotocol, handler: recorder.handler)
    }

    /// Shuts the client, then the server, down.
    func shutdown() {
        client.syncShutdown()
        server.server.syncShutdown()
    }
}

/// Whether `error` is `LWSError.connectionFailed` with a reason containing `text`.
func isConnectionFailure(_ error: any Error, saying text: String) -> Bool {
    guard case LWSError.connectionFailed(_, let reason) = error else { return false }
    return reason.contains(text)
}

/// Whether these tests run under AddressSanitizer or ThreadSanitizer (their runtimes are
/// linked in): load tests then use fewer connections, since the instrumented suite runs
/// several times slower and a load test beside other tests would starve their handshakes.
let isUnderSanitizer: Bool = dlsym(nil, "__tsan_init") != nil || dlsym(nil, "__asan_init") != nil
