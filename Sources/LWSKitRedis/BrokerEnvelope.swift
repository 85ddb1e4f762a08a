import LWSKit

/// How a message travels through Redis between nodes: one byte for its kind (`t` text, `b`
/// binary), the publishing node's 16-byte id, then the payload as it is. The id lets a node
/// drop its own messages, which Redis sends back to it as to every subscriber (its own
/// subscribers already have them); the kind keeps text text.
struct BrokerEnvelope {
    /// A node's identity in envelopes: random, new for every broker.
    struct NodeID: Hashable {
        static let byteCount = 16
        let bytes: [UInt8]

        /// A new random id.
        static func random() -> NodeID {
            var generator = SystemRandomNumberGenerator()
            return NodeID(bytes: (0..<byteCount).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        }
    }

    private static let textKind = UInt8(ascii: "t")
    private static let binaryKind = UInt8(ascii: "b")
    /// The bytes before the payload.
    static let headerCount = 1 + NodeID.byteCount

    /// The bytes to publish for `message` from `node`.
    static func encode(_ message: Message, from node: NodeID) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headerCount + message.byteCount)
        switch message {
        case .text(let text):
            bytes.append(textKind)
            bytes += node.bytes
            bytes += text.utf8
        case .binary(let payload):
            bytes.append(binaryKind)
            bytes += node.bytes
            bytes += payload
        }
        return bytes
    }

    /// Why bytes from Redis are not a message of ours.
    enum DecodingError: Error, CustomStringConvertible {
        case tooShort(Int)
        case tooLarge(Int, limit: Int)
        case unknownKind(UInt8)
        case invalidUTF8
        case notAString

        var description: String {
            switch self {
            case .tooShort(let count): "\(count) bytes are shorter than an envelope's header"
            case .tooLarge(let count, let limit): "a payload of \(count) bytes is larger than maxMessageBytes (\(limit))"
            case .notAString: "not a string reply"
            case .unknownKind(let kind): "unknown kind byte \(kind)"
            case .invalidUTF8: "a text message that is not valid UTF-8"
            }
        }
    }

    /// The message in `bytes`, or nil when `own` published it (checked before the payload is
    /// copied: a node receives every message it publishes back from Redis).
    /// - Throws: `DecodingError` for bytes that are not an envelope (another program publishing
    ///   on the channel) or whose payload passes `maxPayload`: they must never reach a WebSocket
    ///   peer, text above all.
    static func decode(_ bytes: UnsafeRawBufferPointer, droppingFrom own: NodeID, maxPayload: Int) throws(DecodingError) -> Message? {
        guard bytes.count >= headerCount else { throw .tooShort(bytes.count) }
        guard bytes.count - headerCount <= maxPayload else { throw .tooLarge(bytes.count - headerCount, limit: maxPayload) }
        guard bytes[0] == textKind || bytes[0] == binaryKind else { throw .unknownKind(bytes[0]) }
        if own.bytes.elementsEqual(bytes[1..<headerCount]) { return nil }
        let payload = UnsafeRawBufferPointer(rebasing: bytes[headerCount...])
        guard bytes[0] == textKind else { return .binary(Array(payload)) }
        guard let text = String(validating: payload, as: UTF8.self) else { throw .invalidUTF8 }
        return .text(text)
    }
}
