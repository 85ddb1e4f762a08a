#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The messages published to one topic during one turn of a loop, framed once, back to back,
/// and shared read-only by every subscriber on that loop.
///
/// Each subscriber's queue holds ranges of these bytes (all of them, or all but the messages it
/// published itself with `includingSelf: false`), written with raw `lws_write`s straight from
/// here: nothing is copied per subscriber while its socket takes what it is given. lws copies
/// only what a socket did not take (at most one write, `writeLimit`, per subscriber). A write
/// always ends on a frame boundary: between two writes lws may send a control frame of its own
/// (a pong), and it must not land inside a frame. Messages are framed in fragments of at most
/// `fragmentSize` bytes, so that a large message too can be written in bounded pieces.
final class PublishedFrames: @unchecked Sendable {
    /// Where one message's frames end in `bytes`, the message, and the connection (if any)
    /// that must not receive it.
    struct Entry {
        let end: Int
        /// The message, for subscribers that frame it themselves; nil where none can exist.
        let message: Message?
        let excluded: ObjectIdentifier?
    }

    /// The largest payload of one frame: a message larger than this is sent in fragments.
    static let fragmentSize = 16 << 10
    /// The most bytes one write hands to lws (unless a single frame is larger, which
    /// `fragmentSize` rules out): what lws may have to copy for a subscriber whose socket is full.
    static let writeLimit = 64 << 10

    /// The frames, back to back.
    let bytes: UnsafeRawBufferPointer
    /// The messages in publish order.
    let entries: [Entry]
    /// Where each frame ends, ascending: writes are cut only there.
    private let frameEnds: [Int]
    /// Whether some message excludes a connection (otherwise every subscriber takes all).
    let hasExclusions: Bool

    fileprivate init(bytes: UnsafeRawBufferPointer, entries: [Entry], frameEnds: [Int]) {
        self.bytes = bytes
        self.entries = entries
        self.frameEnds = frameEnds
        self.hasExclusions = entries.contains { $0.excluded != nil }
    }

    deinit { free(UnsafeMutableRawPointer(mutating: bytes.baseAddress)) }

    /// Calls `body` with each range of `bytes` that `subscriber` receives, in order, and
    /// returns how many bytes and messages they hold. (No array per subscriber: this runs for
    /// every subscriber of every burst.)
    @discardableResult
    func forEachRange(for subscriber: ObjectIdentifier, _ body: (Range<Int>) -> Void) -> (bytes: Int, messages: Int) {
        guard hasExclusions else {
            body(0..<bytes.count)
            return (bytes.count, entries.count)
        }
        var total = 0, messages = 0
        var run: Range<Int>?
        var start = 0
        for entry in entries {
            defer { start = entry.end }
            guard entry.excluded != subscriber else { continue }
            messages += 1
            if let current = run, current.upperBound == start {
                run = current.lowerBound..<entry.end
            } else {
                if let current = run { body(current); total += current.count }
                run = start..<entry.end
            }
        }
        if let current = run { body(current); total += current.count }
        return (total, messages)
    }

    /// How many of the messages `subscriber` receives.
    func messageCount(for subscriber: ObjectIdentifier) -> Int {
        hasExclusions ? entries.count { $0.excluded != subscriber } : entries.count
    }

    /// The messages `subscriber` receives, for a connection that cannot take these frames
    /// (permessage-deflate, an HTTP/2 stream): it frames a copy of each itself.
    func messages(for subscriber: ObjectIdentifier) -> [Message] {
        entries.lazy.filter { $0.excluded != subscriber }.compactMap(\.message)
    }

    /// How much of `range` (which starts and ends on frame boundaries) to write at once: whole
    /// frames, at most `writeLimit` bytes (every frame is smaller than that).
    func nextWrite(in range: Range<Int>) -> Int {
        let cap = min(range.lowerBound + Self.writeLimit, range.upperBound)
        // The last frame end at or before `cap`.
        var low = 0, high = frameEnds.count
        while low < high {
            let middle = (low + high) / 2
            if frameEnds[middle] <= cap { low = middle + 1 } else { high = middle }
        }
        return frameEnds[low - 1] - range.lowerBound
    }

    /// Collects the messages of one turn, framing each as it comes. Loop thread only.
    struct Builder {
        /// Whether the entries keep their messages (see `Entry.message`).
        let keepsMessages: Bool
        private var storage: UnsafeMutableRawPointer? = nil
        private var capacity = 0
        private var count = 0
        private var entries: [Entry] = []
        private var frameEnds: [Int] = []

        init(keepsMessages: Bool) {
            self.keepsMessages = keepsMessages
        }

        var isEmpty: Bool { entries.isEmpty }

        /// Frames `message` (fragments of at most `fragmentSize`) at the end.
        mutating func append(_ message: Message, excluding excluded: ObjectIdentifier?) {
            switch message {
            case .text(var text):
                text.withUTF8 { appendFrames(of: UnsafeRawBufferPointer($0), opcode: 0x1) }
            case .binary(let payload):
                payload.withUnsafeBytes { appendFrames(of: $0, opcode: 0x2) }
            }
            entries.append(Entry(end: count, message: keepsMessages ? message : nil, excluded: excluded))
        }

        private mutating func appendFrames(of payload: UnsafeRawBufferPointer, opcode: UInt8) {
            var offset = 0
            repeat {
                let length = min(payload.count - offset, PublishedFrames.fragmentSize)
                let isFinal = offset + length == payload.count
                let header = length < 126 ? 2 : 4
                reserve(header + length)
                let frame = (storage! + count).assumingMemoryBound(to: UInt8.self)
                frame[0] = (isFinal ? 0x80 : 0) | (offset == 0 ? opcode : 0)
                if header == 2 {
                    frame[1] = UInt8(length)
                } else {
                    frame[1] = 126
                    frame[2] = UInt8(length >> 8)
                    frame[3] = UInt8(length & 0xFF)
                }
                if length > 0 { memcpy(frame + header, payload.baseAddress! + offset, length) }
                count += header + length
                frameEnds.append(count)
                offset += length
            } while offset < payload.count
        }

        private mutating func reserve(_ more: Int) {
            guard count + more > capacity else { return }
            capacity = max(count + more, capacity * 2, 4096)
            storage = realloc(storage, capacity)!
        }

        /// The frames collected, shared from now on; the builder is empty again.
        mutating func finish() -> PublishedFrames {
            // Shared until the slowest subscriber is done with it: not twice the size it needs.
            if capacity > count + count / 4 { storage = realloc(storage, count)! }
            let frames = PublishedFrames(
                bytes: UnsafeRawBufferPointer(start: storage, count: count), entries: entries, frameEnds: frameEnds
            )
            self = Builder(keepsMessages: keepsMessages)
            return frames
        }
    }
}
