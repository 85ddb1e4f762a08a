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
    private static let headerCount = 1 + NodeID.byteCount

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
        case unknownKind(UInt8)
        case invalidUTF8

        var description: String {
            switch self {
            case .tooShort(let count): "\(count) bytes are shorter than an envelope's header"
            case .unknownKind(let kind): "unknown kind byte \(kind)"
            case .invalidUTF8: "a text message that is not valid UTF-8"
            }
        }
    }

    /// The publishing node and the message in `bytes`.
    /// - Throws: `DecodingError` for bytes that are not an envelope (another program publishing
    ///   on the channel): they must never reach a WebSocket peer, text above all.
    static func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodingError) -> (node: NodeID, message: Message) {
        guard bytes.count >= headerCount else { throw .tooShort(bytes.count) }
        let node = NodeID(bytes: Array(bytes[1..<headerCount]))
        let payload = UnsafeRawBufferPointer(rebasing: bytes[headerCount...])
        switch bytes[0] {
        case textKind:
            guard let text = String(validating: payload, as: UTF8.self) else { throw .invalidUTF8 }
            return (node, .text(text))
        case binaryKind:
            return (node, .binary(Array(payload)))
        case let kind:
            throw .unknownKind(kind)
        }
    }
}
