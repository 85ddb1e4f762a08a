import CLibWebSockets

/// The C `lws_protocols` array a vhost is created with, built from protocol names.
///
/// Every entry has LWSKit's one dispatcher as its callback and its index in `id`, so the
/// dispatcher can find the Swift handler. The array ends with the all-zero terminator lws
/// requires. The table and its names must outlive the lws context.
final class ProtocolTable {
    private let arena = CStringArena()
    private let entries: UnsafeMutableBufferPointer<lws_protocols>

    /// lws' per-connection user data, which LWSKit does not use (connections are found through
    /// `lws_get_opaque_user_data`). It must not be empty: lws 4.1.6 calls the DROP_PROTOCOL
    /// reasons only for connections that have user data, and LWSKit needs them (see
    /// `WebSocketConnection.writeQueueBeforeLWSCloses`).
    private static let sessionDataSize = 8

    /// Builds the table.
    /// - Parameters:
    ///   - names: Protocol names in table order; the first is the default for clients naming none.
    ///   - receiveBufferSize: lws' `rx_buffer_size`: the most bytes one RECEIVE delivers.
    init(names: [String], receiveBufferSize: Int) {
        entries = .allocate(capacity: names.count + 1)
        for (index, name) in names.enumerated() {
            entries[index] = lws_protocols(
                name: arena.intern(name),
                callback: lwskitDispatch,
                per_session_data_size: Self.sessionDataSize,
                rx_buffer_size: receiveBufferSize,
                id: UInt32(index),
                user: nil,
                tx_packet_size: 0
            )
        }
        entries[names.count] = lws_protocols()
    }

    /// The pointer to pass as `protocols` in lws' creation info.
    var pointer: UnsafePointer<lws_protocols> { UnsafePointer(entries.baseAddress!) }

    /// Copies a string into the arena the table owns, for other strings lws keeps.
    func intern(_ string: String) -> UnsafePointer<CChar> { arena.intern(string) }

    deinit { entries.deallocate() }
}
