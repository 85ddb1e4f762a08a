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
        var waiter: CheckedContinuation<Outcome, Error>?
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
        let (waiter, bytes) = state.withLock { state -> (CheckedContinuation<Outcome, Error>?, Int) in
            if let waiter = state.waiter {
                state.waiter = nil
                return (waiter, state.bytes)
            }
            state.messages.append(message)
            state.bytes += message.byteCount
            return (nil, state.bytes)
        }
        waiter?.resume(returning: .message(message, drained: false))
        return bytes
    }

    /// Records that the loop paused reading because the queue is over its limit.
    func markPaused() {
        state.withLock { $0.paused = true }
    }

    /// Ends the stream: the consumer gets the queued messages, then the end.
    func finish(_ end: End) {
        let waiter = state.withLock { state -> CheckedContinuation<Outcome, Error>? in
            guard state.end == nil else { return nil }
            state.end = end
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: .end(end))
    }

    // MARK: Consumer

    /// The next message, nil once the connection closed; throws the connection's error or
    /// `CancellationError` if the waiting task is cancelled. Calls `onDrained` when taking a
    /// message brought a paused queue down to its resume mark.
    ///
    /// The queue is checked and the waiter registered under one lock: a message pushed between
    /// a look at an empty queue and the registration would otherwise stay queued while the next
    /// one went straight to the waiter, and the application would see the two swapped.
    func next(onDrained: () -> Void) async throws -> Message? {
        if let outcome = state.withLock({ state in takeQueued(from: &state) }) {
            return try deliver(outcome, onDrained: onDrained)
        }
        let outcome = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Outcome, Error>) in
                let immediate = state.withLock { state -> Result<Outcome, Error>? in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if let outcome = takeQueued(from: &state) { return .success(outcome) }
                    guard state.waiter == nil else {
                        return .failure(LWSError.invalidArgument("a connection's messages have one reader at a time"))
                    }
                    state.waiter = continuation
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Outcome, Error>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
        return try deliver(outcome, onDrained: onDrained)
    }

    /// What the consumer gets: a message (and whether taking it drained a paused queue), or
    /// the end of the stream.
    private enum Outcome {
        case message(Message, drained: Bool)
        case end(End)
    }

    /// Takes the oldest queued message, or the end once the queue is empty; nil if neither.
    private func takeQueued(from state: inout State) -> Outcome? {
        guard state.head < state.messages.count else { return state.end.map(Outcome.end) }
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

    /// Returns or throws what `outcome` holds, first calling `onDrained` if it drained the queue.
    private func deliver(_ outcome: Outcome, onDrained: () -> Void) throws -> Message? {
        switch outcome {
        case .message(let message, let drained):
            if drained { onDrained() }
            return message
        case .end(.closed):
            return nil
        case .end(.failed(let error)):
            throw error
        }
    }
}
