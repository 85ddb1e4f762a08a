import CLibWebSockets

/// Which peers a server takes: at most `ServerLimits.maxConnections` at once, none while it
/// stops. Loop thread only.
///
/// lws reports each accepted socket with FILTER_NETWORK_CONNECTION (on the listening wsi) and
/// then, while adopting it, creates its wsi with WSI_CREATE; WSI_DESTROY ends it. An HTTP/2
/// stream is created and destroyed too, but never filtered, so it is not counted.
extension ServiceLoop {
    /// FILTER_NETWORK_CONNECTION: a peer was just accepted. Returns nonzero to disconnect it.
    func admitPeer() -> Int32 {
        guard let limits = settings.serverLimits else { return 0 }
        if isStopping { return 1 }
        guard admittedPeers.count < limits.maxConnections else {
            if !isRefusingPeers {
                logger.warning("refusing new peers: \(admittedPeers.count) connected, the limit (ServerLimits.maxConnections)")
                isRefusingPeers = true
            }
            return 1
        }
        if isRefusingPeers {
            logger.notice("accepting new peers again: \(admittedPeers.count) connected")
            isRefusingPeers = false
        }
        isAdmittingPeer = true
        return 0
    }

    /// WSI_CREATE: the wsi of the peer just admitted, or of an HTTP/2 stream.
    func wsiCreated(_ wsi: OpaquePointer) {
        guard isAdmittingPeer else { return }
        isAdmittingPeer = false
        admittedPeers.insert(wsi)
    }

    /// WSI_DESTROY: the peer's wsi (or another one) is about to be freed.
    func wsiDestroyed(_ wsi: OpaquePointer) {
        admittedPeers.remove(wsi)
    }
}
