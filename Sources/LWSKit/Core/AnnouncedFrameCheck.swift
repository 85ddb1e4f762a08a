import CLibWebSockets

/// Frames whose header announces more than `WebSocketLimits.maxMessageSize`, refused with 1009
/// as soon as the header has arrived.
///
/// lws reports a frame only with payload (`RECEIVE`): a peer that sends just the header of a
/// frame announcing 2^63 - 1 bytes reaches no callback, and would hold its connection until
/// the idle timeout. But lws sets the frame's remaining length (`lws_remaining_packet_payload`)
/// when it parses the header, so every `interval`, while the loop has WebSocket connections,
/// LWSKit asks each one; those over the limit close with 1009 from their next WRITEABLE. A
/// frame with payload is refused at its first `RECEIVE` already. Loop thread only.
extension ServiceLoop {
    /// How often announced frame lengths are checked: a refusal follows the header within it.
    static let announcedFrameCheckInterval = Duration.milliseconds(200)

    /// Arms the check, unless it is armed already (called when a connection is registered).
    func armAnnouncedFrameCheck() {
        guard nextAnnouncedFrameCheck == nil, let context else { return }
        nextAnnouncedFrameCheck = .now + Self.announcedFrameCheckInterval
        // The timer only wakes the loop; the loop checks after `lws_service` returns.
        announcedFrameTimer.schedule(context, after: Self.announcedFrameCheckInterval)
    }

    /// Refuses the connections whose current frame announced too much, and arms the next check
    /// while connections are left.
    func checkAnnouncedFrames() {
        nextAnnouncedFrameCheck = nil
        for connection in connections.values { connection.refuseOversizeAnnouncedFrame() }
        if !connections.isEmpty { armAnnouncedFrameCheck() }
    }
}

extension WebSocketConnection {
    /// Closes with 1009, from the next WRITEABLE, a connection whose current frame's header
    /// announced more than the message limit allows.
    func refuseOversizeAnnouncedFrame() {
        guard state.lifecycle.deliversMessages, let wsi = state.wsi,
              let size = state.assembler.oversizeAnnounced(remainingInFrame: Int(clamping: lws_remaining_packet_payload(wsi)))
        else { return }
        logger.debug("a frame header announces \(size) bytes; refusing it before its payload")
        state.acceptsSends.store(false, ordering: .releasing)
        let reason = "message of \(size) bytes exceeds the limit of \(state.assembler.maxMessageSize)"
        perform(state.lifecycle.refused(CloseFrame(code: .messageTooBig, reason: reason)))
    }
}
