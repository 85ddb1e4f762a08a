/// Answers one HTTP request. Runs on the server's thread: return quickly.
public typealias HTTPHandler = @Sendable (HTTPRequest) -> HTTPResponse

/// A dynamic route: requests with this method and exactly this path go to `handler`.
public struct HTTPRoute: Sendable {
    /// The method, upper case ("GET", "POST", …).
    public var method: String
    /// The path pattern, starting with "/": literal segments, `:name` segments matching any one
    /// segment (captured in `HTTPRequest.pathParameters`), and an optional last segment `*`
    /// matching the rest.
    public var path: String
    /// Produces the response.
    public var handler: HTTPHandler

    /// Creates a route.
    /// - Parameters:
    ///   - method: "GET", "POST", "PUT", … (case-insensitive).
    ///   - path: "/echo" (exactly that path; "/echo/x" does not match), "/users/:id" (any one
    ///     segment, captured as "id"), or "/files/*" (anything below, captured as "*").
    ///   - handler: Produces the response from the whole request.
    public init(_ method: String, _ path: String, handler: @escaping HTTPHandler) {
        self.method = method.uppercased()
        self.path = path
        self.handler = handler
    }
}

/// A static file mount: URLs under `urlPrefix` are files under `directory`.
public struct HTTPMount: Sendable, Hashable {
    /// The URL prefix, e.g. "/" or "/static".
    public var urlPrefix: String
    /// The directory the files come from.
    public var directory: String
    /// The file served for the prefix itself and for a path ending in "/". Default "index.html".
    public var defaultDocument: String

    /// Serves the files under `directory` at `urlPrefix`. Content types come from the file
    /// extension; a missing file is answered 404; ".." cannot climb above `directory`. The
    /// directory must be readable when the server is made.
    public static func files(_ urlPrefix: String, directory: String, defaultDocument: String = "index.html") -> HTTPMount {
        HTTPMount(urlPrefix: urlPrefix, directory: directory, defaultDocument: defaultDocument)
    }
}

/// The HTTP side of a server: static mounts, dynamic routes and the request-body limit.
/// Routes win over mounts for their exact path; anything neither serves is answered 404.
public struct HTTPServerConfiguration: Sendable {
    /// Static file mounts.
    public var mounts: [HTTPMount]
    /// Dynamic routes.
    public var routes: [HTTPRoute]
    /// The largest request body accepted; a larger one is answered 413. Default 16 MiB.
    public var maxRequestBodySize: Int
    /// The most bytes of unfinished request bodies the server holds at once, all connections
    /// together: a chunk that would go over it gets its request answered 503 and its
    /// connection closed, so that peers who start large uploads and stall cannot take the
    /// server's memory. Default 32 MiB (two bodies of the largest size at once).
    public var maxBufferedRequestBodyBytes: Int
    /// How long a request body may take from the request's head to its last byte; a slower
    /// one is answered 408 and its connection closed (libwebsockets' own timeout restarts at
    /// every chunk, so a body trickled a byte at a time would hold its connection for ever).
    /// Default 60 seconds.
    public var requestBodyTimeout: Duration
    /// Names of request headers libwebsockets has no token for (e.g. "x-api-key") that
    /// requests should carry. lws parses about 100 standard headers by itself; others are
    /// only found by name. Default none.
    public var customHeaderNames: [String]

    /// Creates an HTTP configuration.
    /// - Parameters:
    ///   - mounts: Static file mounts. Default none.
    ///   - routes: Dynamic routes. Default none.
    ///   - maxRequestBodySize: The largest request body, 0...1 GiB. Default 16 MiB.
    ///   - maxBufferedRequestBodyBytes: The most bytes of unfinished bodies held at once,
    ///     at least `maxRequestBodySize`, at most 16 GiB. Default 32 MiB.
    ///   - requestBodyTimeout: The longest a body may take to arrive, 1 ms ... 1 hour.
    ///     Default 60 seconds.
    ///   - customHeaderNames: Non-standard request headers to capture, e.g. ["x-api-key"].
    public init(
        mounts: [HTTPMount] = [], routes: [HTTPRoute] = [], maxRequestBodySize: Int = 16 << 20,
        maxBufferedRequestBodyBytes: Int = 32 << 20, requestBodyTimeout: Duration = .seconds(60),
        customHeaderNames: [String] = []
    ) {
        self.mounts = mounts
        self.routes = routes
        self.maxRequestBodySize = maxRequestBodySize
        self.maxBufferedRequestBodyBytes = maxBufferedRequestBodyBytes
        self.requestBodyTimeout = requestBodyTimeout
        self.customHeaderNames = customHeaderNames
    }

    func validate() throws {
        for mount in mounts {
            guard mount.urlPrefix.hasPrefix("/"), mount.urlPrefix.utf8.count < 256, !mount.urlPrefix.utf8.contains(0) else {
                throw LWSError.invalidConfiguration("mount prefix '\(mount.urlPrefix)' must start with / and be shorter than 256 bytes")
            }
            guard !mount.directory.isEmpty, !mount.directory.utf8.contains(0) else {
                throw LWSError.invalidConfiguration("mount '\(mount.urlPrefix)' needs a directory")
            }
            // Checked here: lws would start and answer every request under the mount 404.
            if let problem = unreadableFileProblem(mount.directory) {
                throw LWSError.invalidConfiguration("mount '\(mount.urlPrefix)': cannot read the directory '\(mount.directory)': \(problem)")
            }
            guard !mount.defaultDocument.isEmpty, !mount.defaultDocument.contains("/") else {
                throw LWSError.invalidConfiguration("mount '\(mount.urlPrefix)': the default document must be a file name")
            }
        }
        var seen = Set<String>()
        for route in routes {
            guard route.path.hasPrefix("/"), route.path.utf8.count < 256, !route.path.contains("?") else {
                throw LWSError.invalidConfiguration("route path '\(route.path)' must start with / and have no query")
            }
            guard PathPattern(route.path) != nil else {
                throw LWSError.invalidConfiguration(
                    "route path '\(route.path)': parameters are ':name' (named once each) and '*' only as the last segment")
            }
            guard !route.method.isEmpty, route.method.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
                throw LWSError.invalidConfiguration("route method '\(route.method)' is not an HTTP method")
            }
            guard seen.insert("\(route.method) \(route.path)").inserted else {
                throw LWSError.invalidConfiguration("route \(route.method) \(route.path) appears twice")
            }
        }
        for name in customHeaderNames where !HTTPHeaders.isValid(name: name, value: "") {
            throw LWSError.invalidConfiguration("custom header name '\(name)' is not a token")
        }
        guard (0...(1 << 30)).contains(maxRequestBodySize) else {
            throw LWSError.invalidConfiguration("maxRequestBodySize \(maxRequestBodySize) is outside 0...1 GiB")
        }
        guard (maxRequestBodySize...(1 << 34)).contains(maxBufferedRequestBodyBytes) else {
            throw LWSError.invalidConfiguration(
                "maxBufferedRequestBodyBytes \(maxBufferedRequestBodyBytes) is outside maxRequestBodySize...16 GiB"
            )
        }
        guard requestBodyTimeout >= .milliseconds(1), requestBodyTimeout <= .seconds(3600) else {
            throw LWSError.invalidConfiguration("requestBodyTimeout \(requestBodyTimeout) is outside 1 ms...1 hour")
        }
    }
}
