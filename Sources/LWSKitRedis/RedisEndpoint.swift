import LWSKit

/// Where a Redis server listens, and the password it wants (if any).
public struct RedisEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// The server's address or host name.
    public var host: String
    /// Its TCP port (Redis' default is 6379).
    public var port: Int
    /// The user for `AUTH user password` (Redis 6 ACLs); nil for `AUTH password` alone.
    public var username: String?
    /// The password sent with `AUTH` after connecting; nil sends no `AUTH`.
    public var password: String?

    /// Creates an endpoint.
    public init(host: String, port: Int = 6379, username: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
    }

    /// Parses `redis://[[user]:password@]host[:port][/db]` (the database number is accepted and
    /// ignored: publish/subscribe spans every database). IPv6 addresses go in brackets.
    /// - Throws: `LWSError.invalidURL` saying what is wrong.
    public init(url: String) throws {
        func invalid(_ reason: String) -> LWSError { .invalidURL(url, reason: reason) }
        guard url.hasPrefix("redis://") else { throw invalid("the scheme must be redis:// (rediss:// and unix sockets are not supported)") }
        var rest = Substring(url.dropFirst("redis://".count))
        if let slash = rest.firstIndex(of: "/") {
            let database = rest[rest.index(after: slash)...]
            guard database.isEmpty || Int(database).map({ $0 >= 0 }) == true else { throw invalid("the path must be a database number") }
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                username = user.isEmpty ? nil : String(user)
                password = String(credentials[credentials.index(after: colon)...])
            } else {
                username = nil
                password = String(credentials)
            }
        } else {
            username = nil
            password = nil
        }
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw invalid("an IPv6 address lacks its closing bracket") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw invalid("only :port may follow the address") }
                portText = after.dropFirst()
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            portText = rest[rest.index(after: colon)...]
        } else {
            host = String(rest)
        }
        guard !host.isEmpty else { throw invalid("the host is missing") }
        if let portText {
            guard let port = Int(portText), (1...65535).contains(port) else { throw invalid("the port must be 1...65535") }
            self.port = port
        } else {
            port = 6379
        }
    }

    /// `redis://host:port`, without the password.
    public var description: String {
        let address = host.contains(":") ? "[\(host)]" : host
        return "redis://\(address):\(port)"
    }
}
