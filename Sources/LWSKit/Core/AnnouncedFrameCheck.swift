import CLibWebSockets

/// Frames whose header announces more than `WebSocketLimits.maxMessageSize`, refused with 1009
/// as soon as the header has arrived.
///
/// lws reports a frame only with payload (`RECEIVE`): a peer that sends just the header of a
/// frame announcing 2^63 - 1 bytes reaches no callback, and would hold its connection until
/// the idle timeout. But lws sets the frame's remaining length (`lws_remaining_packet_payload`)
/// when it parses the header, so LWSKit asks each connection after lws has read something;
/// those over the limit close with 1009 from their next WRITEABLE. (A frame with payload is
/// refused at its first `RECEIVE` already.)
///
/// Every return from `lws_service` may follow a read, and lws has parsed what it read by then,
/// so a check after one sees every header read before it. Checks are at most `interval` apart
/// (a check asks every connection); a return too soon after the last check arms a timer for
/// when the next is allowed. A loop nobody writes to is not woken for this. Loop thread only.
extension ServiceLoop {
    /// The least time between two checks: a refusal follows a header within it.
    static let announcedFrameCheckInterval = Duration.milliseconds(200)

    /// Called after every `lws_service`: checks now if the last check is old enough, or arms
    /// the timer for when it will be.
    func checkAnnouncedFramesAfterService() {
        guard !connections.isEmpty, let context else { return }
        let allowed = lastAnnouncedFrameCheck + Self.announcedFrameCheckInterval
        let now = ContinuousClock.now
        guard now >= allowed else {
            if !isAnnouncedFrameCheckArmed {
                isAnnouncedFrameCheckArmed = true
                announcedFrameTimer.schedule(context, at: allowed)
            }
            return
        }
        lastAnnouncedFrameCheck = now
        if isAnnouncedFrameCheckArmed {
            isAnnouncedFrameCheckArmed = false
            announcedFrameTimer.cancel()
        }
        for connection in connections.values { connection.refuseOversizeAnnouncedFrame() }
    }
}

extension WebSocketConnection {
    /// Closes with 1009, from the next WRITEABLE, a connection whose current frame's header
    /// announced more than the message limit allows.
    func refuseOversizeAnnouncedFrame() {
        // Most connections are between frames (nothing remaining): one C call each.
        guard let wsi = state.wsi, case let remaining = lws_remaining_packet_payload(wsi), remaining > 0,
              state.lifecycle.deliversMessages,
              let size = state.assembler.oversizeAnnounced(remainingInFrame: Int(clamping: remaining))
        else { return }
        logger.debug("a frame header announces \(size) bytes; refusing it before its payload")
        state.acceptsSends.store(false, ordering: .releasing)
        let reason = "message of \(size) bytes exceeds the limit of \(state.assembler.maxMessageSize)"
        perform(state.lifecycle.refused(CloseFrame(code: .messageTooBig, reason: reason)))
    }
}
