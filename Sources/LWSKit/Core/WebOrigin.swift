/// An origin as browsers send it: scheme, host and port, compared without case and with the
/// scheme's default port filled in.
struct WebOrigin: Equatable {
    let scheme: String
    let host: String
    let port: Int

    /// Reads "scheme://host[:port]" (an IPv6 host in brackets); nil for anything else,
    /// including the opaque origin "null".
    init?(_ text: String) {
        let lowered = text.lowercased()
        guard let separator = lowered.firstRange(of: "://") else { return nil }
        let scheme = String(lowered[..<separator.lowerBound])
        let authority = String(lowered[separator.upperBound...])
        guard !scheme.isEmpty, scheme.allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) }),
              let (host, port) = Self.split(authority: authority),
              let resolvedPort = port ?? Self.defaultPort(scheme: scheme) else { return nil }
        self.scheme = scheme
        self.host = host
        self.port = resolvedPort
    }

    /// Whether a request with this `Host` header came to the page's own host and port (a
    /// `Host` without a port means the default port of the page's scheme, as a browser
    /// connecting from that page would send it).
    func isServed(byHost hostHeader: String) -> Bool {
        guard let (host, port) = Self.split(authority: hostHeader.lowercased()) else { return false }
        return host == self.host && (port ?? Self.defaultPort(scheme: scheme)) == self.port
    }

    /// "host[:port]" into the host and the port, if one is given; nil when malformed (a path,
    /// user info, an empty host, a port that is not a number).
    private static func split(authority: String) -> (host: String, port: Int?)? {
        guard !authority.isEmpty, !authority.contains(where: { "/?#@ ".contains($0) }) else { return nil }
        var host = authority[...]
        var port: Int?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[...close]
            let rest = authority[authority.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let number = Int(rest.dropFirst()) else { return nil }
                port = number
            }
        } else if let colon = authority.lastIndex(of: ":") {
            guard let number = Int(authority[authority.index(after: colon)...]) else { return nil }
            host = authority[..<colon]
            port = number
        }
        guard !host.isEmpty, (0...65535).contains(port ?? 0) else { return nil }
        return (String(host), port)
    }

    private static func defaultPort(scheme: String) -> Int? {
        switch scheme {
        case "http", "ws": 80
        case "https", "wss": 443
        default: nil
        }
    }
}
