import CLibWebSockets
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Whole server frames built by LWSKit, back to back, so that many small messages go to the
/// socket in one `lws_write` (one `send`) instead of one each.
///
/// lws writes one frame per `lws_write` and costs a system call per message: with many small
/// messages queued, that is most of a server's time. A server frame (unmasked, no extension) is
/// a 2- or 4-byte header and the payload, simple enough to build here; the batch then goes out
/// with `LWS_WRITE_RAW`, which lws passes to the socket (or TLS) as it is, keeping what the
/// socket does not take to send first next time. One batch per loop, reused: lws is done with
/// the bytes when `lws_write` returns (it copies a remainder it could not send).
final class FrameBatch {
    /// The largest payload a message may have to join a batch; larger ones are written by lws
    /// from the message's own buffer, where a copy would cost more than the call it saves.
    static let payloadLimit = 8 << 10

    /// Bytes of frames the batch holds at most: lws writes at most its receive buffer size
    /// (plus `LWS_PRE` and 4) per call, keeping the rest aside as a copy.
    let capacity: Int
    private let storage: UnsafeMutableRawPointer
    private let headroom = Int(lwskit_pre())
    /// Bytes of frames built so far.
    private(set) var count = 0

    /// A batch for frames of at most `capacity` bytes in all.
    init(capacity: Int) {
        self.capacity = capacity
        storage = malloc(headroom + capacity)!
    }

    deinit { free(storage) }

    /// Appends `message` as one whole unmasked frame, if it is a data message, not started,
    /// small enough, and fits.
    /// - Returns: false (appending nothing) when it does not.
    func append(_ message: OutboundMessage) -> Bool {
        guard message.written == 0, !message.isPing, message.count <= Self.payloadLimit else { return false }
        let headerLength = message.count < 126 ? 2 : 4
        guard count + headerLength + message.count <= capacity else { return false }
        let frame = (storage + headroom + count).assumingMemoryBound(to: UInt8.self)
        frame[0] = 0x80 | (message.isBinary ? 0x2 : 0x1)
        if headerLength == 2 {
            frame[1] = UInt8(message.count)
        } else {
            frame[1] = 126
            frame[2] = UInt8(message.count >> 8)
            frame[3] = UInt8(message.count & 0xFF)
        }
        memcpy(frame + headerLength, message.nextPayloadByte, message.count)
        count += headerLength + message.count
        return true
    }

    /// Hands the frames to lws in one raw write and empties the batch.
    /// - Returns: false when lws refused the write (the connection is failing).
    func write(to wsi: OpaquePointer) -> Bool {
        defer { count = 0 }
        let frames = (storage + headroom).assumingMemoryBound(to: UInt8.self)
        return lws_write(wsi, frames, count, lwskit_write_raw()) >= 0
    }
}
