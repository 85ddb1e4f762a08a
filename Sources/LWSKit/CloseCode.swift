/// A WebSocket close status code (RFC 6455 section 7.4).
public struct CloseCode: RawRepresentable, Sendable, Hashable {
    /// The numeric status code as it appears in the close frame.
    public let rawValue: UInt16

    /// Creates a close code from its numeric value.
    /// - Parameter rawValue: The status code, e.g. 1000.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// 1000: the purpose of the connection has been fulfilled.
    public static let normalClosure = CloseCode(rawValue: 1000)
    /// 1001: an endpoint is going away (server shutdown, page navigation).
    public static let goingAway = CloseCode(rawValue: 1001)
    /// 1002: the peer broke the protocol.
    public static let protocolError = CloseCode(rawValue: 1002)
    /// 1003: the endpoint cannot accept this type of data.
    public static let unsupportedData = CloseCode(rawValue: 1003)
    /// 1005: no status code was present in the close frame (never sent).
    public static let noStatusReceived = CloseCode(rawValue: 1005)
    /// 1006: the connection was lost without a close frame (never sent).
    public static let abnormalClosure = CloseCode(rawValue: 1006)
    /// 1007: a text message was not valid UTF-8, or similar inconsistent data.
    public static let invalidFramePayloadData = CloseCode(rawValue: 1007)
    /// 1008: the message violates the endpoint's policy.
    public static let policyViolation = CloseCode(rawValue: 1008)
    /// 1009: the message is larger than the endpoint accepts.
    public static let messageTooBig = CloseCode(rawValue: 1009)
    /// 1010: the client expected an extension the server did not negotiate.
    public static let mandatoryExtension = CloseCode(rawValue: 1010)
    /// 1011: the server hit an unexpected condition.
    public static let internalServerError = CloseCode(rawValue: 1011)
    /// 1012: the server is restarting (IANA registry, not RFC 6455).
    public static let serviceRestart = CloseCode(rawValue: 1012)
    /// 1013: the server is overloaded or the client too slow; try again later (IANA registry).
    /// libwebsockets 4.1.6 peers, LWSKit's client among them, and Autobahn|Testsuite predate
    /// the registry: they take 1012–1014 as a protocol error (an LWSKit client reports 1002).
    /// Browsers and Python `websockets` accept them.
    public static let tryAgainLater = CloseCode(rawValue: 1013)
    /// 1014: a gateway got an invalid answer upstream (IANA registry).
    public static let badGateway = CloseCode(rawValue: 1014)

    /// Whether an endpoint may put this code in a close frame it sends
    /// (1000–1003, 1007–1014 (1012–1014 from the IANA registry), and the registered and private
    /// ranges 3000–4999).
    public var isSendable: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }
}

extension CloseCode: CustomStringConvertible {
    /// The numeric code, e.g. "1000".
    public var description: String { String(rawValue) }
}
