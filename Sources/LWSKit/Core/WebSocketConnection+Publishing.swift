import CLibWebSockets

/// A subscriber's side of publishing: queuing published frames, and the slow-subscriber
/// policy. Loop thread only.
extension WebSocketConnection {
    /// Queues what `frames` hold for this connection, unless its backlog is full (then the
    /// server's `SlowSubscriberPolicy` decides).
    ///
    /// A connection LWSKit frames for itself takes ranges of the shared frames; one with
    /// permessage-deflate or on an HTTP/2 stream needs frames of its own, and gets a copy of
    /// each message for lws to frame (the cost of those features with topics).
    ///
    /// With `writeNow` (between lws callbacks) a connection with nothing else queued writes
    /// the frames at once instead of asking lws for a WRITEABLE: that saves two `epoll_ctl`
    /// calls and a wake-up per subscriber and burst (with 1,000 subscribers and small bursts,
    /// most of the server's time). A raw write lws cannot finish is kept by lws and sent
    /// before anything else.
    func enqueuePublished(_ frames: PublishedFrames, writeNow: Bool) {
        guard state.lifecycle.queuesMessages, state.lifecycle.isEstablished else { return }
        let me = ObjectIdentifier(self)
        let ranges = framesItself ? frames.ranges(for: me) : []
        let copies = framesItself ? [] : frames.messages(for: me)
        let bytes = framesItself ? ranges.reduce(0) { $0 + $1.count } : copies.reduce(0) { $0 + $1.byteCount }
        guard bytes > 0 else { return }
        let policy = loop.settings.slowSubscribers
        let backlog = bufferedAmount
        // (A burst larger than the whole bound is taken when nothing else waits.)
        if backlog > 0, backlog + bytes > policy.maxBacklog {
            fallBehind(by: framesItself ? frames.entries.count(where: { $0.excluded != me }) : copies.count, policy: policy)
            return
        }
        if state.isDroppingPublishes {
            state.isDroppingPublishes = false
            logger.info("subscriber caught up; published messages are queued again",
                        metadata: ["dropped": "\(droppedPublishCount)"])
        }
        state.bufferedBytes.wrappingAdd(bytes, ordering: .relaxed)
        if framesItself {
            let canWriteNow = writeNow && state.sendQueue.isEmpty && !state.writeableRequested
            for range in ranges { state.sendQueue.append(.published(frames, range)) }
            if canWriteNow, let wsi = state.wsi {
                if !writeQueue(wsi) {
                    logger.debug("lws_write failed; closing")
                    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC)
                    return
                }
            }
            if !state.sendQueue.isEmpty { callOnWriteable() }
        } else {
            for message in copies { enqueue(OutboundMessage(message)) }
        }
        if bufferedAmount > limits.sendHighWaterMark {
            setReading(paused: true, for: .sendBacklog)
        }
    }

    /// The backlog is full: `count` messages are dropped, or the connection is closed.
    private func fallBehind(by count: Int, policy: SlowSubscriberPolicy) {
        switch policy.action {
        case .dropMessages:
            let dropped = state.droppedPublishes.wrappingAdd(count, ordering: .relaxed).newValue
            if !state.isDroppingPublishes {
                state.isDroppingPublishes = true
                logger.warning("subscriber is behind; dropping published messages until it catches up", metadata: [
                    "peer": "\(peer)", "buffered": "\(bufferedAmount)", "maxBacklog": "\(policy.maxBacklog)", "dropped": "\(dropped)",
                ])
            }
        case .close(let code):
            logger.warning("subscriber is behind; closing it", metadata: [
                "peer": "\(peer)", "buffered": "\(bufferedAmount)", "maxBacklog": "\(policy.maxBacklog)", "code": "\(code)",
            ])
            state.acceptsSends.store(false, ordering: .releasing)
            perform(state.lifecycle.refused(CloseFrame(code: code, reason: "subscriber too slow")))
            // A peer that reads nothing may never make room for the close frame: lws drops the
            // connection after this long regardless.
            if let wsi = state.wsi { lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, 5) }
        }
    }
}
