import CLibWebSockets

/// How peers reach a server's loops (see `PeerDealer`). Loop thread only.
///
/// The accepting loop watches the listening socket as a raw descriptor lws polls for it
/// (RAW_RX_FILE when peers wait); every loop adopts the sockets dealt to it into its vhost
/// with `lws_adopt_descriptor_vhost`, as lws' own listener does after accepting. lws creates
/// the peer's wsi there (WSI_CREATE) and destroys it when the peer is gone (WSI_DESTROY); an
/// HTTP/2 stream is created and destroyed too, but never adopted, so it is not counted.
extension ServiceLoop {
    /// Starts watching the listening socket (the accepting loop, at start).
    /// - Throws: `LWSError.contextCreationFailed` if lws cannot watch it.
    func watchListeningSocket() throws {
        guard let dealer, let vhost else { return }
        try dealer.watch(through: vhost, of: self)
    }

    /// RAW_RX_FILE on the listening socket: peers are waiting.
    func acceptWaitingPeers() {
        assertLoopThread()
        dealer?.acceptWaitingPeers(on: self)
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
            peerLeft()
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
        dealer?.wsiDestroyed(wsi)
        if admittedPeers.remove(wsi) != nil { peerLeft() }
    }

    /// A peer was dealt to this loop (it holds a place in the server's budget already). Any
    /// thread: counters only.
    func peerArrived() {
        counters.connections.wrappingAdd(1, ordering: .relaxed)
        counters.connectionsAccepted.wrappingAdd(1, ordering: .relaxed)
    }

    /// A peer of this loop is gone, or was never served: its place in the server's budget is
    /// free. Any thread: atomics only.
    func peerLeft() {
        peerBudget?.release()
        counters.connections.wrappingSubtract(1, ordering: .relaxed)
    }
}
