import CLibWebSockets

/// What lws 4.1.6 lets through in a client's opening handshake and RFC 6455 (section 4.2.1)
/// does not: a `Sec-WebSocket-Version` other than 13 (lws also speaks the drafts' 8, and takes
/// a missing one), and a `Sec-WebSocket-Key` that is not 16 bytes in base64 (lws answers 101 to
/// any key). Checked at FILTER_PROTOCOL_CONNECTION, where refusing drops the connection.
enum HandshakeCheck {
    /// Why the handshake on `wsi` must be refused, or nil when it is acceptable.
    static func refusal(_ wsi: OpaquePointer) -> String? {
        let version = headerValue(wsi, WSI_TOKEN_VERSION)
        guard version == "13" else { return "Sec-WebSocket-Version \(version ?? "missing"), not 13" }
        // Over HTTP/2 (RFC 8441) there is no key: the stream itself is the proof.
        if isHTTP2Stream(wsi) { return nil }
        guard let key = headerValue(wsi, WSI_TOKEN_KEY), isSixteenBytesOfBase64(key) else {
            return "Sec-WebSocket-Key is not 16 bytes in base64"
        }
        return nil
    }

    /// Why an upgrade must be refused for its subprotocols: it offers some and none of them is
    /// `served` (lws 4.1.6 would drop the socket without an answer). nil when it offers none
    /// (it is served by the first protocol) or one that is served.
    static func unservedSubprotocols(_ wsi: OpaquePointer, served: [String]) -> String? {
        guard let offered = headerValue(wsi, WSI_TOKEN_PROTOCOL) else { return nil }
        // lws matches the names exactly.
        let names = HTTPRequest.subprotocolNames(in: offered)
        guard !names.isEmpty, !names.contains(where: served.contains) else { return nil }
        return "none of the subprotocols offered (\(names.joined(separator: ", "))) is served here; "
            + "served: \(served.isEmpty ? "none" : served.joined(separator: ", "))"
    }

    /// Why a handshake from a web page must be refused: its `Origin` is not allowed by
    /// `policy` (see `OriginPolicy`); nil when it is, when it has no `Origin`, or for a client.
    static func foreignOrigin(_ wsi: OpaquePointer, policy: OriginPolicy?) -> String? {
        guard let policy else { return nil }
        // HTTP/2 streams (RFC 8441) carry the host as the :authority pseudo-header.
        let host = headerValue(wsi, WSI_TOKEN_HOST) ?? headerValue(wsi, WSI_TOKEN_HTTP_COLON_AUTHORITY)
        return policy.refusal(origin: headerValue(wsi, WSI_TOKEN_ORIGIN), host: host)
    }

    /// 16 bytes encode to 22 base64 characters and "==".
    private static func isSixteenBytesOfBase64(_ key: String) -> Bool {
        let bytes = Array(key.utf8)
        guard bytes.count == 24, bytes[22] == UInt8(ascii: "="), bytes[23] == UInt8(ascii: "=") else { return false }
        return bytes[..<22].allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"): true
            default: false
            }
        }
    }
}
