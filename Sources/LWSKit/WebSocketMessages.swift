/// The messages a streaming connection receives, in order, as an `AsyncSequence`.
///
/// The sequence ends when the connection closes and throws when a client connection fails.
/// Cancelling the task that waits in it closes the connection with 1001 (going away). While the
/// application is behind by more than `WebSocketLimits.receiveHighWaterMark` bytes, LWSKit
/// stops reading from the peer. One task at a time may iterate it.
public struct WebSocketMessages: AsyncSequence, Sendable {
    /// Each element is one whole message.
    public typealias Element = Message

    let connection: WebSocketConnection

    /// Creates the iterator.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(connection: connection) }

    /// Takes messages from the connection's inbound queue.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let connection: WebSocketConnection
        /// The connection's queue, looked up on the first `next()`: it never changes once set.
        private var inbound: InboundQueue?

        init(connection: WebSocketConnection) {
            self.connection = connection
        }

        /// The next message, or nil once the connection has closed.
        /// - Throws: the connection's `LWSError`; `CancellationError` when the task was
        ///   cancelled (the connection is then closed with 1001); `LWSError.invalidArgument` for
        ///   a connection whose protocol delivers to a handler instead.
        public mutating func next() async throws -> Message? {
            if inbound == nil { inbound = connection.state.shared.withLock { $0.inbound } }
            guard let inbound else {
                throw LWSError.invalidArgument("connection \(connection.id) delivers its messages to a handler, not to `messages`")
            }
            do {
                try Task.checkCancellation()
                let connection = connection
                return try await inbound.next {
                    try? connection.loop.execute { connection.setReading(paused: false, for: .receiveBacklog) }
                }
            } catch is CancellationError {
                try? connection.close(code: .goingAway, reason: "cancelled")
                throw CancellationError()
            }
        }
    }
}

extension WebSocketConnection {
    /// The received messages of a connection of a streaming protocol (`WebSocketProtocol.streaming`)
    /// or of `WebSocketClient.connect(to:subprotocol:)`.
    public var messages: WebSocketMessages { WebSocketMessages(connection: self) }

    /// Sends a whole message, first waiting while more than `WebSocketLimits.sendHighWaterMark`
    /// bytes are unsent (until they fall to `sendLowWaterMark`): a fast producer is slowed to
    /// the pace of its peer instead of filling memory.
    ///
    /// Use it where one task feeds one peer (an echo, a stream). To send to many connections,
    /// use `send(_:)`, which never waits: one slow peer must not hold up the others.
    /// - Parameter message: The text or binary message.
    /// - Throws: `LWSError.connectionClosed` if the connection closes meanwhile;
    ///   `CancellationError` if the task is cancelled while waiting (nothing is queued then);
    ///   otherwise as `send(_:)`.
    public func sendWithBackpressure(_ message: Message) async throws {
        while bufferedAmount > limits.sendHighWaterMark {
            try await waitForSendRoom()
        }
        try enqueueFromAnyThread(message)
    }

    /// Suspends until `bufferedAmount` is at or below the low-water mark.
    private func waitForSendRoom() async throws {
        let ticket = Self.nextTicket.wrappingAdd(1, ordering: .relaxed).oldValue
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                let immediate = state.shared.withLock { shared -> Result<Void, Error>? in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if !state.acceptsSends.load(ordering: .acquiring) { return .failure(LWSError.connectionClosed) }
                    if bufferedAmount <= limits.sendLowWaterMark { return .success(()) }
                    shared.sendWaiters[ticket] = continuation
                    state.hasSendWaiters.store(true, ordering: .releasing)
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            state.shared.withLock { $0.sendWaiters.removeValue(forKey: ticket) }?.resume(throwing: CancellationError())
        }
    }
}
