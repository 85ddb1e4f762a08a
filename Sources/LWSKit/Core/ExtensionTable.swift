import CLibWebSockets

/// The C `lws_extension` list that turns on permessage-deflate (RFC 7692) for a vhost: a
/// server accepts it when a client offers it, a client offers it in every handshake.
///
/// lws' deflate code reads the last buffer given to `lws_write` after the call returns (while
/// it drains compressed output); `ConnectionState.recentlyWritten` keeps those buffers alive.
/// With TLS it needs `pt_serv_buf_size` ≥ 16 KiB, which `WebSocketLimits.receiveBufferSize`
/// guarantees. The list must outlive the context.
final class ExtensionTable {
    private let entries: UnsafeMutableBufferPointer<lws_extension>

    /// Builds the list; strings go into `arena`.
    init(arena: ProtocolTable) {
        entries = .allocate(capacity: 2)
        entries[0] = lws_extension(
            name: arena.intern("permessage-deflate"),
            callback: lws_extension_callback_pm_deflate,
            client_offer: arena.intern("permessage-deflate; client_max_window_bits")
        )
        entries[1] = lws_extension()
    }

    /// Sizes deflate's buffers for a connection that negotiated it (else does nothing).
    ///
    /// lws' default is 1 KiB each way: every KiB of compressed output becomes its own frame (a
    /// 4 MiB random message went out in over 4096 fragments, which Python `websockets` refuses)
    /// and inflated data arrives 1 KiB per RECEIVE. 2^16 = 64 KiB per compressed frame and per
    /// inflated chunk; lws caps the receive side at the protocol's `rx_buffer_size`.
    static func tune(_ wsi: OpaquePointer) {
        _ = lws_set_extension_option(wsi, "permessage-deflate", "tx_buf_size", "16")
        _ = lws_set_extension_option(wsi, "permessage-deflate", "rx_buf_size", "16")
    }

    /// The pointer to pass as `extensions` in lws' creation info.
    var pointer: UnsafePointer<lws_extension> { UnsafePointer(entries.baseAddress!) }

    deinit { entries.deallocate() }
}
