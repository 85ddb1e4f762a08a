import Foundation

/// A TCP server on 127.0.0.1 that answers each connection with a scripted, usually broken,
/// conversation over raw sockets: for testing what LWSKit's clients do with servers that
/// break RFC 6455.
final class HostileServer: @unchecked Sendable {
    /// The port it listens on.
    let port: Int
    private let listener: Int32
    private let conversation: @Sendable (RawSocket) -> Void

    /// Listens on a free port; `conversation` runs on a thread of its own for every accepted
    /// connection, which is closed when it returns.
    init(_ conversation: @escaping @Sendable (RawSocket) -> Void) throws {
        self.conversation = conversation
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard let port = bindToFreeLoopbackPort(listener, listening: true) else {
            close(listener)
            throw PeerError("hostile server cannot listen: errno \(errno)")
        }
        self.listener = listener
        self.port = port
        Thread { [self] in acceptLoop() }.start()
    }

    /// Stops accepting (connections in progress finish on their own).
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let descriptor = accept(listener, nil, nil)
            guard descriptor >= 0 else { return }
            let conversation = conversation
            Thread {
                let socket = RawSocket(descriptor: descriptor)
                conversation(socket)
                socket.close()
            }.start()
        }
    }

    /// The server's half of the opening handshake for a request read from `socket`: the
    /// `Sec-WebSocket-Accept` that request's key calls for.
    static func acceptValue(forRequest request: String) -> String {
        let key = request.split(separator: "\r\n").first { $0.lowercased().hasPrefix("sec-websocket-key:") }
            .map { $0.dropFirst("sec-websocket-key:".count).trimmingCharacters(in: .whitespaces) } ?? ""
        return SHA1.base64Digest(of: key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
    }
}
