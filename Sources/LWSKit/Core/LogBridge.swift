import CLibWebSockets
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Routes libwebsockets' own log lines into swift-log.
///
/// lws has one process-wide log callback. Each service loop registers its `Logger` for its
/// thread; a line is delivered to the logger of the thread that emitted it (lws logs on the
/// thread that called it, which is a loop thread for everything LWSKit does). lws' levels map to
/// swift-log's as ERR → error, WARN → warning, NOTICE → debug, INFO → trace; its DEBUG level
/// (per-packet chatter that slows the loop) is never enabled. The most recent
/// error lines of each thread are kept, because lws reports the real reason for a failure
/// (a bind error, an OpenSSL verify result) only in its log, not in the value it returns.
///
/// lws 4.1 as Debian builds it (`LWS_MAX_SMP` 1) formats every line into one static buffer,
/// so two loops logging at once could read each other's text: a TLS failure could then name
/// another connection's reason. On x86-64, LWSKit therefore supplies `_lws_logv`, the function
/// lws formats every line with (its `_lws_log` calls it through the PLT, so the executable's
/// definition wins), and formats each line into a buffer of the calling thread's own; see
/// `_formatLibwebsocketsLine`. Elsewhere lws' own formatter and the emit callback are used.
enum LogBridge {
    /// The log sink of a client's loop thread, or of all the loop threads of a server.
    final class Sink: @unchecked Sendable {
        let logger: Logger
        private let errors = LockedValue<[String]>([])
        private let warnings = LockedValue(WarningRate())

        init(logger: Logger) { self.logger = logger }

        /// Whether a warning or error line may go to the logger now, and how many lines were
        /// held back before it. Many of lws' error lines are caused by what a peer sends (a
        /// request head over the header space, a bad frame); at most `WarningRate.burst` per
        /// `WarningRate.window` reach the logger, so that a peer cannot fill the logs.
        func admitWarning(at now: ContinuousClock.Instant) -> (admitted: Bool, heldBack: Int) {
            warnings.withLock { $0.admit(at: now) }
        }

        func record(error line: String) {
            errors.withLock { lines in
                lines.append(line)
                if lines.count > 8 { lines.removeFirst(lines.count - 8) }
            }
        }

        /// Returns and forgets the error lines lws logged on this sink's threads since the last call.
        func takeErrors() -> [String] {
            errors.withLock { lines in
                defer { lines.removeAll() }
                return lines
            }
        }
    }

    private struct Registry {
        var sinks: [pthread_t: Sink] = [:]
    }

    private static let registry = LockedValue(Registry())

    /// The lws levels some registered logger wants, read before any line is formatted.
    fileprivate static let enabledLevels = Atomic<Int32>(0)

    /// The longest line delivered, in bytes; lws' own formatter keeps 255.
    fileprivate static let maximumLineLength = 1023

    /// Sends lws' lines emitted on the calling thread to `sink` until `unregisterCurrentThread()`.
    static func registerCurrentThread(_ sink: Sink) {
        registry.withLock { registry in
            registry.sinks[pthread_self()] = sink
            applyLevelMask(registry)
        }
    }

    /// Stops routing the calling thread's lines.
    static func unregisterCurrentThread() {
        registry.withLock { registry in
            registry.sinks[pthread_self()] = nil
            applyLevelMask(registry)
        }
    }

    /// Sets lws' one process-wide level mask to what the most verbose registered logger wants.
    /// Called under the registry lock, so concurrent loops cannot leave a stale mask behind.
    private static func applyLevelMask(_ registry: Registry) {
        let mask = registry.sinks.values.reduce(LLL_ERR | LLL_WARN) { $0 | lwsLevelMask(for: $1.logger.logLevel) }
        enabledLevels.store(mask, ordering: .relaxed)
        lws_set_log_level(mask, { level, line in LogBridge.emit(level: level, line: line) })
    }

    /// The sink of the calling thread, if it is a loop thread.
    static func currentSink() -> Sink? {
        registry.withLock { $0.sinks[pthread_self()] }
    }

    /// Logs `line` as an lws error line through lws' own logging path, as if lws had logged it.
    static func logThroughLibwebsockets(error line: String) {
        lwskit_log(LLL_ERR, line)
    }

    /// Logs `line` as an lws notice line (swift-log's debug) through lws' own logging path.
    static func logThroughLibwebsockets(notice line: String) {
        lwskit_log(LLL_NOTICE, line)
    }

    /// lws' emit callback, reached only where lws' own formatter is in use: its line starts
    /// with a timestamp "[2026/11/24 23:59:59:1234] E: ".
    private static func emit(level: Int32, line: UnsafePointer<CChar>?) {
        guard let line, let sink = currentSink() else { return }
        var text = String(cString: line)
        if let bracket = text.firstIndex(of: "]"), text.hasPrefix("[") {
            text = String(text[text.index(after: bracket)...])
            if let colon = text.firstIndex(of: ":"), text.distance(from: text.startIndex, to: colon) <= 3 {
                text = String(text[text.index(after: colon)...])
            }
        }
        deliver(text, level: level, to: sink)
    }

    /// Hands one line, without its trailing newline, to the thread's logger.
    fileprivate static func deliver(_ line: String, level: Int32, to sink: Sink) {
        let text = line.trimmingCharacters(in: " \n\r\t")
        if LLL_ERR & level != 0 { sink.record(error: text) }
        var metadata: Logger.Metadata = ["source": "libwebsockets"]
        if (LLL_ERR | LLL_WARN) & level != 0 {
            let (admitted, heldBack) = sink.admitWarning(at: .now)
            guard admitted else { return }
            if heldBack > 0 { metadata["suppressedBefore"] = "\(heldBack)" }
        }
        sink.logger.log(level: swiftLogLevel(for: level), "\(text)", metadata: metadata)
    }

    private static func swiftLogLevel(for level: Int32) -> Logger.Level {
        switch level {
        case LLL_ERR: return .error
        case LLL_WARN: return .warning
        case LLL_NOTICE: return .debug
        case LLL_INFO: return .trace
        default: return .trace
        }
    }

    private static func lwsLevelMask(for level: Logger.Level) -> Int32 {
        var mask = LLL_ERR | LLL_WARN
        if level <= .debug { mask |= LLL_NOTICE }
        if level <= .trace { mask |= LLL_INFO }
        return mask
    }
}

#if arch(x86_64)
/// libwebsockets' line formatter, replaced by a thread-safe one (see `LogBridge`).
///
/// lws declares `void _lws_logv(int filter, const char *format, va_list vl)`; on x86-64 a
/// `va_list` argument is a pointer to the caller's argument state. A line at a level no logger
/// wants, or from a thread that is not a loop thread, is dropped before it is formatted.
///
/// Not for use from Swift: it is public only so that optimised builds keep the C symbol
/// visible to libwebsockets.
@_cdecl("_lws_logv")
public func _formatLibwebsocketsLine(_ level: Int32, _ format: UnsafePointer<CChar>?, _ arguments: UnsafeMutableRawPointer?) {
    // lws calls this for its per-packet debug lines too: the common case returns here.
    guard LogBridge.enabledLevels.load(ordering: .relaxed) & level != 0 else { return }
    LogBridge.formatAndDeliver(level, format, arguments)
}

extension LogBridge {
    /// Formats one line into a new string and hands it to the calling thread's logger, if any.
    @inline(never)
    fileprivate static func formatAndDeliver(_ level: Int32, _ format: UnsafePointer<CChar>?, _ arguments: UnsafeMutableRawPointer?) {
        guard let format, let arguments, let sink = currentSink() else { return }
        let capacity = maximumLineLength + 1
        let line = String(unsafeUninitializedCapacity: capacity) { bytes in
            let written = bytes.withMemoryRebound(to: CChar.self) { characters in
                vsnprintf(characters.baseAddress, capacity, format, CVaListPointer(_fromUnsafeMutablePointer: arguments))
            }
            return Int(max(0, min(written, Int32(capacity - 1))))
        }
        deliver(line, level: level, to: sink)
    }
}
#endif

private extension String {
    func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        guard let first = firstIndex(where: { !characters.contains($0) }),
              let last = lastIndex(where: { !characters.contains($0) }) else { return "" }
        return String(self[first...last])
    }
}

/// A bound on the warning and error lines of one loop thread: `burst` per `window`; the lines
/// held back are counted and reported on the next line let through.
struct WarningRate {
    /// The lines let through per window.
    static let burst = 20
    /// The window.
    static let window = Duration.seconds(10)

    private var windowStart: ContinuousClock.Instant?
    private var admitted = 0
    private var heldBack = 0

    /// Whether a line may go out at `now`, and how many were held back since the last one.
    mutating func admit(at now: ContinuousClock.Instant) -> (admitted: Bool, heldBack: Int) {
        if windowStart.map({ now - $0 >= Self.window }) ?? true {
            windowStart = now
            admitted = 0
        }
        guard admitted < Self.burst else {
            heldBack += 1
            return (false, 0)
        }
        admitted += 1
        defer { heldBack = 0 }
        return (true, heldBack)
    }
}
