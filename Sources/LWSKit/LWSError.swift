/// Every error LWSKit reports. Each case carries what a caller needs to act on it.
public enum LWSError: Error, Sendable, Equatable {
    /// The configuration was rejected before anything started; the message names the field.
    case invalidConfiguration(String)
    /// A URL could not be used: the message says why (scheme, host, port).
    case invalidURL(String, reason: String)
    /// An argument of a call was out of range; the message names it.
    case invalidArgument(String)
    /// The server could not listen on the address (port in use, permission, unknown interface).
    case listenFailed(host: String, port: Int, reason: String)
    /// libwebsockets could not create its context; the reason is its own error log line.
    case contextCreationFailed(reason: String)
    /// A client connection could not be established: refused, unreachable, or a failed handshake.
    case connectionFailed(url: String, reason: String)
    /// The server answered the opening handshake with `status` instead of upgrading (401 for a
    /// missing token, 403 for a refused origin, 404 for an unknown path, ...).
    case handshakeRefused(url: String, status: Int, reason: String)
    /// A request got no complete answer within the time allowed.
    case timedOut(url: String, after: Duration)
    /// The response body was larger than the client accepts; it was abandoned.
    case responseTooLarge(url: String, limit: Int)
    /// The connection is closed (or closing): nothing more can be sent on it.
    case connectionClosed
    /// Sending would put more than `limit` unsent bytes on the connection (its peer is not
    /// reading fast enough); nothing was queued. Retry after a `.writeable` event.
    case sendBufferFull(limit: Int)
    /// The server or client has been shut down, or was never started.
    case notRunning
    /// A `TopicBroker` could not start: its service (Redis) was unreachable and the application
    /// asked to fail fast, or it had no thread or descriptors to run with.
    case brokerUnavailable(reason: String)
}

extension LWSError: CustomStringConvertible {
    /// A one-line, human-readable explanation.
    public var description: String {
        switch self {
        case .invalidConfiguration(let message):
            return "invalid configuration: \(message)"
        case .invalidURL(let url, let reason):
            return "invalid URL '\(url)': \(reason)"
        case .invalidArgument(let message):
            return "invalid argument: \(message)"
        case .listenFailed(let host, let port, let reason):
            return "cannot listen on \(host):\(port): \(reason)"
        case .contextCreationFailed(let reason):
            return "libwebsockets context creation failed: \(reason)"
        case .connectionFailed(let url, let reason):
            return "cannot connect to \(url): \(reason)"
        case .handshakeRefused(let url, let status, let reason):
            return "cannot connect to \(url): refused by the server: \(status)\(reason.isEmpty ? "" : " \(reason)")"
        case .timedOut(let url, let after):
            return "\(url): no complete response within \(after)"
        case .responseTooLarge(let url, let limit):
            return "\(url): the response body exceeds the limit of \(limit) bytes"
        case .connectionClosed:
            return "the connection is closed"
        case .sendBufferFull(let limit):
            return "send buffer full: the peer is not reading and \(limit) bytes are already waiting"
        case .notRunning:
            return "not running (never started, or already shut down)"
        case .brokerUnavailable(let reason):
            return "the topic broker is unavailable: \(reason)"
        }
    }
}
