/// A whole WebSocket message: the payload of one data frame or of a fragmented sequence of frames.
public enum Message: Sendable, Hashable {
    /// A text message (opcode 0x1); its payload is valid UTF-8.
    case text(String)
    /// A binary message (opcode 0x2).
    case binary([UInt8])

    /// The payload size in bytes, as it goes on the wire before any compression.
    public var byteCount: Int {
        switch self {
        case .text(let string): return string.utf8.count
        case .binary(let bytes): return bytes.count
        }
    }

    /// Whether the message is binary.
    public var isBinary: Bool {
        if case .binary = self { return true }
        return false
    }
}

extension Message: CustomStringConvertible {
    /// A short description for logs: the text itself when short, otherwise the kind and size.
    public var description: String {
        switch self {
        case .text(let string) where string.utf8.count <= 64:
            return "text \"\(string)\""
        case .text(let string):
            return "text (\(string.utf8.count) bytes)"
        case .binary(let bytes):
            return "binary (\(bytes.count) bytes)"
        }
    }
}
