import CLibWebSockets

/// What lws 4.1.6 lets through in an HTTP/1.1 request head and RFC 9112 answers 400: no `Host`
/// or more than one (section 3.2), a `Content-Length` that is not one run of digits or appears
/// twice (section 6.3: "+5" is not a length), and whitespace between a field name and its
/// colon (section 5.1), which lws takes for an unknown field, so that a
/// `Content-Length : 5` would leave its body to be parsed as the next request. Checked for
/// every request before lws serves a file, answers a route or upgrades a connection; HTTP/2
/// streams have their own framing and are not checked here.
enum HTTPRequestCheck {
    /// Why the request on `wsi` must be answered 400, or nil when its head is acceptable.
    static func violation(_ wsi: OpaquePointer) -> String? {
        if isHTTP2Stream(wsi) { return nil }
        for name in framingFieldNames where hasWhitespaceBeforeColon(wsi, name) {
            return "whitespace between the field name \(name) and its colon"
        }
        let hosts = fragmentCount(wsi, WSI_TOKEN_HOST)
        if hosts > 1 { return "more than one Host field" }
        if hosts == 0 && headerValue(wsi, WSI_TOKEN_HTTP) != "HTTP/1.0" { return "an HTTP/1.1 request without a Host field" }
        let lengths = fragmentCount(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH)
        if lengths > 1 { return "more than one Content-Length field" }
        if lengths == 1, let length = headerValue(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH), !isDecimal(length) {
            return "Content-Length '\(length.prefix(32))' is not a decimal number"
        }
        return nil
    }

    /// The fields whose misspelling with a space before the colon would change where the
    /// request ends or which host it is for.
    private static let framingFieldNames = ["host", "content-length", "transfer-encoding", "connection", "upgrade"]

    /// How many times a field lws has a token for appeared (lws keeps each as a fragment).
    private static func fragmentCount(_ wsi: OpaquePointer, _ token: lws_token_indexes) -> Int {
        guard lws_hdr_total_length(wsi, token) > 0 else { return 0 }
        var count: Int32 = 0
        while count < 64 && lws_hdr_fragment_length(wsi, token, count) > 0 { count += 1 }
        return Int(max(count, 1))
    }

    /// lws keeps a field it does not know under its whole name up to the colon, lowercased:
    /// "content-length :" for "Content-Length : 5".
    private static func hasWhitespaceBeforeColon(_ wsi: OpaquePointer, _ name: String) -> Bool {
        [" ", "\t"].contains { space in
            let key = name + space + ":"
            return lws_hdr_custom_length(wsi, key, Int32(key.utf8.count)) >= 0
        }
    }

    /// 1*DIGIT, and short enough to be a length at all.
    private static func isDecimal(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 18 && text.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }
}
