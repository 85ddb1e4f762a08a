/// The pieces of an absolute `scheme://host[:port][/path][?query]` URL, as a client needs them.
///
/// Shared by `WebSocketURL` (ws, wss) and `HTTPURL` (http, https): both reject user
/// information, control and non-ASCII characters, and ports outside 1...65535, with a reason.
struct URLParts: Sendable, Hashable {
    /// The scheme, lowercased.
    var scheme: String
    /// The host name or address; an IPv6 address without brackets.
    var host: String
    /// The port, or the scheme's default.
    var port: Int
    /// The path and query sent in the request line; "/" when the URL has none.
    var path: String
    /// Whether the scheme's default port is the one in use (then `Host` omits it).
    var usesDefaultPort: Bool

    /// Parses `string`, accepting only the schemes in `defaultPorts` (scheme → default port).
    /// - Throws: `LWSError.invalidURL` saying what is wrong.
    init(_ string: String, defaultPorts: KeyValuePairs<String, Int>) throws {
        func fail(_ reason: String) -> LWSError { .invalidURL(string, reason: reason) }
        let expected = defaultPorts.map { "\($0.key)://" }.joined(separator: " or ")
        guard let schemeEnd = string.firstRange(of: "://") else { throw fail("expected \(expected)host[:port][/path]") }
        let scheme = string[..<schemeEnd.lowerBound].lowercased()
        guard let defaultPort = defaultPorts.first(where: { $0.key == scheme })?.value else {
            throw fail("unsupported scheme '\(scheme)'; use \(expected)")
        }
        guard string.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw fail("contains spaces, control or non-ASCII characters (percent-encode them)")
        }
        let rest = string[schemeEnd.upperBound...]
        let authorityTerminators: Set<Character> = ["/", "?", "#"]
        let authorityEnd = rest.firstIndex(where: authorityTerminators.contains) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var path = String(rest[authorityEnd...])
        if let fragment = path.firstIndex(of: "#") { path = String(path[..<fragment]) }
        if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
        guard !authority.contains("@") else { throw fail("user information in the URL is not supported") }

        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw fail("unterminated IPv6 address") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let afterHost = authority[authority.index(after: close)...]
            if !afterHost.isEmpty {
                guard afterHost.hasPrefix(":") else { throw fail("unexpected text after the IPv6 address") }
                portText = afterHost.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { throw fail("no host") }
        let isBracketed = authority.hasPrefix("[")
        let symbols = isBracketed ? Self.ipv6AddressSymbols : Self.hostNameSymbols
        guard host.utf8.allSatisfy({ Self.isLetterOrDigit($0) || symbols.contains($0) }) else {
            throw fail(isBracketed ? "'\(host)' is not an IPv6 address" : "host '\(host)' has characters a host name cannot have")
        }
        guard !isBracketed || host.contains(":") else { throw fail("'\(host)' is not an IPv6 address") }
        var port = defaultPort
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw fail("port '\(portText)' is not a number in 1...65535")
            }
            port = value
        }
        self.scheme = scheme
        self.host = String(host)
        self.port = port
        self.path = path
        self.usesDefaultPort = port == defaultPort
    }

    /// What a host name or IPv4 address may contain besides letters and digits (RFC 3986
    /// reg-name: unreserved, sub-delimiters, percent-encoding); ":" and brackets only belong to
    /// IPv6 addresses.
    private static let hostNameSymbols = Array("-._~!$&'()*+,;=%".utf8)
    /// What may stand between the brackets of an IPv6 address besides letters and digits (hex
    /// digits, colons, an embedded IPv4 address, a zone after "%").
    private static let ipv6AddressSymbols = Array(":.%-_~".utf8)

    private static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: false
        }
    }

    /// The host, bracketed if it is an IPv6 address.
    var bracketedHost: String { host.contains(":") ? "[\(host)]" : host }

    /// The value of the `Host` header: host, bracketed if IPv6, with the port unless default.
    var hostHeader: String { usesDefaultPort ? bracketedHost : "\(bracketedHost):\(port)" }

    /// The URL in canonical form, e.g. `ws://127.0.0.1:28709/`.
    var description: String { "\(scheme)://\(bracketedHost):\(port)\(path)" }
}
