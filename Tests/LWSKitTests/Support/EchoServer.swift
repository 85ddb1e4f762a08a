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

/// A logger for tests: warnings and errors only, so failures show lws' reasons.
func testLogger(_ label: String) -> Logger {
    var logger = Logger(label: "test.\(label)")
    logger.logLevel = .warning
    return logger
}

/// `count` bytes whose values depend on `seed`, so a mix-up between messages shows.
func pattern(_ count: Int, seed: Int) -> [UInt8] {
    var state = UInt32(truncatingIfNeeded: seed &* 2_654_435_761 &+ 1)
    return (0..<count).map { _ in
        state = state &* 1_103_515_245 &+ 12345
        return UInt8(truncatingIfNeeded: state >> 16)
    }
}
