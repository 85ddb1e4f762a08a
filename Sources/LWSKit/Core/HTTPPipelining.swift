import CLibWebSockets

/// HTTP/1.1 pipelining (requests sent before the previous answer arrived) against two defects
/// of lws 4.1.6's server. Loop thread only.
///
/// 1. A request whose headers lws parses from bytes it had already read (they came in one read
///    with the request before) and that has a body: `lws_http_action` reads that body from the
///    start of the buffered bytes, which are the request's own head. It then consumes the same
///    bytes twice and, once the transaction is over, loops for good over bytes it no longer
///    consumes. LWSKit recognises the request's own head in its first body chunk
///    (`isOwnHeadFedAsBody`), answers 503 with `retry-after: 0` and closes the connection, so
///    that nothing after it is parsed from misaligned bytes (which could also smuggle a request
///    past a proxy that framed the body correctly).
/// 2. While lws still holds output of an answered request that had a body (the peer is not
///    reading) and bytes of a pipelined request wait behind that body, lws calls
///    `HTTP_BODY_COMPLETION` again at every service turn without consuming anything, and does
///    not wait in poll (`holdPipelinedRequests`).
extension ServiceLoop {
    /// Whether the first body chunk of `request` on `wsi` is the request's own head: the
    /// defect 1 above. Only a request after the first on its connection can be parsed from
    /// buffered bytes. A body that really starts with a prefix of its own request line (such as
    /// "P" for a POST) is taken for the defect too: the peer gets the 503 and can resend it.
    func isOwnHeadFedAsBody(_ wsi: OpaquePointer, _ request: HTTPRequest, _ input: UnsafeMutableRawPointer?, _ length: Int) -> Bool {
        guard keptAlive.contains(wsi), let input, length > 0 else { return false }
        let chunk = UnsafeRawBufferPointer(start: input, count: length)
        let lineStart = Array("\(request.method) /".utf8)
        let compared = min(lineStart.count, chunk.count)
        guard chunk.prefix(compared).elementsEqual(lineStart.prefix(compared)) else { return false }
        // With the whole request line at hand, it must also end like one.
        guard let lineEnd = chunk.firstIndex(of: UInt8(ascii: "\n")) else { return true }
        let versions = [" HTTP/1.1\r", " HTTP/1.0\r"].map { Array($0.utf8) }
        return versions.contains { chunk[..<lineEnd].suffix($0.count).elementsEqual($0) }
    }

    /// The defect 2 above: a completion with no request behind it. Reading pauses for
    /// `pipelineHoldInterval`, then lws gets another turn: it sends on if the peer reads, or
    /// calls here again. Once the output is out, the transaction ends and the pipelined request
    /// is parsed. Pausing reads also pauses lws' HTTP/1.1 writes, hence a short pause and not
    /// one until the output is out.
    func holdPipelinedRequests(_ wsi: OpaquePointer) {
        guard heldPipelines.insert(wsi).inserted else { return }
        lws_rx_flow_control(wsi, 0)
        logger.trace("HTTP/1.1 pipelined request waits for the previous response to be sent")
        let address = UInt(bitPattern: wsi)  // an OpaquePointer is not Sendable
        post(after: Self.pipelineHoldInterval) { [self] in
            // Forgotten when lws destroyed the wsi: then there is nothing to resume.
            guard let wsi = OpaquePointer(bitPattern: address), heldPipelines.remove(wsi) != nil else { return }
            lws_rx_flow_control(wsi, 1)
        }
    }

    /// How long a connection holding a pipelined request stops reading at a time.
    static let pipelineHoldInterval = Duration.milliseconds(5)

    /// Forgets what was noted about the HTTP/1.1 connection `wsi`, which lws closed.
    func forgetPipelineState(_ wsi: OpaquePointer) {
        heldPipelines.remove(wsi)
        keptAlive.remove(wsi)
    }
}
