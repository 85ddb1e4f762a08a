import Logging

/// An HTTP/1.1 client for `http://` and `https://` URLs: one libwebsockets context serviced by
/// its own thread, one connection per request.
///
/// ```swift
/// let client = try HTTPClient(configuration: .init(tls: .init(trustRoots: .file("ca.pem"))))
/// let page = try await client.get("https://localhost:28709/")
/// let echo = try await client.post("https://localhost:28709/echo", body: Array("hi".utf8),
///                                  headers: ["content-type": "text/plain"])
/// ```
/// Host names are resolved on the client's thread (this libwebsockets build has no
/// asynchronous DNS).
public final class HTTPClient: Sendable {
    /// The configuration the client was created with.
    public let configuration: HTTPClientConfiguration
    let loop: ServiceLoop

    /// Creates a client and starts its thread.
    /// - Parameters:
    ///   - configuration: TLS, timeout and response-size limit.
    ///   - logger: Receives LWSKit's and libwebsockets' log lines. Default: label "LWSKit".
    /// - Throws: `LWSError.invalidConfiguration`, or `.contextCreationFailed` (e.g. an
    ///   unreadable CA file).
    public init(configuration: HTTPClientConfiguration = .init(), logger: Logger = Logger(label: "LWSKit")) throws {
        try configuration.validate()
        self.configuration = configuration
        self.loop = ServiceLoop(
            settings: LoopSettings(
                protocolNames: [ServiceLoop.clientProtocolName], limits: WebSocketLimits(), keepalive: nil,
                role: .client(ClientLoopSettings(kind: .http, tls: configuration.tls))
            ),
            logger: logger
        )
        try loop.start()
    }

    /// Sends a request and returns the whole response, whatever its status.
    /// - Parameters:
    ///   - method: "GET", "POST", "PUT", … Default "GET".
    ///   - url: An `http://` or `https://` URL.
    ///   - headers: Extra request header fields (`host` and `content-length` are set for you).
    ///   - body: The request body. Default empty.
    /// - Returns: Status, headers and body.
    /// - Throws: `LWSError.invalidURL`, `.invalidArgument` (method or header),
    ///   `.connectionFailed` (refused, TLS verification with OpenSSL's reason, closed early),
    ///   `.timedOut`, `.responseTooLarge`, `.notRunning`.
    public func send(_ method: String = "GET", to url: String, headers: HTTPHeaders = [:], body: [UInt8] = []) async throws -> HTTPResponse {
        let target = try HTTPURL(url)
        let method = method.uppercased()
        guard !method.isEmpty, method.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
            throw LWSError.invalidArgument("'\(method)' is not an HTTP method")
        }
        for field in headers where !HTTPHeaders.isValid(name: field.name, value: field.value) {
            throw LWSError.invalidArgument("header '\(field.name)' has an invalid name or value")
        }
        let exchange = HTTPClientExchange(
            loop: loop, url: target, method: method, headers: headers, body: body,
            maxResponseSize: configuration.maxResponseSize
        )
        let timeout = configuration.timeout
        return try await withCheckedThrowingContinuation { continuation in
            exchange.setResultHandler { continuation.resume(with: $0) }
            do {
                try loop.execute { [loop] in loop.startHTTPRequest(exchange) }
            } catch {
                exchange.finish(.failure(error))
                return
            }
            // If the loop has ended by then with the request still queued, nothing else answers it.
            loop.post(after: timeout, { exchange.timedOut(after: timeout) },
                      refused: { exchange.finish(.failure(LWSError.notRunning)) })
        }
    }

    /// `GET url`.
    /// - Throws: See `send(_:to:headers:body:)`.
    public func get(_ url: String, headers: HTTPHeaders = [:]) async throws -> HTTPResponse {
        try await send("GET", to: url, headers: headers)
    }

    /// `POST url` with `body`.
    /// - Throws: See `send(_:to:headers:body:)`.
    public func post(_ url: String, body: [UInt8], headers: HTTPHeaders = [:]) async throws -> HTTPResponse {
        try await send("POST", to: url, headers: headers, body: body)
    }

    /// A client dropped without a shutdown stops its thread.
    deinit {
        loop.requestStop(grace: .zero)
    }

    /// Abandons requests in flight and ends the client's thread. Blocks until then.
    public func syncShutdown() {
        loop.requestStop(grace: .zero)
        loop.waitUntilFinished()
    }

    /// Like `syncShutdown()`, suspending instead of blocking the caller's thread.
    public func shutdown() async {
        loop.requestStop(grace: .zero)
        await loop.ended()
        loop.waitUntilFinished()
    }
}
