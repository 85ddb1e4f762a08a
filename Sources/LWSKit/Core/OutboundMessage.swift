import CLibWebSockets
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One message waiting to be written: its payload copied once, behind `LWS_PRE` bytes of
/// headroom, into memory LWSKit owns until the message is written and the next WRITEABLE
/// arrives.
///
/// The copy is made on the sender's thread, so the loop thread only writes. lws writes frame
/// headers into the headroom and masks client payloads in place; a large message is written as
/// a sequence of fragments, each fragment's header going into the tail of the one before it
/// (already on the wire by then).
final class OutboundMessage: @unchecked Sendable {
    /// Whether the message goes out as binary (opcode 2) rather than text (opcode 1).
    let isBinary: Bool
    /// Whether this is a ping control frame (opcode 9, at most 125 bytes, never fragmented).
    let isPing: Bool
    /// The payload size in bytes.
    let count: Int
    /// Payload bytes already handed to `lws_write`.
    var written = 0
    private let storage: UnsafeMutableRawPointer

    /// Copies `message` into a new buffer with lws headroom.
    convenience init(_ message: Message) {
        self.init(message, isPing: false)
    }

    /// Copies a ping payload (at most 125 bytes) into a new buffer with lws headroom.
    convenience init(ping payload: [UInt8]) {
        self.init(.binary(payload), isPing: true)
    }

    private init(_ message: Message, isPing: Bool) {
        self.isPing = isPing
        switch message {
        case .text(var text):
            isBinary = false
            count = text.utf8.count
            storage = text.withUTF8 { Self.copyBehindHeadroom(UnsafeRawBufferPointer($0)) }
        case .binary(let bytes):
            isBinary = true
            count = bytes.count
            storage = bytes.withUnsafeBytes { Self.copyBehindHeadroom($0) }
        }
    }

    /// Bytes kept free in front of the payload for lws' headers: `LWS_PRE` (16) plus 16.
    ///
    /// `LWS_PRE` does not cover a WebSocket over an HTTP/2 stream (RFC 8441, which Chromium uses
    /// on https pages): a frame of 64 KiB or more has a 10-byte WebSocket header and a 9-byte
    /// HTTP/2 frame header in front of it, and lws 4.1.6 wrote 3 bytes before the buffer
    /// ("free(): invalid next size"). Later fragments need nothing: the bytes before them were
    /// already sent.
    static let headroom = lwskit_pre() + 16

    /// A new buffer of `headroom` bytes followed by a copy of `payload`.
    private static func copyBehindHeadroom(_ payload: UnsafeRawBufferPointer) -> UnsafeMutableRawPointer {
        let headroom = Self.headroom
        let buffer = malloc(headroom + max(payload.count, 1))!
        if let base = payload.baseAddress { memcpy(buffer + headroom, base, payload.count) }
        return buffer
    }

    /// The first unwritten payload byte; at least `headroom` writable bytes precede it.
    var nextPayloadByte: UnsafeMutablePointer<UInt8> {
        (storage + Self.headroom + written).assumingMemoryBound(to: UInt8.self)
    }

    /// Payload bytes not yet written.
    var remaining: Int { count - written }

    deinit { free(storage) }
}

/// One entry of a connection's send queue.
enum QueuedOutbound {
    /// A message sent to this connection alone.
    case message(OutboundMessage)
    /// Frames published to a topic, shared with the topic's other subscribers: this range of
    /// them is still to be written.
    case published(PublishedFrames, Range<Int>)

    /// Bytes still to be written: payload for a message, frames for published ones (as
    /// `bufferedAmount` counts them).
    var unwritten: Int {
        switch self {
        case .message(let message): message.remaining
        case .published(_, let range): range.count
        }
    }
}

/// The FIFO of a connection's outbound messages. Messages are written whole, in order, and the
/// fragments of one are never interleaved with another's.
struct SendQueue {
    private var items: [QueuedOutbound] = []
    private var head = 0

    /// The entry being written, if any.
    var first: QueuedOutbound? { head < items.count ? items[head] : nil }

    /// Whether nothing is waiting.
    var isEmpty: Bool { head == items.count }

    /// The entry `offset` places behind the first, if there is one.
    subscript(offset offset: Int) -> QueuedOutbound? {
        head + offset < items.count ? items[head + offset] : nil
    }

    mutating func append(_ entry: QueuedOutbound) {
        items.append(entry)
    }

    /// Replaces the first entry (with what is left of it after a partial write).
    mutating func replaceFirst(with entry: QueuedOutbound) {
        items[head] = entry
    }

    /// Bytes of every queued entry not yet written.
    var unwrittenBytes: Int {
        items[head...].reduce(0) { $0 + $1.unwritten }
    }

    /// Drops the first `count` entries (they were written).
    mutating func removeFirst(_ count: Int = 1) {
        head += count
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 32, head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
    }

    mutating func removeAll() {
        items.removeAll()
        head = 0
    }
}
