import CLibWebSockets
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How peers reach a server's loops (see `PeerDealer`). Loop thread only.
///
/// The accepting loop watches the listening socket as a raw descriptor lws polls for it
/// (RAW_RX_FILE when peers wait); every loop adopts the sockets dealt to it into its vhost
/// with `lws_adopt_descriptor_vhost`, as lws' own listener does after accepting. lws creates
/// the peer's wsi there (WSI_CREATE) and destroys it when the peer is gone (WSI_DESTROY); an
/// HTTP/2 stream is created and destroyed too, but never adopted, so it is not counted.
extension ServiceLoop {
    /// Starts watching the listening socket of `dealer` (the accepting loop, at start).
    /// - Throws: `LWSError.contextCreationFailed` if lws cannot watch it.
    func watchListeningSocket() throws {
        guard let dealer, let vhost else { return }
        var descriptor = lws_sock_file_fd_type()
        descriptor.filefd = dealer.listening.descriptor
        guard let wsi = lws_adopt_descriptor_vhost(vhost, LWS_ADOPT_RAW_FILE_DESC, descriptor, nil, nil) else {
            throw LWSError.contextCreationFailed(reason: lastErrors(or: "cannot watch the listening socket"))
        }
        listenerWsi = wsi
    }

    /// RAW_RX_FILE on the listening socket: peers are waiting.
    func acceptWaitingPeers() {
        assertLoopThread()
        guard let dealer, let listenerWsi else { return }
        let failure = dealer.acceptWaitingPeers(on: self)
        guard failure != 0 else {
            if isAcceptFailing {
                logger.notice("accepting peers again")
                isAcceptFailing = false
            }
            return
        }
        // Out of descriptors (EMFILE, ENFILE) or memory: the peer stays in the backlog and the
        // socket stays readable. Stop watching it for a moment rather than spin. (An lws timer,
        // not a dispatch one: libdispatch needs descriptors of its own for its first timer, and
        // stops the process when it cannot have them.)
        if !isAcceptFailing {
            logger.warning("cannot accept peers: \(String(cString: strerror(failure))); they wait in the listen backlog, tried again every 100 ms")
            isAcceptFailing = true
        }
        lws_rx_flow_control(listenerWsi, 0)
        let resume = ContinuousClock.now + .milliseconds(100)
        listenerPausedUntil = resume
        if let context { listenerResumeTimer.schedule(context, at: resume) }
    }

    /// After a turn of the loop: watches the listening socket again once its pause is over.
    func resumeListeningIfDue() {
        guard let due = listenerPausedUntil, ContinuousClock.now >= due else { return }
        listenerPausedUntil = nil
        if let listenerWsi { lws_rx_flow_control(listenerWsi, 1) }
    }

    /// Serves `peer` on this loop, unless it is stopping.
    func adopt(_ peer: DealtPeer) {
        assertLoopThread()
        guard !isStopping, let vhost, let socket = peer.take() else { return }
        var descriptor = lws_sock_file_fd_type()
        descriptor.sockfd = socket
        var kind = LWS_ADOPT_SOCKET.rawValue | LWS_ADOPT_HTTP.rawValue
        if settings.server?.tls != nil { kind |= LWS_ADOPT_ALLOW_SSL.rawValue }
        isAdmittingPeer = true
        // (On failure lws closes the socket; its wsi, if it made one, is destroyed already.)
        _ = lws_adopt_descriptor_vhost(vhost, lws_adoption_type(rawValue: kind), descriptor, nil, nil)
        if isAdmittingPeer {
            isAdmittingPeer = false
            releasePeer()
        }
    }

    /// WSI_CREATE: the wsi of the peer being adopted, or of an HTTP/2 stream.
    func wsiCreated(_ wsi: OpaquePointer) {
        guard isAdmittingPeer else { return }
        isAdmittingPeer = false
        admittedPeers.insert(wsi)
    }

    /// WSI_DESTROY: the peer's wsi (or another one) is about to be freed.
    func wsiDestroyed(_ wsi: OpaquePointer) {
        if wsi == listenerWsi { listenerWsi = nil }
        if admittedPeers.remove(wsi) != nil { releasePeer() }
    }

    /// A peer of this loop is gone: its place in the server's budget is free.
    private func releasePeer() {
        peerBudget?.release()
        counters.connections.wrappingSubtract(1, ordering: .relaxed)
    }
}
