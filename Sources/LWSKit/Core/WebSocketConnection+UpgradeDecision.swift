import CLibWebSockets

/// A server connection whose handshake an `AsyncWebSocketUpgradeDecider` decides: lws has
/// upgraded it, and it waits, reading paused and unknown to the application, until the decision
/// returns (see `AsyncWebSocketUpgradeDecider` for why it is built this way). Loop thread only.
extension WebSocketConnection {
    /// ESTABLISHED for a handshake left to `decide`: stops reading and starts the decision in a
    /// task of its own, bounded by the server's handshake timeout.
    func awaitDecision(_ decide: @escaping AsyncWebSocketUpgradeDecider, on request: HTTPRequest) {
        guard state.lifecycle.handshakeCompleted(decided: false) == .awaitDecision else { return }
        // Applied inside ESTABLISHED, not later as `setReading` would: lws keeps whatever it read
        // past the handshake in its rx-flow cache and parses it once reading resumes, so nothing
        // the peer sent early reaches a connection the application has not accepted yet.
        state.readingPausedFor.insert(.upgradeDecision)
        applyReadingState()
        let loop = self.loop
        state.upgradeDecision = Task { [weak self] in
            let decision = await decide(request)
            guard let self else { return }
            _ = loop.post { self.decided(decision) }
        }
        let timeout = loop.settings.server?.limits.handshakeTimeout ?? .seconds(10)
        loop.post(after: timeout) { [weak self] in self?.decisionTimedOut(after: timeout) }
    }

    /// The decision returned (on the loop thread, through its inbox).
    private func decided(_ decision: WebSocketUpgradeDecision) {
        guard state.lifecycle.isAwaitingDecision else { return }  // gone, stopped or timed out meanwhile
        state.upgradeDecision = nil
        switch decision {
        case .accept(let headers, let context):
            if !headers.fields.isEmpty {
                logger.warning("an async upgrade decision's headers are dropped: the 101 answer was sent before it returned",
                               metadata: ["headers": "\(headers.fields.map(\.name))"])
            }
            self.context = context
            resumeReadingAfterDecision()
            perform(state.lifecycle.decisionAccepted())
        case .refuse(let response):
            logger.debug("WebSocket connection refused by the application's async decision", metadata: [
                "status": "\(response.status)", "peer": "\(peer)",
            ])
            let reason = "\(response.status) \(ServiceLoop.reasonPhrase(response.status))"
            decline(CloseFrame(code: .policyViolation, reason: reason))
        }
    }

    /// The decision did not return within the handshake timeout: the connection is closed with
    /// 1011 and the task cancelled.
    private func decisionTimedOut(after timeout: Duration) {
        guard state.lifecycle.isAwaitingDecision else { return }
        logger.warning("the async upgrade decision did not return within handshakeTimeout; closing with 1011",
                       metadata: ["peer": "\(peer)", "timeout": "\(timeout)"])
        decline(CloseFrame(code: .internalServerError, reason: "no upgrade decision within \(timeout.components.seconds) s"))
    }

    /// Sends `close` without the application ever hearing of the connection. Reading resumes
    /// so that the peer's answer to the close is read (and dropped).
    func decline(_ close: CloseFrame) {
        state.upgradeDecision?.cancel()
        state.upgradeDecision = nil
        state.acceptsSends.store(false, ordering: .releasing)
        resumeReadingAfterDecision()
        perform(state.lifecycle.decisionRefused(close))
    }

    /// Lets lws read again (no other reason can hold reading before the application has the
    /// connection). Called from the loop's inbox, outside lws callbacks, so it applies at once.
    private func resumeReadingAfterDecision() {
        state.readingPausedFor.remove(.upgradeDecision)
        applyReadingState()
    }
}
