#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where a server listens: the configured host turned into one numeric address of this
/// machine, which `ListeningSocket` binds.
///
/// (LWSKit once gave the address to lws as its `iface`, which lws 4.1.6 does not bind as
/// named: "127.0.0.1" listened on every interface unless the vhost had IPv6 turned off, and a
/// host name such as "localhost" was looked up as an interface and then nothing listened.
/// Resolving first gives one rule for names, interfaces and addresses, and a clear error.)
enum ListenAddress: Equatable {
    /// Every interface, IPv4 and IPv6 (no host configured).
    case any
    /// One IPv4 address, dotted ("127.0.0.1").
    case ipv4(String)
    /// One IPv6 address, without brackets ("::1").
    case ipv6(String)

    /// The address `host` names: an IPv4 or IPv6 address (brackets allowed), the name of a
    /// network interface (its first IPv4 address, else its first IPv6 one), or a host name
    /// (its first IPv4 address, else its first IPv6 one). The address must be one of this
    /// machine's.
    /// - Throws: `LWSError.listenFailed` saying why, for a name that does not resolve or an
    ///   address this machine does not have.
    static func resolve(_ host: String?, port: Int) throws(LWSError) -> ListenAddress {
        guard let host else { return .any }
        let unbracketed = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        let address: ListenAddress
        if let literal = numeric(unbracketed) {
            address = literal
        } else if let interface = interfaceAddress(named: host) {
            address = interface
        } else if let resolved = lookUp(host) {
            address = resolved
        } else {
            throw .listenFailed(host: host, port: port, reason: "'\(host)' is neither an address, nor an interface of this machine, nor a host name that resolves")
        }
        if let reason = address.unbindableReason() {
            throw .listenFailed(host: host, port: port, reason: reason)
        }
        return address
    }

    /// The numeric address; nil for `.any`.
    var numericHost: String? {
        switch self {
        case .any: nil
        case .ipv4(let text), .ipv6(let text): text
        }
    }

    /// The address `text` spells out, IPv4 or IPv6 (without brackets); nil for a name.
    static func numeric(_ text: String) -> ListenAddress? {
        var ipv4 = in_addr()
        if inet_pton(AF_INET, text, &ipv4) == 1 { return .ipv4(text) }
        var ipv6 = in6_addr()
        if inet_pton(AF_INET6, text, &ipv6) == 1 { return .ipv6(text) }
        return nil
    }

    /// The first IPv4 address of interface `name`, else its first IPv6 address.
    private static func interfaceAddress(named name: String) -> ListenAddress? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return nil }
        defer { freeifaddrs(list) }
        var found: [ListenAddress] = []
        for entry in sequence(first: first, next: { $0.pointee.ifa_next }) {
            guard String(cString: entry.pointee.ifa_name) == name,
                  let socketAddress = entry.pointee.ifa_addr as UnsafeMutablePointer<sockaddr>?,
                  let address = describe(socketAddress) else { continue }
            found.append(address)
        }
        return preferringIPv4(found)
    }

    /// The first IPv4 address `host` resolves to, else its first IPv6 address.
    private static func lookUp(_ host: String) -> ListenAddress? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var results: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &results) == 0, let first = results else { return nil }
        defer { freeaddrinfo(results) }
        let found = sequence(first: first, next: { $0.pointee.ai_next }).compactMap { entry -> ListenAddress? in
            guard let socketAddress = entry.pointee.ai_addr as UnsafeMutablePointer<sockaddr>? else { return nil }
            return describe(socketAddress)
        }
        return preferringIPv4(found)
    }

    private static func preferringIPv4(_ addresses: [ListenAddress]) -> ListenAddress? {
        addresses.first { if case .ipv4 = $0 { true } else { false } } ?? addresses.first
    }

    private static func describe(_ socketAddress: UnsafePointer<sockaddr>) -> ListenAddress? {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch Int32(socketAddress.pointee.sa_family) {
        case AF_INET:
            var address = UnsafeRawPointer(socketAddress).assumingMemoryBound(to: sockaddr_in.self).pointee.sin_addr
            guard inet_ntop(AF_INET, &address, &text, socklen_t(text.count)) != nil else { return nil }
            return .ipv4(String(cString: text))
        case AF_INET6:
            let v6 = UnsafeRawPointer(socketAddress).assumingMemoryBound(to: sockaddr_in6.self).pointee
            // A link-local address needs its scope to be bound: leave those out.
            guard v6.sin6_scope_id == 0 else { return nil }
            var address = v6.sin6_addr
            guard inet_ntop(AF_INET6, &address, &text, socklen_t(text.count)) != nil else { return nil }
            return .ipv6(String(cString: text))
        default:
            return nil
        }
    }

    /// Why a socket cannot be bound to this address (any port), or nil when it can.
    private func unbindableReason() -> String? {
        guard let host = numericHost else { return nil }
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICHOST
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var results: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &results) == 0, let address = results?.pointee else {
            return "\(host) is not a numeric address"
        }
        defer { freeaddrinfo(results) }
        let probe = socket(address.ai_family, address.ai_socktype, 0)
        guard probe >= 0 else { return "cannot make a socket to check \(host): \(String(cString: strerror(errno)))" }
        defer { close(probe) }
        guard bind(probe, address.ai_addr, address.ai_addrlen) != 0 else { return nil }
        let code = errno
        if code == EADDRNOTAVAIL { return "\(host) is not an address of this machine" }
        return "cannot bind \(host): \(String(cString: strerror(code)))"
    }
}
