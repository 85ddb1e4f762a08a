import CLibWebSockets

/// The lws calls an HTTP server response and an HTTP client request both make: adding a header
/// by name to lws' header builder, and writing one body chunk.
extension ServiceLoop {
    /// Adds `name: value` at `cursor`, lws' header-building position. Returns false when lws
    /// refused it (it does not fit before `end`).
    static func addHTTPHeader(
        _ wsi: OpaquePointer, name: String, value: String,
        cursor: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, end: UnsafeMutablePointer<UInt8>
    ) -> Bool {
        // lws wants "name:" NUL-terminated, lower case for HTTP/2; the value goes by length.
        let key = Array((name.lowercased() + ":").utf8) + [0]
        let bytes = Array(value.utf8)
        return lws_add_http_header_by_name(wsi, key, bytes, Int32(bytes.count), cursor, end) == 0
    }

    /// Writes `bytes[offset ..< offset + length]` as one HTTP body chunk, the last one when
    /// `isFinal`, from the loop's chunk buffer (lws needs `LWS_PRE` bytes of headroom, which a
    /// Swift array does not have). Returns false when lws could not write it.
    func writeHTTPChunk(_ wsi: OpaquePointer, of bytes: [UInt8], from offset: Int, length: Int, isFinal: Bool) -> Bool {
        let payload = httpChunkBuffer.baseAddress! + Int(lwskit_pre())
        if length > 0 {
            bytes.withUnsafeBytes { payload.copyMemory(from: $0.baseAddress! + offset, byteCount: length) }
        }
        return lws_write(wsi, payload.assumingMemoryBound(to: UInt8.self), length, lwskit_write_http(isFinal ? 1 : 0)) >= length
    }

    /// Writes all of `body` as the final HTTP/1.1 body chunk, in one `lws_write`: lws sends
    /// what the socket takes and keeps the rest, copied, until the peer reads it. Returns false
    /// when lws could not write it.
    func writeWholeHTTPBody(_ wsi: OpaquePointer, _ body: [UInt8]) -> Bool {
        guard body.count > HTTPServerExchange.chunkSize else {
            return writeHTTPChunk(wsi, of: body, from: 0, length: body.count, isFinal: true)
        }
        return Self.write(wsi, body, as: lwskit_write_http(1))
    }

    /// Writes `bytes` to an HTTP/1.1 connection as they are: a status line and headers LWSKit
    /// composed itself, where lws' header builder has no place (an interim `100 Continue`, an
    /// answer to an upgrade request). Returns false when the write failed.
    static func writeRawHTTP(_ wsi: OpaquePointer, _ bytes: [UInt8]) -> Bool {
        write(wsi, bytes, as: lwskit_write_raw())
    }

    /// Copies `bytes` behind `LWS_PRE` bytes of headroom (which a Swift array does not have)
    /// and writes them with one `lws_write`. Returns false when lws took less than all of them.
    private static func write(_ wsi: OpaquePointer, _ bytes: [UInt8], as mode: lws_write_protocol) -> Bool {
        let pre = Int(lwskit_pre())
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: pre + bytes.count, alignment: 16)
        defer { buffer.deallocate() }
        bytes.withUnsafeBytes { (buffer.baseAddress! + pre).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        return lws_write(wsi, (buffer.baseAddress! + pre).assumingMemoryBound(to: UInt8.self), bytes.count, mode) >= bytes.count
    }

    /// `response` as HTTP/1.1 bytes, status line to last byte: its valid headers (without
    /// framing ones), `content-type` for a body that has none, `content-length`, and
    /// `connection: close` when `closing`. A status outside 100...999 becomes 500.
    static func rawHTTPResponse(_ response: HTTPResponse, closing: Bool) -> [UInt8] {
        let status = (100...999).contains(response.status) ? response.status : 500
        var head = "HTTP/1.1 \(status) \(reasonPhrase(status))\r\n"
        for field in response.headers where HTTPHeaders.isValid(name: field.name, value: field.value) {
            let name = field.name.lowercased()
            guard name != "content-length", name != "connection", name != "transfer-encoding" else { continue }
            head += "\(field.name): \(field.value)\r\n"
        }
        if !response.body.isEmpty, response.headers["content-type"] == nil {
            head += "content-type: application/octet-stream\r\n"
        }
        head += "content-length: \(response.body.count)\r\n"
        if closing { head += "connection: close\r\n" }
        return Array((head + "\r\n").utf8) + response.body
    }

    /// The reason phrase of the statuses an application is likely to answer a handshake
    /// with; empty for others (HTTP/1.1 allows an empty one: clients go by the code).
    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 410: "Gone"
        case 426: "Upgrade Required"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: ""
        }
    }
}
