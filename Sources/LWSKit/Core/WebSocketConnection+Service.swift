import CLibWebSockets

/// The loop-thread side of a connection: what the dispatcher calls for each lws reason, and the
/// lws calls behind `send`, `close` and `requestWriteable`. Nothing here runs on another thread.
extension WebSocketConnection {
    /// The most bytes one WRITEABLE hands to the socket before yielding to other connections.
    private static let writeBudget = 1 << 20
    /// The largest WebSocket payload per frame on an HTTP/2 stream: with its 4-byte WebSocket
    /// header it fills one 16 KiB HTTP/2 DATA frame (the size every peer must accept).
    private static let http2FramePayload = (16 << 10) - 16

    /// The connection whose pointer was stored in `wsi`'s opaque user data, if any.
    static func from(wsi: OpaquePointer?) -> WebSocketConnection? {
        guard let wsi, let pointer = lws_get_opaque_user_data(wsi) else { return nil }
        return Unmanaged<WebSocketConnection>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// The value to store in a wsi's opaque user data. The loop's connection table holds the
    /// reference; the table entry is dropped only when lws destroys the wsi.
    var opaquePointer: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    /// Binds this connection to `wsi` (server: at ESTABLISHED; client: at its first callback).
    func attach(to wsi: OpaquePointer) {
        guard state.wsi == nil else { return }
        state.wsi = wsi
        lws_set_opaque_user_data(wsi, opaquePointer)
    }

    // MARK: Events from the dispatcher

    /// ESTABLISHED / CLIENT_ESTABLISHED. `pendingDecision` is the `async` decider a server
    /// connection waits for before the application hears of it.
    func established(subprotocol: String?, pendingDecision: (AsyncWebSocketUpgradeDecider, HTTPRequest)? = nil) {
        state.shared.withLock { $0.subprotocol = subprotocol }
        if let wsi = state.wsi { state.isHTTP2Stream = isHTTP2Stream(wsi) }
        if loop.settings.permessageDeflate, let wsi = state.wsi { ExtensionTable.tune(wsi) }
        logger.debug("established", metadata: [
            "peer": "\(peer)", "protocol": "\(subprotocol ?? "-")", "http2Stream": "\(state.isHTTP2Stream)",
            "decision": "\(pendingDecision == nil ? "made" : "pending")",
        ])
        if let (decide, request) = pendingDecision {
            awaitDecision(decide, on: request)
        } else {
            perform(state.lifecycle.handshakeCompleted())
        }
    }

    /// RECEIVE / CLIENT_RECEIVE. Returns nonzero to make lws close the connection.
    func receive(_ input: UnsafeMutableRawPointer?, _ length: Int) -> Int32 {
        guard let wsi = state.wsi, state.lifecycle.deliversMessages else { return 0 }
        let chunk = UnsafeRawBufferPointer(start: input, count: length)
        let outcome = state.assembler.append(
            chunk,
            isFirst: lws_is_first_fragment(wsi) != 0,
            isFinal: lws_is_final_fragment(wsi) != 0,
            isBinary: lws_frame_is_binary(wsi) != 0,
            remainingInFrame: Int(lws_remaining_packet_payload(wsi))
        )
        switch outcome {
        case .partial:
            return 0
        case .complete(let message):
            loop.counters.received(bytes: message.byteCount)
            deliver(.message(message))
            return 0
        case .tooBig(let size):
            return refuse(.messageTooBig, reason: "message of \(size) bytes exceeds the limit of \(state.assembler.maxMessageSize)")
        case .invalidUTF8:
            return refuse(.invalidFramePayloadData, reason: "text message is not valid UTF-8")
        }
    }

    /// Fails the connection for a message it received. Returns what RECEIVE returns.
    ///
    /// A server closes at once (-1). A client must not return nonzero from CLIENT_RECEIVE: lws
    /// 4.1.6's client parser then keeps its place in the frame, and while it waits for the
    /// answer to the close it goes on parsing the rest of that frame into its receive buffer,
    /// past its end (a 100 kB frame to a client with a 64 KiB buffer corrupted the heap). So a
    /// client ignores the rest of what it receives and sends its close at the next WRITEABLE,
    /// ahead of anything queued (RFC 6455 7.1.7: nothing more is sent on a failed connection).
    private func refuse(_ code: CloseCode, reason: String) -> Int32 {
        guard isClient else { return closeNow(code, reason: reason) }
        state.acceptsSends.store(false, ordering: .releasing)
        return perform(state.lifecycle.refused(CloseFrame(code: code, reason: reason)))
    }

    /// SERVER_WRITEABLE / CLIENT_WRITEABLE: writes queued messages while the socket takes them,
    /// then the pending close, then tells the handler if it asked. Returns nonzero to close.
    func writeable() -> Int32 {
        state.writeableRequested = false
        guard let wsi = state.wsi else { return 0 }
        switch state.lifecycle.writeable() {
        case .writeQueue: break
        case let other: return perform(other)
        }
        state.recentlyWritten.removeAll(keepingCapacity: true)
        guard writeQueue(wsi) else {
            logger.debug("lws_write failed; closing")
            return -1
        }
        if !state.sendQueue.isEmpty {
            callOnWriteable()
            return 0
        }
        let afterDrain = state.lifecycle.queueDrained()
        if afterDrain != .none { return perform(afterDrain) }
        if state.wantsWriteable {
            state.wantsWriteable = false
            deliver(.writeable)
        }
        return 0
    }

    /// Writes queued messages while the socket takes them (at most `writeBudget` bytes): runs
    /// of small messages as one batch of frames LWSKit builds (servers without extensions, see
    /// `FrameBatch`), anything else fragment by fragment through lws. Once the unsent bytes are
    /// down to the low-water mark, reading resumes and waiting senders go on. Returns false
    /// when lws refuses a write.
    func writeQueue(_ wsi: OpaquePointer) -> Bool {
        defer {
            if bufferedAmount <= limits.sendLowWaterMark {
                if state.readingPausedFor.contains(.sendBacklog) { setReading(paused: false, for: .sendBacklog) }
                if state.hasSendWaiters.load(ordering: .acquiring) { resumeSendWaiters(with: .success(())) }
            }
        }
        var budget = Self.writeBudget
        let batch = framesItself ? loop.frameBatch : nil
        while let entry = state.sendQueue.first {
            let outcome = switch entry {
            case .message(let message): batch.flatMap { writeBatch(wsi, $0) } ?? writeFragment(wsi, of: message)
            case .published(let frames, let range): writePublished(wsi, frames, range)
            }
            switch outcome {
            case .wrote(let payload):
                state.bufferedBytes.wrappingSubtract(payload, ordering: .relaxed)
                budget -= max(payload, 1)
            case .waitingForWindow:
                return true
            case .refused:
                return false
            }
            if state.sendQueue.isEmpty || budget <= 0 || lws_send_pipe_choked(wsi) != 0 { break }
        }
        return true
    }

    /// What one write of queued data did.
    private enum WriteOutcome {
        /// This many payload bytes went to lws.
        case wrote(Int)
        /// Nothing: the HTTP/2 stream's send window is closed (lws calls back when it opens).
        case waitingForWindow
        /// lws refused the write: the connection is failing.
        case refused
    }

    /// Whether this connection's data frames may be built by LWSKit: a server's (no masking),
    /// without permessage-deflate (lws compresses), not on an HTTP/2 stream (lws frames those).
    var framesItself: Bool {
        !isClient && !loop.settings.permessageDeflate && !state.isHTTP2Stream
    }

    /// Writes the run of small whole messages at the head of the queue as one batch.
    /// - Returns: nil when the first message cannot go in a batch.
    private func writeBatch(_ wsi: OpaquePointer, _ batch: FrameBatch) -> WriteOutcome? {
        var taken = 0, payload = 0
        while case .message(let message)? = state.sendQueue[offset: taken], batch.append(message) {
            taken += 1
            payload += message.count
        }
        guard taken > 0 else { return nil }
        guard batch.write(to: wsi) else { return .refused }
        state.sendQueue.removeFirst(taken)
        return .wrote(payload)
    }

    /// Writes the next whole frames of `range` of published `frames` (the first in the queue)
    /// as they are, shared with the other subscribers (see `PublishedFrames`).
    private func writePublished(_ wsi: OpaquePointer, _ frames: PublishedFrames, _ range: Range<Int>) -> WriteOutcome {
        let length = frames.nextWrite(in: range)
        // A raw write: lws reads these bytes and writes nothing into or before them.
        let start = UnsafeMutableRawPointer(mutating: frames.bytes.baseAddress! + range.lowerBound)
        guard lws_write(wsi, start.assumingMemoryBound(to: UInt8.self), length, lwskit_write_raw()) >= 0 else { return .refused }
        if length == range.count {
            state.sendQueue.removeFirst()
        } else {
            state.sendQueue.replaceFirst(with: .published(frames, range.lowerBound + length..<range.upperBound))
        }
        return .wrote(length)
    }

    /// Writes the next fragment of `message` (the first in the queue) through lws.
    private func writeFragment(_ wsi: OpaquePointer, of message: OutboundMessage) -> WriteOutcome {
        var length = min(message.remaining, limits.maxFrameSize)
        if state.isHTTP2Stream {
            length = min(length, Self.http2FramePayload)
            // Never more than the stream's send window allows; lws calls back when it grows.
            let allowance = Int(lws_get_peer_write_allowance(wsi))
            if allowance >= 0 && allowance < min(length, 1) + 16 { return .waitingForWindow }
            if allowance >= 0 { length = min(length, allowance - 16) }
        }
        let isStart = message.written == 0
        let isEnd = length == message.remaining
        let flags = message.isPing ? LWS_WRITE_PING : lwskit_write_flags(message.isBinary ? 1 : 0, isStart ? 1 : 0, isEnd ? 1 : 0)
        // (A raw frame would bypass HTTP/2 framing: over HTTP/2 the empty message goes to lws.)
        let result = length == 0 && !message.isPing && loop.settings.permessageDeflate && !state.isHTTP2Stream
            ? writeEmptyMessageFrame(wsi, binary: message.isBinary)
            : lws_write(wsi, message.nextPayloadByte, length, flags)
        if result < 0 { return .refused }
        message.written += length
        if loop.settings.permessageDeflate, state.recentlyWritten.last !== message { state.recentlyWritten.append(message) }
        if isEnd { state.sendQueue.removeFirst() }
        return .wrote(length)
    }

    /// WS_SERVER_DROP_PROTOCOL / WS_CLIENT_DROP_PROTOCOL, and WS_PEER_INITIATED_CLOSE: lws is
    /// about to queue its close frame.
    ///
    /// lws sends that close frame at the next writeable moment without calling WRITEABLE, both
    /// when it fails the connection on a protocol error in what it just read and when it
    /// answers the peer's close. Answers the handler queued for messages earlier in the same
    /// read would be lost (Autobahn 3.x, 4.x, 5.15 NON-STRICT; an echo of a message sent
    /// together with a close never came back). So they are written now, as far as the socket
    /// takes them. Nothing is written after a close this side started.
    func writeQueueBeforeLWSCloses() {
        guard let wsi = state.wsi, state.lifecycle.writesQueueBeforeLWSCloses, !state.sendQueue.isEmpty,
              !state.isHTTP2Stream, lws_send_pipe_choked(wsi) == 0 else { return }
        logger.debug("lws closes the connection; writing what is queued first")
        _ = writeQueue(wsi)
    }

    /// Writes an empty message as a raw, uncompressed frame (FIN, no RSV1; masked from a client).
    ///
    /// lws 4.1.6's permessage-deflate asserts ("FAIL want to trim out length 0") and aborts the
    /// process when asked to compress an empty message after an earlier one: zlib has nothing to
    /// flush. RFC 7692 lets any message go uncompressed, and an empty one gains nothing from
    /// compression. Called only between messages, where lws has nothing of a frame pending.
    private func writeEmptyMessageFrame(_ wsi: OpaquePointer, binary: Bool) -> Int32 {
        let pre = Int(lwskit_pre())
        var frame = [UInt8](repeating: 0, count: pre + 6)
        frame[pre] = 0x80 | (binary ? 0x2 : 0x1)
        var length = 2
        if isClient {
            // A client masks every frame; with no payload the key is all there is.
            frame[pre + 1] = 0x80
            var random = SystemRandomNumberGenerator()
            for index in 0..<4 { frame[pre + 2 + index] = UInt8.random(in: 0...255, using: &random) }
            length = 6
        }
        return frame.withUnsafeMutableBufferPointer { bytes in
            lws_write(wsi, bytes.baseAddress! + pre, length, lwskit_write_raw()) == length ? 0 : -1
        }
    }

    /// RECEIVE_PONG / CLIENT_RECEIVE_PONG.
    func receivedPong(_ input: UnsafeMutableRawPointer?, _ length: Int) {
        guard state.lifecycle.isEstablished else { return }
        deliver(.pong(Array(UnsafeRawBufferPointer(start: input, count: length))))
    }

    /// WS_PEER_INITIATED_CLOSE: remembers the peer's code and reason; lws answers the close by
    /// echoing the payload. Returns nonzero to make lws fail the connection instead.
    ///
    /// lws 4.1.6 answers codes below 3000 that no endpoint may send with 1002 (it rewrites the
    /// payload it echoes), but echoes codes of 5000 and more, and a 1-byte payload, as they came.
    /// Both are protocol errors (RFC 6455 sections 5.5.1 and 7.4): LWSKit answers them with 1002.
    func peerInitiatedClose(_ input: UnsafeMutableRawPointer?, _ length: Int) -> Int32 {
        writeQueueBeforeLWSCloses()
        state.acceptsSends.store(false, ordering: .releasing)
        let payload = UnsafeMutableRawBufferPointer(start: input, count: length)
        if payload.count == 1 {
            return closeNow(.protocolError, reason: "close frame with a 1-byte payload")
        }
        guard payload.count >= 2 else {
            return perform(state.lifecycle.peerSentClose(CloseFrame(code: .noStatusReceived, reason: "")))
        }
        var code = CloseCode(rawValue: UInt16(payload[0]) << 8 | UInt16(payload[1]))
        if code.rawValue >= 5000 {
            logger.debug("peer sent close code \(code), which no endpoint may send; answering 1002")
            payload[0] = UInt8(CloseCode.protocolError.rawValue >> 8)
            payload[1] = UInt8(CloseCode.protocolError.rawValue & 0xFF)
            code = .protocolError
        }
        guard let reason = String(validating: payload.dropFirst(2), as: UTF8.self) else {
            // (lws checks this on servers; client contexts leave UTF-8 to LWSKit, see
            // `ServiceLoop.createContext`. A close frame is whole when it arrives: failing
            // here cannot leave lws' client parser in the middle of a frame.)
            return closeNow(.invalidFramePayloadData, reason: "close reason is not valid UTF-8")
        }
        logger.debug("peer closes", metadata: ["code": "\(code)", "reason": "\(reason)"])
        return perform(state.lifecycle.peerSentClose(CloseFrame(code: code, reason: reason)))
    }

    /// CLOSED / CLIENT_CLOSED.
    func closed() {
        perform(state.lifecycle.transportClosed())
    }

    /// CLIENT_CONNECTION_ERROR: `message` is lws' text, often terse; its error log adds detail.
    func connectionFailed(_ message: String?) {
        guard state.lifecycle.isConnecting else { return }
        let logged = loop.logSink.takeErrors()
        if TLSSettings.isSpuriousVerifyFailure(message, logged), let reconnect = state.reconnect,
           let delay = state.spuriousRetries.next() {
            if let wsi = state.wsi { lws_set_opaque_user_data(wsi, nil) }
            state.wsi = nil
            logger.debug("TLS handshake spoiled by another context's creation; connecting again in \(delay)")
            // Later, and so not from inside this callback: lws closes the failed wsi once it
            // returns. If the loop stops meanwhile, `beginClosing` ends the connection.
            loop.post(after: delay, reconnect)
            return
        }
        if let status = refusedHandshakeStatus(message) {
            perform(state.lifecycle.connectionFailed(
                .handshakeRefused(url: url ?? peer, status: status, reason: ServiceLoop.reasonPhrase(status))))
            return
        }
        let reason = TLSSettings.explain(failure: message, logged: logged)
        perform(state.lifecycle.connectionFailed(.connectionFailed(url: url ?? peer, reason: reason)))
    }

    /// The status a server answered the opening handshake with instead of `101`, when that is
    /// why lws failed the connection ("HS: ws upgrade response not 101", "... unauthorized");
    /// lws still has the answer's header table then.
    private func refusedHandshakeStatus(_ message: String?) -> Int? {
        guard let message, message.contains("not 101") || message.contains("unauthorized"), let wsi = state.wsi else { return nil }
        let status = Int(lws_http_client_http_response(wsi))
        return (100...999).contains(status) && status != 101 ? status : nil
    }

    /// CLIENT_APPEND_HANDSHAKE_HEADER: adds the connection's `handshakeHeaders` at lws' cursor.
    /// Returns nonzero (lws then fails the connection) when they do not fit.
    func appendHandshakeHeaders(_ wsi: OpaquePointer, _ input: UnsafeMutableRawPointer?, _ length: Int) -> Int32 {
        guard !handshakeHeaders.fields.isEmpty else { return 0 }
        guard let cursor = input?.assumingMemoryBound(to: UnsafeMutablePointer<UInt8>?.self), let start = cursor.pointee else { return -1 }
        for field in handshakeHeaders {
            guard ServiceLoop.addHTTPHeader(wsi, name: field.name, value: field.value, cursor: cursor, end: start + length) else {
                logger.warning("the handshake headers do not fit in lws' \(length) bytes; failing the connection")
                return -1
            }
        }
        return 0
    }

    /// A client connection that could not be started (no wsi was created): `error` says why.
    func failedToStart(_ error: LWSError) {
        perform(state.lifecycle.connectionFailed(error))
    }

    /// WSI_DESTROY: the wsi is about to be freed. Ends the connection if lws reported nothing
    /// (it does not always deliver CLOSED), and drops the loop's reference.
    func destroyed() {
        state.wsi = nil
        state.upgradeDecision?.cancel()  // (the peer left before the decision returned)
        state.upgradeDecision = nil
        if state.lifecycle.isConnecting {
            connectionFailed(unansweredHandshakeReason ?? "connection closed before the handshake completed")
        } else {
            closed()
        }
        loop.forget(self)
    }

    /// lws closes a client connection whose server does not answer in time without saying
    /// why (its "TIMEDOUT WAITING" line is only logged at info level): when the handshake took
    /// the client's whole `handshakeTimeout`, that is the reason.
    private var unansweredHandshakeReason: String? {
        guard let started = state.connectStarted, let timeout = loop.settings.client?.handshakeTimeout,
              ContinuousClock.now - started >= timeout - .milliseconds(100) else { return nil }
        return "no answer from the server within \(timeout.components.seconds) s (handshakeTimeout)"
    }

    // MARK: Work from the public API

    /// Appends a message to the send queue and asks lws for a WRITEABLE.
    func enqueue(_ message: OutboundMessage) {
        guard state.lifecycle.queuesMessages else {
            logger.debug("dropping a message queued after close")
            state.bufferedBytes.wrappingSubtract(message.remaining, ordering: .relaxed)
            return
        }
        state.sendQueue.append(.message(message))
        if !message.isPing { loop.counters.sent(messages: 1, bytes: message.count) }
        guard state.lifecycle.isEstablished else { return }
        callOnWriteable()
        if pausesReadingWhenBacklogged && bufferedAmount > limits.sendHighWaterMark {
            setReading(paused: true, for: .sendBacklog)
        }
    }

    /// Pauses or resumes reading from the peer for one reason; lws is told only when the
    /// first reason appears or the last one goes.
    ///
    /// lws is told later, from the loop's inbox, never inside the callback that decided it.
    /// Told inside a callback, lws 4.1.6 stops parsing mid-buffer and copies the unparsed rest
    /// into its rx-flow cache (`lws_rxflow_cache`), to be parsed again from there. Applied
    /// between callbacks, the pause takes effect at a read boundary and nothing is copied; the
    /// cost is at most one more read (`receiveBufferSize`) accepted before reading stops.
    func setReading(paused: Bool, for reason: ConnectionState.ReadingPause) {
        guard state.lifecycle.isEstablished, state.wsi != nil else { return }
        let wasPaused = !state.readingPausedFor.isEmpty
        if paused { state.readingPausedFor.insert(reason) } else { state.readingPausedFor.remove(reason) }
        let isPaused = !state.readingPausedFor.isEmpty
        guard wasPaused != isPaused else { return }
        logger.trace(isPaused ? "reading paused" : "reading resumed",
                     metadata: ["reason": "\(reason)", "buffered": "\(bufferedAmount)"])
        _ = loop.post { [self] in applyReadingState() }
    }

    /// Tells lws whether to read, if that changed since it was last told: once lws has
    /// upgraded the connection (established, or waiting for the application's decision).
    func applyReadingState() {
        let paused = !state.readingPausedFor.isEmpty
        guard !state.lifecycle.isConnecting, let wsi = state.wsi, paused != state.readingPausedInLWS else { return }
        state.readingPausedInLWS = paused
        lws_rx_flow_control(wsi, paused ? 0 : 1)
    }

    /// Wakes every task suspended in `sendWithBackpressure`.
    func resumeSendWaiters(with result: Result<Void, Error>) {
        let waiters = state.shared.withLock { shared in
            defer {
                shared.sendWaiters.removeAll()
                state.hasSendWaiters.store(false, ordering: .releasing)
            }
            return shared.sendWaiters
        }
        for waiter in waiters.values { waiter.resume(with: result) }
    }

    /// Closes after the queue drains; while connecting, once the handshake completes (after
    /// the messages queued meanwhile).
    func beginClosing(code: CloseCode, reason: String) {
        state.acceptsSends.store(false, ordering: .releasing)
        perform(state.lifecycle.closeRequested(CloseFrame(code: code, reason: reason)))
    }

    /// The loop is stopping: an open connection closes with 1001 after its queue, a client
    /// still connecting is abandoned (and reports that the client is not running).
    func stop() {
        guard !state.lifecycle.isAwaitingDecision else {
            decline(CloseFrame(code: .goingAway, reason: "shutting down"))
            return
        }
        state.acceptsSends.store(false, ordering: .releasing)
        perform(state.lifecycle.stopRequested())
    }

    /// Asks for one `.writeable` event after the queue has drained.
    func wantWriteable() {
        guard !state.lifecycle.hasEnded else { return }
        state.wantsWriteable = true
        if state.lifecycle.isEstablished { callOnWriteable() }
    }

    // MARK: Helpers

    /// Asks lws for one WRITEABLE, unless one is already on its way.
    func callOnWriteable() {
        guard !state.writeableRequested, let wsi = state.wsi else { return }
        state.writeableRequested = true
        lws_callback_on_writable(wsi)
    }

    /// Fails the connection from inside an lws callback: `code` and `reason` go in the close
    /// frame lws sends when the callback returns -1 (unless this side's close is already out).
    private func closeNow(_ code: CloseCode, reason: String) -> Int32 {
        state.acceptsSends.store(false, ordering: .releasing)
        perform(state.lifecycle.failedNow(CloseFrame(code: code, reason: reason)))
        return -1
    }

    /// Does what the lifecycle decided. Returns what the lws callback returns (-1 once a close
    /// frame was handed to lws).
    @discardableResult
    func perform(_ action: ConnectionLifecycle.Action) -> Int32 {
        switch action {
        case .none, .writeQueue, .awaitDecision:
            return 0
        case .deliverEstablished:
            deliver(.established)
            if !state.sendQueue.isEmpty || state.lifecycle.state != .open { callOnWriteable() }
            return 0
        case .requestWriteable:
            callOnWriteable()
            return 0
        case .sendClose(let close):
            if let wsi = state.wsi {
                var bytes = Array(close.reason.utf8.prefix(123))
                lws_close_reason(wsi, lws_close_status(rawValue: UInt32(close.code.rawValue)), &bytes, bytes.count)
            }
            logger.debug("closing", metadata: ["code": "\(close.code)", "reason": "\(close.reason)"])
            return -1
        case .end(let termination):
            end(with: termination)
            return 0
        case .abandonHandshake(let termination):
            end(with: termination)
            if let wsi = state.wsi {
                lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC)
            } else {
                loop.forget(self)  // waiting to connect again: no wsi will report anything
            }
            return 0
        }
    }

    /// Delivers the last event; the lifecycle has ended.
    private func end(with termination: WebSocketTermination) {
        state.acceptsSends.store(false, ordering: .releasing)
        state.bufferedBytes.wrappingSubtract(state.sendQueue.unwrittenBytes, ordering: .relaxed)
        state.sendQueue.removeAll()
        loop.topics?.unsubscribeFromAll(self)
        state.recentlyWritten.removeAll()
        state.reconnect = nil
        resumeSendWaiters(with: .failure(LWSError.connectionClosed))
        logger.debug("ended", metadata: ["termination": "\(termination)"])
        state.shared.withLock { $0.termination = termination }
        switch termination {
        case .closed(let code, let reason): deliver(.closed(code, reason: reason))
        case .failed(let error): deliver(.connectionError(error))
        }
    }

    private func deliver(_ event: WebSocketEvent) {
        handler(self, event)
    }
}
