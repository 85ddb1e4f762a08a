/// Messages received on a streaming connection, waiting for the application to take them with
/// `for try await message in connection.messages`.
///
/// The loop thread pushes; one consumer task takes. The queue reports its size so the loop can
/// stop reading from the peer while the application is behind (lws `rx_flow_control`), and tells
/// the consumer when a paused queue has drained, so reading can resume.
final class InboundQueue: @unchecked Sendable {
    /// How the message stream ended.
    enum End: Sendable {
        /// The connection closed: the sequence ends normally.
        case closed
        /// The connection failed (client connection errors): the sequence throws this.
        case failed(LWSError)
    }

    private struct State {
        var messages: [Message] = []
        var head = 0
        var bytes = 0
        var end: End?
        var waiter: CheckedContinuation<Message?, Error>?
        var paused = false
    }

    private let state = LockedValue(State())
    /// The queued bytes at or below which a paused connection resumes reading.
    private let resumeMark: Int

    init(resumeMark: Int) {
        self.resumeMark = resumeMark
    }

    /// Bytes received and not yet taken by the application.
    var queuedBytes: Int { state.withLock { $0.bytes } }

    // MARK: Loop thread

    /// Hands `message` to the waiting consumer or queues it; returns the bytes now queued.
    func push(_ message: Message) -> Int {
        let (waiter, bytes) = state.withLock { state -> (CheckedContinuation<Message?, Error>?, Int) in
            if let waiter = state.waiter {
                state.waiter = nil
                return (waiter, state.bytes)
            }
            state.messages.append(message)
            state.bytes += message.byteCount
            return (nil, state.bytes)
        }
        waiter?.resume(returning: message)
        return bytes
    }

    /// Records that the loop paused reading because the queue is over its limit.
    func markPaused() {
        state.withLock { $0.paused = true }
    }

    /// Ends the stream: the consumer gets the queued messages, then the end.
    func finish(_ end: End) {
        let waiter = state.withLock { state -> CheckedContinuation<Message?, Error>? in
            guard state.end == nil else { return nil }
            state.end = end
            defer { state.waiter = nil }
            return state.messages.count == state.head ? state.waiter : nil
        }
        switch end {
        case .closed: waiter?.resume(returning: nil)
        case .failed(let error): waiter?.resume(throwing: error)
        }
    }

    // MARK: Consumer

    /// The next message, nil once the connection closed; throws the connection's error or
    /// `CancellationError` if the waiting task is cancelled. Calls `onDrained` when taking a
    /// message brought a paused queue down to its resume mark.
    func next(onDrained: () -> Void) async throws -> Message? {
        enum Step { case message(Message, drained: Bool), end(End), wait }
        let step = state.withLock { state -> Step in
            if state.head < state.messages.count {
                let message = state.messages[state.head]
                state.head += 1
                state.bytes -= message.byteCount
                if state.head == state.messages.count {
                    state.messages.removeAll(keepingCapacity: true)
                    state.head = 0
                }
                let drained = state.paused && state.bytes <= resumeMark
                if drained { state.paused = false }
                return .message(message, drained: drained)
            }
            if let end = state.end { return .end(end) }
            return .wait
        }
        switch step {
        case .message(let message, let drained):
            if drained { onDrained() }
            return message
        case .end(.closed):
            return nil
        case .end(.failed(let error)):
            throw error
        case .wait:
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    let immediate = state.withLock { state -> Result<Message?, Error>? in
                        if Task.isCancelled { return .failure(CancellationError()) }
                        if let end = state.end {
                            switch end {
                            case .closed: return .success(nil)
                            case .failed(let error): return .failure(error)
                            }
                        }
                        guard state.waiter == nil else {
                            return .failure(LWSError.invalidArgument("a connection's messages have one reader at a time"))
                        }
                        state.waiter = continuation
                        return nil
                    }
                    if let immediate { continuation.resume(with: immediate) }
                }
            } onCancel: {
                let waiter = state.withLock { state -> CheckedContinuation<Message?, Error>? in
                    defer { state.waiter = nil }
                    return state.waiter
                }
                waiter?.resume(throwing: CancellationError())
            }
        }
    }
}
