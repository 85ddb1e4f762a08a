import CLibWebSockets

/// A subscriber's side of publishing: queuing published frames, and the slow-subscriber
/// policy. Loop thread only.
extension WebSocketConnection {
    /// Queues what `frames` hold for this connection, unless it is behind: more than the
    /// server's `SlowSubscriberPolicy.maxBacklog` unsent (then the policy decides).
    ///
    /// A connection LWSKit frames for itself takes ranges of the shared frames; one with
    /// permessage-deflate or on an HTTP/2 stream needs frames of its own, and gets a copy of
    /// each message for lws to frame (the cost of those features with topics).
    ///
    /// With `writeNow` (between lws callbacks) a connection with nothing else queued writes
    /// the frames at once instead of asking lws for a WRITEABLE: that saves two `epoll_ctl`
    /// calls and a wake-up per subscriber and burst (with 1,000 subscribers and small bursts,
    /// most of the server's time). A raw write lws cannot finish is kept by lws (at most one
    /// write, 64 KiB) and sent before anything else.
    func enqueuePublished(_ frames: PublishedFrames, writeNow: Bool) {
        guard state.lifecycle.queuesMessages, state.lifecycle.isEstablished else { return }
        let me = ObjectIdentifier(self)
        let count = frames.messageCount(for: me)
        guard count > 0 else { return }  // (all of them its own, and it left itself out)
        let policy = loop.settings.server?.slowSubscribers ?? SlowSubscriberPolicy()
        // Behind: more than the bound is still unsent. (Judged before this burst, which is
        // then taken whole: a subscriber that keeps up is never cut off by the size of one
        // burst, and one behind holds at most the bound plus the burst that crossed it.)
        if bufferedAmount > policy.maxBacklog {
            fallBehind(by: count, policy: policy)
            return
        }
        if state.isDroppingPublishes {
            state.isDroppingPublishes = false
            logger.info("subscriber caught up; published messages are queued again",
                        metadata: ["dropped": "\(droppedPublishCount)"])
        }
        if framesItself {
            queueShared(frames, for: me, writeNow: writeNow)
        } else {
            for message in frames.messages(for: me) {
                state.bufferedBytes.wrappingAdd(message.byteCount, ordering: .relaxed)
                enqueue(OutboundMessage(message))
            }
        }
        if bufferedAmount > limits.sendHighWaterMark {
            setReading(paused: true, for: .sendBacklog)
        }
    }

    /// Queues this subscriber's ranges of the shared `frames`, and writes them at once when
    /// `writeNow` allows and nothing else waits.
    private func queueShared(_ frames: PublishedFrames, for me: ObjectIdentifier, writeNow: Bool) {
        // (Not while lws holds the rest of an earlier write: it would append this to it, a copy
        // LWSKit neither bounds nor counts. Its WRITEABLE comes once that is sent.)
        let canWriteNow = writeNow && state.sendQueue.isEmpty && !state.writeableRequested
            && state.wsi.map { lws_partial_buffered($0) == 0 } == true
        let (bytes, messages) = frames.forEachRange(for: me) { state.sendQueue.append(.published(frames, $0)) }
        loop.counters.sent(messages: messages, bytes: bytes)
        state.bufferedBytes.wrappingAdd(bytes, ordering: .relaxed)
        if canWriteNow, let wsi = state.wsi, !writeQueue(wsi) {
            logger.debug("lws_write failed; closing")
            lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC)
            return
        }
        if !state.sendQueue.isEmpty { callOnWriteable() }
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
            // It is no subscriber any more (nor counted as one) from now on, not from when the
            // closing handshake ends.
            loop.topics?.unsubscribeFromAll(self)
            perform(state.lifecycle.refused(CloseFrame(code: code, reason: "subscriber too slow")))
            // A peer that reads nothing may never make room for the close frame: lws drops the
            // connection after this long regardless.
            if let wsi = state.wsi { lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, 5) }
        }
    }
}
