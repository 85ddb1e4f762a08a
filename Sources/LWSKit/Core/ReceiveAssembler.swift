/// Turns the chunks of RECEIVE callbacks into whole messages.
///
/// lws delivers a message as one or more chunks of at most its receive buffer size, across
/// continuation frames; the pointer it passes is only valid during the callback, so every chunk
/// is copied here. A message that would exceed `maxMessageSize` is refused as soon as its
/// announced frame length shows it, before its bytes are buffered; a text message is refused
/// at the first chunk that cannot be UTF-8.
struct ReceiveAssembler {
    /// What one chunk completed.
    enum Outcome: Equatable {
        /// More chunks of the message are to come.
        case partial
        /// The chunk completed this message.
        case complete(Message)
        /// The message would be at least this many bytes, more than the maximum.
        case tooBig(Int)
        /// A text message was not valid UTF-8.
        case invalidUTF8
    }

    /// The largest message accepted, in bytes.
    let maxMessageSize: Int
    private var buffer: [UInt8] = []
    private var isBinary = false
    private var utf8 = UTF8Validator()
    /// The current message was refused: its remaining chunks are dropped until the next
    /// message starts (nothing of a refused message may come out as a message of its own).
    private var isDiscarding = false

    init(maxMessageSize: Int) {
        self.maxMessageSize = maxMessageSize
    }

    /// Adds one chunk.
    /// - Parameters:
    ///   - chunk: The bytes lws passed (copied before returning).
    ///   - isFirst: lws' `lws_is_first_fragment`: the chunk starts a message.
    ///   - isFinal: lws' `lws_is_final_fragment`: the chunk ends the message.
    ///   - isBinary: lws' `lws_frame_is_binary` for the message's first frame.
    ///   - remainingInFrame: lws' `lws_remaining_packet_payload`: bytes of this frame still to come.
    mutating func append(
        _ chunk: UnsafeRawBufferPointer, isFirst: Bool, isFinal: Bool, isBinary: Bool, remainingInFrame: Int
    ) -> Outcome {
        if isFirst {
            buffer = []
            self.isBinary = isBinary
            utf8 = UTF8Validator()
            isDiscarding = false
        }
        guard !isDiscarding else { return .partial }
        if let oversize = oversizeAnnounced(remainingInFrame: remainingInFrame, delivering: chunk.count) {
            refuse()
            return .tooBig(oversize)
        }
        let announced = buffer.count + chunk.count + remainingInFrame
        if !self.isBinary {
            guard utf8.feed(chunk), !isFinal || utf8.isAtCharacterBoundary else {
                refuse()
                return .invalidUTF8
            }
        }
        if isFirst && isFinal {
            return .complete(message(from: chunk))
        }
        if isFirst { buffer.reserveCapacity(announced) }
        buffer.append(contentsOf: chunk)
        guard isFinal else { return .partial }
        var bytes: [UInt8] = []
        swap(&bytes, &buffer)
        // The assembled bytes become the message itself: binary takes the array as it is.
        return .complete(self.isBinary ? .binary(bytes) : .text(String(decoding: bytes, as: UTF8.self)))
    }

    /// The size the current message would reach with `remainingInFrame` more bytes, when that
    /// is over the maximum (`Int.max` if it does not even fit an `Int`: a hostile peer can
    /// announce 2^63 - 1 bytes after earlier fragments); nil while within the limit. Also
    /// asked between callbacks, for a frame whose header came without payload (lws then
    /// reports nothing: see `ServiceLoop.checkAnnouncedFrames`).
    /// - Parameters:
    ///   - remainingInFrame: lws' `lws_remaining_packet_payload`.
    ///   - chunkCount: The bytes being delivered with it (within RECEIVE).
    func oversizeAnnounced(remainingInFrame: Int, delivering chunkCount: Int = 0) -> Int? {
        let (withChunk, overflowed) = buffer.count.addingReportingOverflow(chunkCount)
        let (announced, overflowedAgain) = withChunk.addingReportingOverflow(remainingInFrame)
        if overflowed || overflowedAgain { return Int.max }
        return announced > maxMessageSize ? announced : nil
    }

    /// Drops the current message and whatever more of it arrives.
    private mutating func refuse() {
        buffer = []
        isDiscarding = true
    }

    /// The message made of `bytes`, already validated if it is text.
    private func message(from bytes: UnsafeRawBufferPointer) -> Message {
        isBinary ? .binary(Array(bytes)) : .text(String(decoding: bytes, as: UTF8.self))
    }
}
