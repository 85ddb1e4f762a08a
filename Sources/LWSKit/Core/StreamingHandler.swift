/// The handler behind the async style: it turns a connection's events into its inbound queue
/// (read with `connection.messages`) and announces the connection once established. The async
/// API is thus one more handler over the same dispatcher and send queue, not a second core.
enum StreamingHandler {
    /// Makes the handler.
    /// - Parameters:
    ///   - onEstablished: Receives the connection once its inbound queue exists.
    ///   - onEndedBeforeEstablished: Receives the error when the connection ends without having
    ///     been established (client connection errors, a close during the handshake).
    static func make(
        onEstablished: @escaping @Sendable (WebSocketConnection) -> Void,
        onEndedBeforeEstablished: @escaping @Sendable (LWSError) -> Void = { _ in }
    ) -> WebSocketHandler {
        { connection, event in
            let inbound = connection.state.shared.withLock { $0.inbound }
            switch event {
            case .established:
                let queue = InboundQueue(resumeMark: connection.limits.receiveHighWaterMark / 2)
                connection.state.shared.withLock { $0.inbound = queue }
                onEstablished(connection)
            case .message(let message):
                guard let inbound else { return }
                if inbound.push(message) > connection.limits.receiveHighWaterMark {
                    inbound.markPaused()
                    connection.setReading(paused: true, for: .receiveBacklog)
                }
            case .writeable, .pong:
                break
            case .closed:
                if let inbound { inbound.finish(.closed) } else { onEndedBeforeEstablished(.connectionClosed) }
            case .connectionError(let error):
                onEndedBeforeEstablished(error)
            }
        }
    }
}
