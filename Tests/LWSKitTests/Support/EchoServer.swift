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
            configuration: .init(host: "127.0.0.1", port: 0, protocols: protocols, limits: limits),
            logger: testLogger("server")
        )
        try server.start()
    }
}

/// A client for tests, logging warnings and errors.
func makeClient(limits: WebSocketLimits = .init()) throws -> WebSocketClient {
    try WebSocketClient(configuration: .init(limits: limits), logger: testLogger("client"))
}

/// A logger for tests: warnings and errors only, so failures show lws' reasons.
func testLogger(_ label: String) -> Logger {
    var logger = Logger(label: "test.\(label)")
    logger.logLevel = .warning
    return logger
}

/// `count` bytes whose values depend on `seed`, so a mix-up between messages shows.
/// (A plain loop over the buffer: the generic `map` it replaced took minutes of the test pool's
/// time in debug builds under ThreadSanitizer.)
func pattern(_ count: Int, seed: Int) -> [UInt8] {
    var state = UInt32(truncatingIfNeeded: seed &* 2_654_435_761 &+ 1)
    return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        var index = 0
        while index < count {
            state = state &* 1_103_515_245 &+ 12345
            buffer[index] = UInt8(truncatingIfNeeded: state >> 16)
            index += 1
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
