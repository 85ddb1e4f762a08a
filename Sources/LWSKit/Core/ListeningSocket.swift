import CLibWebSockets
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A server's listening TCP socket, made by LWSKit rather than by lws.
///
/// lws 4.1.6 can only make one listening socket per port for one context: it sets
/// `SO_REUSEPORT` only when a context has several service threads, and Debian's build allows
/// one (`LWS_MAX_SMP` 1). A server with several loops therefore listens on one socket of its
/// own, accepts there, and hands each accepted socket to a loop (`lws_adopt_descriptor_vhost`).
/// A server with one loop does the same, so that there is one way in. The socket is
/// non-blocking and close-on-exec; `SO_REUSEADDR` as lws sets it (a restarted server binds
/// while old connections linger in TIME_WAIT); no `SO_REUSEPORT`, so a second server on the
/// same port fails with "address already in use" instead of sharing its peers.
struct ListeningSocket {
    /// The socket descriptor.
    let descriptor: Int32
    /// The port it is bound to (the one the system chose when 0 was asked for).
    let port: Int

    /// Binds and listens on `address`, port `port`.
    /// - Parameter host: The configured host, for error messages.
    /// - Throws: `LWSError.listenFailed` naming the reason ("address already in use", ...).
    static func open(_ address: ListenAddress, port: Int, host: String?) throws(LWSError) -> ListeningSocket {
        func failure(_ step: String?, _ code: Int32 = errno) -> LWSError {
            .listenFailed(host: host ?? "*", port: port, reason: [step, describe(code)].compactMap { $0 }.joined(separator: ": "))
        }
        var storage = sockaddr_storage()
        let length: socklen_t
        let family: Int32
        switch address {
        case .ipv4(let text):
            family = AF_INET
            length = withUnsafeMutableBytes(of: &storage) { raw in
                let v4 = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
                v4.pointee.sin_family = sa_family_t(AF_INET)
                v4.pointee.sin_port = in_port_t(UInt16(port).bigEndian)
                inet_pton(AF_INET, text, &v4.pointee.sin_addr)
                return socklen_t(MemoryLayout<sockaddr_in>.size)
            }
        case .ipv6, .any:
            family = AF_INET6
            length = withUnsafeMutableBytes(of: &storage) { raw in
                let v6 = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
                v6.pointee.sin6_family = sa_family_t(AF_INET6)
                v6.pointee.sin6_port = in_port_t(UInt16(port).bigEndian)
                if case .ipv6(let text) = address { inet_pton(AF_INET6, text, &v6.pointee.sin6_addr) }
                return socklen_t(MemoryLayout<sockaddr_in6>.size)
            }
        }
        let descriptor = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw failure("cannot make a socket") }
        var on: Int32 = 1, off: Int32 = 0
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        // Every interface: one IPv6 socket that takes IPv4 peers too (as lws' own listener).
        if address == .any { setsockopt(descriptor, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &off, socklen_t(MemoryLayout<Int32>.size)) }
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else {
            let code = errno
            close(descriptor)
            throw failure(nil, code)
        }
        guard listen(descriptor, SOMAXCONN) == 0 else {
            let code = errno
            close(descriptor)
            throw failure("cannot listen", code)
        }
        var actual = sockaddr_storage()
        var actualLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &actualLength) }
        }
        let boundPort = withUnsafeBytes(of: &actual) { raw -> UInt16 in
            family == AF_INET
                ? UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
                : UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
        }
        return ListeningSocket(descriptor: descriptor, port: Int(boundPort))
    }

    /// The reason for `code`, with the names users search for.
    private static func describe(_ code: Int32) -> String {
        switch code {
        case EADDRINUSE: "address already in use"
        case EACCES: "permission denied"
        case EADDRNOTAVAIL: "address not available on this machine"
        default: String(cString: strerror(code))
        }
    }
}

/// Takes the next connection waiting on a listening socket: non-blocking, close-on-exec, with
/// Nagle's algorithm off (as lws sets up the sockets it accepts). Returns nil when none waits
/// (or the system refused one: the error is in `errno`).
func acceptWaitingPeer(on listening: Int32) -> Int32? {
    let descriptor = lwskit_accept(listening)
    guard descriptor >= 0 else { return nil }
    var on: Int32 = 1
    setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
    return descriptor
}
