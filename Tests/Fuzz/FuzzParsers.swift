// libFuzzer entry point for LWSKit's own parsing code: URLs (ws, wss, http, https), the
// incremental UTF-8 validator and the receive assembler that turns lws' chunks into messages.
// scripts/fuzz.sh compiles it with those source files and -sanitize=fuzzer,address; every
// property below that does not hold stops the run with the input that broke it.
//
// The first input byte chooses the target; the rest is its input.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = UnsafeBufferPointer(start: data, count: size)
    guard let selector = input.first else { return 0 }
    let rest = UnsafeBufferPointer(rebasing: input.dropFirst())
    switch selector % 3 {
    case 0: fuzzURLs(rest)
    case 1: fuzzUTF8Validator(rest)
    default: fuzzReceiveAssembler(rest)
    }
    return 0
}

/// A URL that parses has a port in range, a non-empty host, a path starting with "/", and
/// parses again from its canonical form to the same URL.
func fuzzURLs(_ bytes: UnsafeBufferPointer<UInt8>) {
    let text = String(decoding: bytes, as: UTF8.self)
    for candidate in [text, "ws://" + text, "https://" + text] {
        if let url = try? WebSocketURL(candidate) {
            check((1...65535).contains(url.port) && !url.host.isEmpty && url.path.hasPrefix("/"), "WebSocketURL \(candidate)")
            check((try? WebSocketURL(url.description)) == url, "WebSocketURL round trip of \(candidate) via \(url)")
        }
        if let url = try? HTTPURL(candidate) {
            check((1...65535).contains(url.port) && !url.host.isEmpty && url.path.hasPrefix("/"), "HTTPURL \(candidate)")
            check((try? HTTPURL(url.description)) == url, "HTTPURL round trip of \(candidate) via \(url)")
        }
    }
}

/// Fed in arbitrary pieces, the validator agrees with the standard library on every input:
/// refuses it exactly when it is not UTF-8 (allowing for a character cut off at the end).
func fuzzUTF8Validator(_ bytes: UnsafeBufferPointer<UInt8>) {
    guard let cut = bytes.first else { return }
    let text = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes.dropFirst()))
    let split = text.isEmpty ? 0 : Int(cut) % (text.count + 1)
    var validator = UTF8Validator()
    let accepted = validator.feed(UnsafeRawBufferPointer(rebasing: text[..<split]))
        && validator.feed(UnsafeRawBufferPointer(rebasing: text[split...]))
        && validator.isAtCharacterBoundary
    let valid = String(validating: text, as: UTF8.self) != nil
    check(accepted == valid, "UTF8Validator says \(accepted), the standard library \(valid), for \(Array(text))")
}

/// Chunks described by the input (a flags byte, a length byte, then that many bytes) go into
/// an assembler with a 1 KiB limit: every message it completes is within the limit, text is
/// valid UTF-8, its bytes are exactly those of the chunks since the message's first one (or
/// since the last message), and nothing of a refused message comes out.
func fuzzReceiveAssembler(_ bytes: UnsafeBufferPointer<UInt8>) {
    var assembler = ReceiveAssembler(maxMessageSize: 1024)
    var expected: [UInt8] = []
    var refused = false
    var index = 0
    while index + 2 <= bytes.count {
        let flags = bytes[index], length = Int(bytes[index + 1])
        index += 2
        let chunk = UnsafeBufferPointer(rebasing: bytes[index..<min(index + length, bytes.count)])
        index += chunk.count
        let isFirst = flags & 1 != 0, isFinal = flags & 2 != 0, isBinary = flags & 4 != 0
        let remaining = isFinal ? 0 : Int(flags >> 3) * 64
        if isFirst { (expected, refused) = ([], false) }
        expected += chunk
        switch assembler.append(UnsafeRawBufferPointer(chunk), isFirst: isFirst, isFinal: isFinal, isBinary: isBinary,
                                remainingInFrame: remaining) {
        case .complete(let message):
            check(!refused, "a message completed from the rest of a refused one")
            check(message.byteCount <= 1024, "a \(message.byteCount)-byte message passed the 1 KiB limit")
            switch message {
            case .text(let text): check(Array(text.utf8) == expected, "text message differs from its chunks")
            case .binary(let payload): check(payload == expected, "binary message differs from its chunks")
            }
            expected = []
        case .tooBig(let size):
            check(!refused, "refused the rest of an already refused message again")
            check(size > 1024, "refused \(size) bytes as too big under a 1 KiB limit")
            (expected, refused) = ([], true)
        case .invalidUTF8:
            check(!refused, "refused the rest of an already refused message again")
            (expected, refused) = ([], true)
        case .partial:
            break
        }
    }
}

/// Stops the run (libFuzzer reports a crash with the input) when `condition` is false.
func check(_ condition: Bool, _ what: @autoclosure () -> String) {
    if !condition { fatalError("property violated: \(what())") }
}
