/// A close frame's code and reason.
struct CloseFrame: Equatable, Sendable {
    var code: CloseCode
    var reason: String
}

/// Where a WebSocket connection is in its life, and what each event does to it.
///
/// This is the one place that knows how a connection opens and closes. Each event returns the
/// action the connection must take; the machine itself touches neither lws nor the handler, so
/// every transition is unit tested (`ConnectionLifecycleTests`). Loop thread only.
struct ConnectionLifecycle: Equatable {
    /// The states of a connection, in the order it passes through them.
    enum State: Equatable {
        /// A client connection whose handshake has not completed (a server connection passes
        /// through at once). `closeWhenOpen` is a close the application asked for meanwhile:
        /// it goes out once the handshake completes, after the messages queued before it.
        case connecting(closeWhenOpen: CloseFrame?)
        /// A server connection lws upgraded while the application's `async` upgrade decision is
        /// still running: reading is paused and the application has not heard of it.
        case awaitingDecision
        /// The application refused it after the upgrade (or the server stopped before it
        /// decided): this close frame goes out at the next WRITEABLE, and nothing is ever
        /// delivered.
        case declining(CloseFrame)
        /// Established: messages flow both ways.
        case open
        /// The application asked to close: the queue is written first, then this close frame.
        case closingAfterQueue(CloseFrame)
        /// This side failing the connection outside an lws callback (a client for what its
        /// server sent; a frame header announcing too much): this close frame goes out at the
        /// next WRITEABLE, ahead of the queue, and nothing more is received.
        case refusing(CloseFrame)
        /// This side's close frame went to lws; lws finishes the closing handshake.
        case closeSent(CloseFrame)
        /// The peer sent this close frame; lws answers it.
        case peerClosed(CloseFrame)
        /// The last event was delivered; it said this.
        case ended(WebSocketTermination)
        /// Gone without the application ever hearing of it (refused, or lost, while the upgrade
        /// decision ran).
        case declined
    }

    /// What the connection must do after an event.
    enum Action: Equatable {
        /// Nothing.
        case none
        /// Deliver `.established`, then write what is queued (and the close, if one waits).
        case deliverEstablished
        /// Stop reading and run the application's upgrade decision.
        case awaitDecision
        /// Ask lws for a WRITEABLE: queued messages, then the close, go out there.
        case requestWriteable
        /// Write queued messages as far as the socket takes them.
        case writeQueue
        /// Hand this close frame to lws now (the callback returns -1).
        case sendClose(CloseFrame)
        /// Deliver the last event, saying this.
        case end(WebSocketTermination)
        /// The loop stops before the handshake completed: deliver the last event (the client
        /// is not running) and make lws drop the half-open connection.
        case abandonHandshake(WebSocketTermination)
    }

    private(set) var state: State = .connecting(closeWhenOpen: nil)

    // MARK: What the state allows

    /// The handshake has not completed and the connection has not ended.
    var isConnecting: Bool {
        if case .connecting = state { true } else { false }
    }

    /// The handshake completed and the last event has not been delivered yet.
    var isEstablished: Bool {
        switch state {
        case .open, .closingAfterQueue, .refusing, .closeSent, .peerClosed: true
        case .connecting, .awaitingDecision, .declining, .ended, .declined: false
        }
    }

    /// The last event was delivered (or, declined, none ever will be).
    var hasEnded: Bool {
        switch state {
        case .ended, .declined: true
        default: false
        }
    }

    /// The upgrade happened and the application's decision about it is still running.
    var isAwaitingDecision: Bool { state == .awaitingDecision }

    /// Whether a message handed to the loop goes in the queue (otherwise it is dropped: it
    /// was sent after `close`, which `send` would have refused had it run later).
    var queuesMessages: Bool {
        switch state {
        case .connecting(closeWhenOpen: nil), .open: true
        default: false
        }
    }

    /// Whether received data reaches the application: until the peer's close, except on a
    /// connection this side is failing.
    var deliversMessages: Bool {
        switch state {
        case .open, .closingAfterQueue, .closeSent: true
        default: false
        }
    }

    /// Whether queued messages are written when lws is about to send a close of its own (a
    /// protocol error, or the answer to the peer's close): only if this side has not started
    /// closing, since nothing may follow this side's close frame.
    var writesQueueBeforeLWSCloses: Bool { state == .open }

    // MARK: Events

    /// The opening handshake completed (ESTABLISHED, CLIENT_ESTABLISHED). `decided` is false
    /// for a server connection whose `async` upgrade decision has not returned yet.
    mutating func handshakeCompleted(decided: Bool = true) -> Action {
        guard case .connecting(let close) = state else { return .none }
        guard decided else {
            state = .awaitingDecision
            return .awaitDecision
        }
        state = close.map(State.closingAfterQueue) ?? .open
        return .deliverEstablished
    }

    /// The application's `async` upgrade decision accepted the connection.
    mutating func decisionAccepted() -> Action {
        guard state == .awaitingDecision else { return .none }
        state = .open
        return .deliverEstablished
    }

    /// The application's `async` upgrade decision refused the connection (or did not return
    /// in time): `close` goes out, and the application never hears of it.
    mutating func decisionRefused(_ close: CloseFrame) -> Action {
        guard state == .awaitingDecision else { return .none }
        state = .declining(close)
        return .requestWriteable
    }

    /// The application called `close`.
    mutating func closeRequested(_ close: CloseFrame) -> Action {
        switch state {
        case .connecting(closeWhenOpen: nil):
            state = .connecting(closeWhenOpen: close)
            return .none
        case .open:
            state = .closingAfterQueue(close)
            return .requestWriteable
        default:
            return .none
        }
    }

    /// The loop is stopping: an open connection closes with 1001 after its queue; one still
    /// connecting is abandoned.
    mutating func stopRequested() -> Action {
        if state == .awaitingDecision {
            return decisionRefused(CloseFrame(code: .goingAway, reason: "shutting down"))
        }
        guard isConnecting else {
            return closeRequested(CloseFrame(code: .goingAway, reason: "shutting down"))
        }
        let termination = WebSocketTermination.failed(.notRunning)
        state = .ended(termination)
        return .abandonHandshake(termination)
    }

    /// This side refuses what the peer sent, where it cannot close at once (a client's
    /// RECEIVE, see `WebSocketConnection.refuse`; a frame header seen between callbacks): the
    /// close goes out at the next WRITEABLE, ahead of the queue.
    mutating func refused(_ close: CloseFrame) -> Action {
        switch state {
        case .open, .closingAfterQueue:
            state = .refusing(close)
            return .requestWriteable
        default:
            return .none
        }
    }

    /// This side fails the connection at once, from inside an lws callback (a server refusing
    /// a message, a malformed close frame from the peer).
    mutating func failedNow(_ close: CloseFrame) -> Action {
        switch state {
        case .open, .closingAfterQueue, .refusing, .peerClosed:
            state = .closeSent(close)
            return .sendClose(close)
        default:
            return .none
        }
    }

    /// WRITEABLE arrived.
    mutating func writeable() -> Action {
        switch state {
        case .declining(let close):
            state = .declined
            return .sendClose(close)
        case .refusing(let close):
            state = .closeSent(close)
            return .sendClose(close)
        case .open, .closingAfterQueue:
            return .writeQueue
        default:
            return .none
        }
    }

    /// Everything queued was handed to the socket (within a WRITEABLE).
    mutating func queueDrained() -> Action {
        guard case .closingAfterQueue(let close) = state else { return .none }
        state = .closeSent(close)
        return .sendClose(close)
    }

    /// The peer's close frame arrived (WS_PEER_INITIATED_CLOSE; not the answer to this side's
    /// close, which lws does not report).
    mutating func peerSentClose(_ close: CloseFrame) -> Action {
        switch state {
        case .open, .closingAfterQueue, .refusing:
            state = .peerClosed(close)
        default:
            break
        }
        return .none
    }

    /// The connection is gone (CLOSED, or WSI_DESTROY without it): reported with the peer's
    /// close, else the one this side sent, else 1006.
    mutating func transportClosed() -> Action {
        let termination: WebSocketTermination
        switch state {
        case .peerClosed(let close), .closeSent(let close):
            termination = .closed(close.code, reason: close.reason)
        case .open, .closingAfterQueue, .refusing:
            termination = .closed(.abnormalClosure, reason: "")
        case .awaitingDecision, .declining:
            state = .declined
            return .none
        case .connecting, .ended, .declined:
            return .none
        }
        state = .ended(termination)
        return .end(termination)
    }

    /// The handshake failed (CLIENT_CONNECTION_ERROR, or the wsi went before it completed):
    /// `error` is reported, whether or not `close` was called meanwhile.
    mutating func connectionFailed(_ error: LWSError) -> Action {
        guard isConnecting else { return transportClosed() }
        let termination = WebSocketTermination.failed(error)
        state = .ended(termination)
        return .end(termination)
    }
}
