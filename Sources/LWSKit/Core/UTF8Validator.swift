/// Validates UTF-8 (RFC 3629) incrementally, chunk by chunk, so a text message can be refused
/// as soon as its bytes cannot be UTF-8 rather than when it is complete (RFC 6455 §8.1: fail
/// fast; Autobahn 6.4). Overlong forms, surrogates and code points above U+10FFFF are invalid.
struct UTF8Validator {
    /// Continuation bytes still expected for the current character.
    private var needed = 0
    /// The range the next continuation byte must fall in (narrower after E0, ED, F0, F4).
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    /// Feeds the next bytes. Returns false once the bytes so far cannot begin valid UTF-8.
    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
        for byte in bytes {
            if needed == 0 {
                if byte < 0x80 { continue }
                switch byte {
                case 0xC2...0xDF: needed = 1
                case 0xE0: (needed, lower) = (2, 0xA0)
                case 0xE1...0xEC, 0xEE...0xEF: needed = 2
                case 0xED: (needed, upper) = (2, 0x9F)
                case 0xF0: (needed, lower) = (3, 0x90)
                case 0xF1...0xF3: needed = 3
                case 0xF4: (needed, upper) = (3, 0x8F)
                default: return false
                }
            } else {
                guard byte >= lower && byte <= upper else { return false }
                (lower, upper) = (0x80, 0xBF)
                needed -= 1
            }
        }
        return true
    }

    /// Whether the bytes so far end on a character boundary.
    var isAtCharacterBoundary: Bool { needed == 0 }
}
