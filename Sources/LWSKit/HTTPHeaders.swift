/// HTTP header fields in order, with case-insensitive lookup by name.
public struct HTTPHeaders: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    /// One header field.
    public struct Field: Sendable, Hashable {
        /// The name as received or given, e.g. "content-type".
        public var name: String
        /// The value, without surrounding whitespace.
        public var value: String
    }

    /// The fields in order.
    public private(set) var fields: [Field]

    /// Creates headers from name/value pairs, in order.
    public init(_ pairs: [(String, String)] = []) {
        fields = pairs.map { Field(name: $0.0, value: $0.1) }
    }

    /// Creates headers from a literal such as `["content-type": "text/plain"]`.
    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// The value of the first field named `name` (any case), or nil.
    public subscript(name: String) -> String? {
        fields.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Appends a field (a name may appear more than once).
    public mutating func add(name: String, value: String) {
        fields.append(Field(name: name, value: value))
    }

    /// Replaces every field named `name` (any case) with one field, or removes them for nil.
    public mutating func set(name: String, value: String?) {
        fields.removeAll { $0.name.lowercased() == name.lowercased() }
        if let value { add(name: name, value: value) }
    }

    /// Iterates the fields in order.
    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }

    /// Whether a field name and value can be written on the wire: a token, and no CR/LF/NUL.
    static func isValid(name: String, value: String) -> Bool {
        let tokenBytes = name.utf8
        guard !tokenBytes.isEmpty, tokenBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }) else {
            return false
        }
        return !value.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0 }
    }
}
