import CLibWebSockets

/// The C `lws_http_mount` list a server vhost is created with.
///
/// Static mounts become file mounts. Each route path becomes a callback mount bound to LWSKit's
/// HTTP protocol, so it wins over a file mount with a shorter prefix (lws picks the longest
/// matching mount). Paths nothing serves reach the dispatcher as `LWS_CALLBACK_HTTP` too, and
/// are answered there. The list must outlive the context.
final class HTTPMountTable {
    private let entries: UnsafeMutableBufferPointer<lws_http_mount>

    /// Builds the list; strings go into `arena`.
    init(_ http: HTTPServerConfiguration, protocolName: String, arena: ProtocolTable) {
        // A pattern's literal prefix ("/rooms" for "/rooms/:room") brings every request it may
        // match to the dispatcher, which matches the pattern itself.
        let routePaths = Array(Set(http.routes.compactMap { PathPattern($0.path)?.literalPrefix })).sorted()
        let count = http.mounts.count + routePaths.count
        self.count = count
        entries = .allocate(capacity: max(count, 1))
        var index = 0
        for mount in http.mounts {
            var entry = lws_http_mount()
            entry.mountpoint = arena.intern(mount.urlPrefix)
            entry.mountpoint_len = UInt8(mount.urlPrefix.utf8.count)
            entry.origin = arena.intern(mount.directory)
            entry.def = arena.intern(mount.defaultDocument)
            entry.origin_protocol = UInt8(LWSMPRO_FILE.rawValue)
            entries[index] = entry
            index += 1
        }
        for path in routePaths {
            var entry = lws_http_mount()
            entry.mountpoint = arena.intern(path)
            entry.mountpoint_len = UInt8(path.utf8.count)
            entry.origin = arena.intern(protocolName)
            entry.origin_protocol = UInt8(LWSMPRO_CALLBACK.rawValue)
            entries[index] = entry
            index += 1
        }
        for position in 0..<max(count - 1, 0) {
            entries[position].mount_next = UnsafePointer(entries.baseAddress! + position + 1)
        }
    }

    private let count: Int

    /// The head of the list, or nil when there are no mounts.
    var first: UnsafePointer<lws_http_mount>? { count == 0 ? nil : UnsafePointer(entries.baseAddress!) }

    deinit { entries.deallocate() }
}
