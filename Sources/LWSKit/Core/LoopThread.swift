#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A joinable POSIX thread running one closure: the service loop's own thread.
///
/// Foundation's `Thread` cannot be joined; a clean shutdown must know the loop has finished
/// touching libwebsockets before it returns, so LWSKit uses pthreads directly.
final class LoopThread: @unchecked Sendable {
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    private var handle = pthread_t()
    private var joined = false

    /// Starts a thread running `body`.
    /// - Throws: `LWSError.contextCreationFailed` if the system refuses another thread.
    init(_ body: @escaping () -> Void) throws {
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        let result = pthread_create(&handle, nil, { argument in
            let body = Unmanaged<Body>.fromOpaque(argument!).takeRetainedValue()
            body.run()
            return nil
        }, box)
        guard result == 0 else {
            Unmanaged<Body>.fromOpaque(box).release()
            throw LWSError.contextCreationFailed(reason: "cannot start the service thread: \(String(cString: strerror(result)))")
        }
    }

    /// Waits for the thread to finish. Call once, from another thread.
    func join() {
        guard !joined else { return }
        joined = true
        pthread_join(handle, nil)
    }
}
