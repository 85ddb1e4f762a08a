/// Feeds `WebSocketServer.connections`: each established streaming connection is yielded to
/// the stream until the server's loop ends, then the stream's continuation is let go.
///
/// Letting go matters: connections nobody took from the stream stay in its buffer, each
/// connection holds its handler, and the handler holds this announcer. Were the continuation
/// (which owns the buffer) kept here, server, loop and connections would form a reference cycle
/// that outlives the server (LeakSanitizer found exactly that).
final class ConnectionAnnouncer: Sendable {
    private let continuation: LockedValue<AsyncStream<WebSocketConnection>.Continuation?>

    init(_ continuation: AsyncStream<WebSocketConnection>.Continuation) {
        self.continuation = LockedValue(continuation)
    }

    /// Yields `connection` to the stream, unless the server has ended.
    func announce(_ connection: WebSocketConnection) {
        continuation.withLock { $0 }?.yield(connection)
    }

    /// Ends the stream and forgets it. Idempotent.
    func finish() {
        continuation.withLock { continuation in
            defer { continuation = nil }
            return continuation
        }?.finish()
    }
}
