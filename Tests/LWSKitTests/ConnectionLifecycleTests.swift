import Testing
@testable import LWSKit

/// The connection lifecycle's transitions, one event at a time, without lws.
@Suite("Connection lifecycle")
struct ConnectionLifecycleTests {
    private let bye = CloseFrame(code: .normalClosure, reason: "bye")
    private let tooBig = CloseFrame(code: .messageTooBig, reason: "too big")

    /// A lifecycle taken through `events` from its start.
    private func taken(through events: (inout ConnectionLifecycle) -> Void) -> ConnectionLifecycle {
        var lifecycle = ConnectionLifecycle()
        events(&lifecycle)
        return lifecycle
    }

    @Test func aHandshakeOpensAndAnnouncesTheConnection() {
        var lifecycle = ConnectionLifecycle()
        #expect(lifecycle.isConnecting && lifecycle.queuesMessages && !lifecycle.deliversMessages)
        #expect(lifecycle.handshakeCompleted() == .deliverEstablished)
        #expect(lifecycle.state == .open)
        #expect(lifecycle.isEstablished && lifecycle.queuesMessages && lifecycle.deliversMessages)
        #expect(lifecycle.handshakeCompleted() == .none, "a second handshake changes nothing")
        #expect(lifecycle.state == .open)
    }

    @Test func closeWhileConnectingWaitsForTheHandshakeThenTheQueue() {
        var lifecycle = ConnectionLifecycle()
        #expect(lifecycle.closeRequested(bye) == .none)
        #expect(lifecycle.state == .connecting(closeWhenOpen: bye))
        #expect(!lifecycle.queuesMessages, "messages sent after close are not queued")
        #expect(lifecycle.closeRequested(tooBig) == .none, "the first close wins")
        #expect(lifecycle.handshakeCompleted() == .deliverEstablished)
        #expect(lifecycle.state == .closingAfterQueue(bye))
        #expect(lifecycle.writeable() == .writeQueue, "the queue goes out before the close")
        #expect(lifecycle.queueDrained() == .sendClose(bye))
        #expect(lifecycle.state == .closeSent(bye))
        #expect(lifecycle.transportClosed() == .end(.closed(.normalClosure, reason: "bye")))
    }

    @Test func aFailedHandshakeReportsItsErrorEvenAfterClose() {
        let tlsFailure = LWSError.connectionFailed(url: "wss://localhost:1/", reason: "certificate verify failed")
        var lifecycle = taken { _ = $0.closeRequested(bye) }
        #expect(lifecycle.connectionFailed(tlsFailure) == .end(.failed(tlsFailure)))
        #expect(lifecycle.state == .ended(.failed(tlsFailure)))
        #expect(lifecycle.transportClosed() == .none, "nothing follows the last event")
        #expect(lifecycle.connectionFailed(.notRunning) == .none)
    }

    @Test func closeWhenOpenDrainsTheQueueFirst() {
        var lifecycle = taken { _ = $0.handshakeCompleted() }
        #expect(lifecycle.closeRequested(bye) == .requestWriteable)
        #expect(lifecycle.state == .closingAfterQueue(bye))
        #expect(lifecycle.deliversMessages, "messages still arrive until the peer's close")
        #expect(!lifecycle.writesQueueBeforeLWSCloses, "nothing may follow this side's close")
        #expect(lifecycle.closeRequested(tooBig) == .none)
        #expect(lifecycle.writeable() == .writeQueue)
        #expect(lifecycle.queueDrained() == .sendClose(bye))
        #expect(lifecycle.writeable() == .none, "after the close frame nothing is written")
        #expect(lifecycle.queueDrained() == .none)
    }

    @Test func aDrainedQueueOnAnOpenConnectionSendsNothing() {
        var lifecycle = taken { _ = $0.handshakeCompleted() }
        #expect(lifecycle.writeable() == .writeQueue)
        #expect(lifecycle.queueDrained() == .none)
        #expect(lifecycle.state == .open)
    }

    @Test func theAcknowledgedCloseIsOursAndThePeersCloseIsTheirs() {
        var ours = taken {
            _ = $0.handshakeCompleted()
            _ = $0.closeRequested(bye)
            _ = $0.queueDrained()
        }
        #expect(ours.transportClosed() == .end(.closed(.normalClosure, reason: "bye")))

        var theirs = taken { _ = $0.handshakeCompleted() }
        let away = CloseFrame(code: .goingAway, reason: "later")
        #expect(theirs.peerSentClose(away) == .none)
        #expect(theirs.state == .peerClosed(away))
        #expect(!theirs.deliversMessages && !theirs.queuesMessages)
        #expect(theirs.closeRequested(bye) == .none, "lws answers the peer's close")
        #expect(theirs.transportClosed() == .end(.closed(.goingAway, reason: "later")))
    }

    @Test func aLostConnectionIs1006WhateverWasPending() {
        let pending: [(inout ConnectionLifecycle) -> Void] = [
            { _ = $0.handshakeCompleted() },
            { _ = $0.handshakeCompleted(); _ = $0.closeRequested(self.bye) },
            { _ = $0.handshakeCompleted(); _ = $0.refused(self.tooBig) },
        ]
        for events in pending {
            var lifecycle = taken(through: events)
            #expect(lifecycle.transportClosed() == .end(.closed(.abnormalClosure, reason: "")))
            #expect(lifecycle.hasEnded && !lifecycle.isEstablished)
        }
    }

    @Test func aClientRefusalGoesOutAheadOfTheQueueAndStopsDelivery() {
        var lifecycle = taken {
            _ = $0.handshakeCompleted()
            _ = $0.closeRequested(self.bye)
        }
        #expect(lifecycle.refused(tooBig) == .requestWriteable)
        #expect(lifecycle.state == .refusing(tooBig))
        #expect(!lifecycle.deliversMessages)
        #expect(lifecycle.writeable() == .sendClose(tooBig), "the refusal skips the queue")
        #expect(lifecycle.refused(bye) == .none)
        #expect(lifecycle.transportClosed() == .end(.closed(.messageTooBig, reason: "too big")))
    }

    @Test func failingAtOnceSendsOneCloseFrame() {
        var lifecycle = taken { _ = $0.handshakeCompleted() }
        let protocolError = CloseFrame(code: .protocolError, reason: "bad close")
        #expect(lifecycle.failedNow(protocolError) == .sendClose(protocolError))
        #expect(lifecycle.failedNow(tooBig) == .none, "one close frame per connection")
        #expect(lifecycle.state == .closeSent(protocolError))
        #expect(lifecycle.deliversMessages, "data before the peer's answer still counts")

        var answering = taken { _ = $0.handshakeCompleted(); _ = $0.peerSentClose(self.bye) }
        #expect(answering.failedNow(protocolError) == .sendClose(protocolError), "a malformed close is answered 1002")
        #expect(answering.transportClosed() == .end(.closed(.protocolError, reason: "bad close")))

        var connecting = ConnectionLifecycle()
        #expect(connecting.failedNow(protocolError) == .none, "nothing to close before the handshake")
    }

    @Test func stoppingAbandonsAHandshakeAndClosesAnOpenConnectionWith1001() {
        var connecting = taken { _ = $0.closeRequested(self.bye) }
        #expect(connecting.stopRequested() == .abandonHandshake(.failed(.notRunning)))
        #expect(connecting.state == .ended(.failed(.notRunning)))
        #expect(connecting.handshakeCompleted() == .none, "a handshake completing later is ignored")

        var open = taken { _ = $0.handshakeCompleted() }
        let goingAway = CloseFrame(code: .goingAway, reason: "shutting down")
        #expect(open.stopRequested() == .requestWriteable)
        #expect(open.state == .closingAfterQueue(goingAway))

        var closing = taken { _ = $0.handshakeCompleted(); _ = $0.closeRequested(self.bye) }
        #expect(closing.stopRequested() == .none, "a close already on its way is kept")
        #expect(closing.state == .closingAfterQueue(bye))
    }

    @Test func anUndecidedConnectionIsAnnouncedOnlyWhenAccepted() {
        var lifecycle = ConnectionLifecycle()
        #expect(lifecycle.handshakeCompleted(decided: false) == .awaitDecision)
        #expect(lifecycle.isAwaitingDecision && !lifecycle.isEstablished && !lifecycle.deliversMessages && !lifecycle.queuesMessages)
        #expect(lifecycle.closeRequested(bye) == .none, "nobody holds the connection to close it")
        #expect(lifecycle.writeable() == .none)
        #expect(lifecycle.decisionAccepted() == .deliverEstablished)
        #expect(lifecycle.state == .open)
        #expect(lifecycle.decisionRefused(bye) == .none, "a late refusal changes nothing")
    }

    @Test func aRefusedOrLostUndecidedConnectionEndsUnannounced() {
        let policy = CloseFrame(code: .policyViolation, reason: "401 Unauthorized")
        var refused = taken { _ = $0.handshakeCompleted(decided: false) }
        #expect(refused.decisionRefused(policy) == .requestWriteable)
        #expect(refused.state == .declining(policy))
        #expect(refused.decisionAccepted() == .none, "a late acceptance changes nothing")
        #expect(refused.writeable() == .sendClose(policy))
        #expect(refused.state == .declined && refused.hasEnded)
        #expect(refused.transportClosed() == .none, "no last event: there was no first")

        var lost = taken { _ = $0.handshakeCompleted(decided: false) }
        #expect(lost.transportClosed() == .none)
        #expect(lost.state == .declined)

        var stopped = taken { _ = $0.handshakeCompleted(decided: false) }
        #expect(stopped.stopRequested() == .requestWriteable)
        #expect(stopped.state == .declining(CloseFrame(code: .goingAway, reason: "shutting down")))
    }
}
