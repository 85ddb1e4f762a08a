import Testing
@testable import LWSKit

@Suite("ReceiveAssembler")
struct ReceiveAssemblerTests {
    private func feed(
        _ assembler: inout ReceiveAssembler, _ bytes: [UInt8],
        first: Bool, final: Bool, binary: Bool, remaining: Int = 0
    ) -> ReceiveAssembler.Outcome {
        bytes.withUnsafeBytes {
            assembler.append($0, isFirst: first, isFinal: final, isBinary: binary, remainingInFrame: remaining)
        }
    }

    @Test func deliversASingleChunkMessage() {
        var assembler = ReceiveAssembler(maxMessageSize: 100)
        #expect(feed(&assembler, Array("hi".utf8), first: true, final: true, binary: false) == .complete(.text("hi")))
        #expect(feed(&assembler, [1, 2], first: true, final: true, binary: true) == .complete(.binary([1, 2])))
        #expect(feed(&assembler, [], first: true, final: true, binary: false) == .complete(.text("")))
    }

    @Test func joinsChunksAndKeepsTheFirstFramesType() {
        var assembler = ReceiveAssembler(maxMessageSize: 100)
        // "é" is 0xC3 0xA9: split across chunks, valid once joined.
        #expect(feed(&assembler, [0x61, 0xC3], first: true, final: false, binary: false, remaining: 1) == .partial)
        #expect(feed(&assembler, [0xA9], first: false, final: false, binary: false) == .partial)
        #expect(feed(&assembler, [0x62], first: false, final: true, binary: true) == .complete(.text("aéb")))
    }

    @Test func refusesAMessageWhoseAnnouncedLengthExceedsTheLimit() {
        var assembler = ReceiveAssembler(maxMessageSize: 10)
        #expect(feed(&assembler, [1, 2, 3], first: true, final: false, binary: true, remaining: 1000) == .tooBig(1003))
        #expect(feed(&assembler, Array(repeating: 0, count: 10), first: true, final: true, binary: true) == .complete(.binary(Array(repeating: 0, count: 10))))
        #expect(feed(&assembler, Array(repeating: 0, count: 6), first: true, final: false, binary: true) == .partial)
        #expect(feed(&assembler, Array(repeating: 0, count: 5), first: false, final: true, binary: true) == .tooBig(11))
    }

    /// A continuation announcing 2^63 - 1 bytes after a fragment: the announced size does not
    /// fit an `Int`, and adding it up trapped (a one-frame crash of the server).
    @Test func anAnnouncedSizePastIntMaxIsRefusedNotATrap() {
        var assembler = ReceiveAssembler(maxMessageSize: 100)
        #expect(feed(&assembler, [1, 2], first: true, final: false, binary: true) == .partial)
        #expect(feed(&assembler, [3], first: false, final: false, binary: true, remaining: Int.max - 1) == .tooBig(Int.max))
    }

    /// Between callbacks: a header whose announced length is over the limit, no payload yet.
    @Test func aFrameHeaderAnnouncingTooMuchIsSeenBeforeItsPayload() {
        var assembler = ReceiveAssembler(maxMessageSize: 100)
        #expect(assembler.oversizeAnnounced(remainingInFrame: 0) == nil)
        #expect(assembler.oversizeAnnounced(remainingInFrame: 100) == nil, "exactly the limit is allowed")
        #expect(assembler.oversizeAnnounced(remainingInFrame: 101) == 101)
        #expect(feed(&assembler, [UInt8](repeating: 0, count: 60), first: true, final: false, binary: true) == .partial)
        #expect(assembler.oversizeAnnounced(remainingInFrame: 40) == nil)
        #expect(assembler.oversizeAnnounced(remainingInFrame: 41) == 101, "earlier fragments count")
        #expect(assembler.oversizeAnnounced(remainingInFrame: Int.max) == Int.max)
    }

    @Test func rejectsInvalidUTF8InText() {
        var assembler = ReceiveAssembler(maxMessageSize: 100)
        #expect(feed(&assembler, [0x61, 0xC3], first: true, final: true, binary: false) == .invalidUTF8)
        #expect(feed(&assembler, [0xFF], first: true, final: true, binary: true) == .complete(.binary([0xFF])))
    }

    @Test func refusesInvalidUTF8AtTheFirstBadChunkNotAtTheEnd() {
        var assembler = ReceiveAssembler(maxMessageSize: 100)
        // κόσμε then U+110000 (F4 90 80 80): invalid from its second byte on.
        #expect(feed(&assembler, [0xCE, 0xBA, 0xE1, 0xBD, 0xB9], first: true, final: false, binary: false, remaining: 9) == .partial)
        #expect(feed(&assembler, [0xF4, 0x90], first: false, final: false, binary: false, remaining: 7) == .invalidUTF8)
        // A surrogate (ED A0 80) and an overlong (C0 80) are refused as they arrive too.
        #expect(feed(&assembler, [0x61, 0xED, 0xA0], first: true, final: false, binary: false, remaining: 5) == .invalidUTF8)
        #expect(feed(&assembler, [0xC0], first: true, final: false, binary: false, remaining: 5) == .invalidUTF8)
        // A character cut by the end of the message is refused at the end.
        #expect(feed(&assembler, [0xE2, 0x82], first: true, final: false, binary: false, remaining: 0) == .partial)
        #expect(feed(&assembler, [], first: false, final: true, binary: false) == .invalidUTF8)
        #expect(feed(&assembler, Array("✓ ok".utf8), first: true, final: true, binary: false) == .complete(.text("✓ ok")))
    }

    /// Found by scripts/fuzz.sh: the rest of a refused text message, ending on a character
    /// boundary the stale validator accepted, came out as a "text" message that was not UTF-8.
    @Test func nothingOfARefusedMessageComesOutUntilTheNextOneStarts() {
        var assembler = ReceiveAssembler(maxMessageSize: 100)
        #expect(feed(&assembler, [0x46, 0xC3, 0x01], first: true, final: false, binary: false) == .invalidUTF8)
        #expect(feed(&assembler, [0x82, 0x09], first: false, final: true, binary: false) == .partial)
        #expect(feed(&assembler, [UInt8](repeating: 1, count: 60), first: true, final: false, binary: true, remaining: 60) == .tooBig(120))
        #expect(feed(&assembler, [7], first: false, final: true, binary: true) == .partial)
        #expect(feed(&assembler, Array("next".utf8), first: true, final: true, binary: false) == .complete(.text("next")))
    }
}
