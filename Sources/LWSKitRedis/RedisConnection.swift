import CHiredis
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One connection to Redis through hiredis: connected and checked (`AUTH`, `PING`) with
/// blocking calls bounded by a timeout, then non-blocking, driven by its owner's `poll(2)`.
/// One thread only (the broker's).
final class RedisConnection {
    /// Why a connection failed, as hiredis or Redis said it.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private let context: UnsafeMutablePointer<redisContext>
    /// Commands appended whose replies have not arrived.
    private(set) var awaitedReplies = 0
    /// Bytes appended since the output buffer was last empty (an upper bound of what waits).
    private(set) var unsentBytes = 0
    /// When the connection last made progress: a reply or push read, or (while nothing was
    /// awaited) a command appended, from which its reply is awaited.
    private(set) var lastProgress = ContinuousClock.now

    /// Connects to `endpoint`, authenticates if it has a password and checks that Redis
    /// answers a `PING`, each step within `timeout`; then switches to non-blocking I/O.
    /// - Throws: `Failure` with hiredis' or Redis' words ("Connection refused").
    init(to endpoint: RedisEndpoint, timeout: Duration) throws(Failure) {
        let milliseconds = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let limit = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        guard let context = redisConnectWithTimeout(endpoint.host, Int32(endpoint.port), limit) else {
            throw Failure(description: "cannot allocate a hiredis context")
        }
        self.context = context
        guard context.pointee.err == 0 else { throw Failure(description: String(cString: lwskit_redis_error_text(context))) }
        redisSetTimeout(context, limit)
        if let password = endpoint.password {
            try command(endpoint.username.map { ["AUTH", $0, password] } ?? ["AUTH", password])
        }
        try command(["PING"])
        guard lwskit_redis_make_nonblocking(context) == 0 else {
            throw Failure(description: "cannot make the socket non-blocking: \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        redisFree(context)
    }

    /// The socket, for `poll`.
    var descriptor: Int32 { context.pointee.fd }

    /// Runs one command the blocking way (before the connection turns non-blocking).
    private func command(_ arguments: [String]) throws(Failure) {
        append(arguments.map { Array($0.utf8) })
        awaitedReplies = 0
        unsentBytes = 0
        var reply: UnsafeMutableRawPointer?
        guard redisGetReply(context, &reply) == REDIS_OK, let reply else { throw currentFailure() }
        defer { freeReplyObject(reply) }
        let answer = reply.assumingMemoryBound(to: redisReply.self)
        if answer.pointee.type == REDIS_REPLY_ERROR {
            throw Failure(description: "\(arguments[0]) answered: \(String(cString: answer.pointee.str))")
        }
    }

    /// Queues a command (binary-safe arguments); nothing is sent before `flush`.
    /// - Parameter replies: How many replies the command brings (SUBSCRIBE: one per channel).
    func append(_ arguments: [[UInt8]], replies: Int = 1) {
        // hiredis copies the arguments into its output buffer: lend it each array's storage.
        var pointers: [UnsafePointer<CChar>?] = []
        pointers.reserveCapacity(arguments.count)
        let lengths = arguments.map(\.count)
        if awaitedReplies == 0 { lastProgress = .now }
        func lend(from index: Int) {
            guard index < arguments.count else {
                _ = redisAppendCommandArgv(context, Int32(arguments.count), &pointers, lengths)
                return
            }
            arguments[index].withUnsafeBytes { bytes in
                pointers.append((bytes.baseAddress ?? Self.emptyArgument).assumingMemoryBound(to: CChar.self))
                lend(from: index + 1)
            }
        }
        lend(from: 0)
        awaitedReplies += replies
        unsentBytes += lengths.reduce(16, +)
    }

    /// Where an empty argument points (hiredis copies 0 bytes from it).
    nonisolated(unsafe) private static let emptyArgument = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1))

    /// Writes what the socket takes now.
    /// - Returns: Whether everything appended has been written.
    /// - Throws: `Failure` if the connection failed.
    func flush() throws(Failure) -> Bool {
        var done: Int32 = 0
        guard redisBufferWrite(context, &done) == REDIS_OK else { throw currentFailure() }
        if done != 0 { unsentBytes = 0 }
        return done != 0
    }

    /// Reads what the socket has, then hands every complete reply to `body`, in order (and
    /// counts as progress).
    /// - Parameter body: Returns whether the reply answered a command (false for what Redis
    ///   pushes to a subscriber).
    /// - Throws: `Failure` if the connection failed or closed.
    func read(_ body: (RedisReplyView) -> Bool) throws(Failure) {
        guard redisBufferRead(context) == REDIS_OK else { throw currentFailure() }
        lastProgress = .now
        while true {
            var reply: UnsafeMutableRawPointer?
            guard redisGetReply(context, &reply) == REDIS_OK else { throw currentFailure() }
            guard let reply else { return }
            defer { freeReplyObject(reply) }
            if body(RedisReplyView(reply.assumingMemoryBound(to: redisReply.self))) {
                awaitedReplies = max(awaitedReplies - 1, 0)
            }
        }
    }

    private func currentFailure() -> Failure {
        let text = String(cString: lwskit_redis_error_text(context))
        return Failure(description: text.isEmpty ? "the connection failed" : text)
    }
}

/// A reply, valid only inside `RedisConnection.read`'s closure.
struct RedisReplyView {
    private let reply: UnsafeMutablePointer<redisReply>

    init(_ reply: UnsafeMutablePointer<redisReply>) {
        self.reply = reply
    }

    /// An error reply's text.
    var error: String? {
        reply.pointee.type == REDIS_REPLY_ERROR ? String(cString: reply.pointee.str) : nil
    }

    /// An array reply's elements.
    var elements: [RedisReplyView]? {
        guard reply.pointee.type == REDIS_REPLY_ARRAY, let element = reply.pointee.element else { return nil }
        return (0..<reply.pointee.elements).compactMap { element[$0].map(RedisReplyView.init) }
    }

    /// A string (or status) reply's bytes, lent to `body`.
    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result? {
        guard reply.pointee.type == REDIS_REPLY_STRING || reply.pointee.type == REDIS_REPLY_STATUS, let bytes = reply.pointee.str else { return nil }
        return body(UnsafeRawBufferPointer(start: bytes, count: reply.pointee.len))
    }

    /// A string reply as text (channel names, message kinds).
    var text: String? {
        withBytes { String(decoding: $0, as: UTF8.self) }
    }
}
