#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CLibWebSockets

/// A joinable POSIX thread running one closure: a service loop's own thread, or a topic
/// broker's (`package`: `LWSKitRedis` uses it).
///
/// Foundation's `Thread` cannot be joined; a clean shutdown must know the loop has finished
/// touching libwebsockets before it returns, so LWSKit uses pthreads directly.
package final class LoopThread: @unchecked Sendable {
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    private var handle = pthread_t()
    private var joined = false

    /// Starts a thread running `body`.
    /// - Parameters:
    ///   - role: What the thread is, for the error ("the service thread").
    ///   - name: The thread's name in `ps -T` and `/proc` (15 bytes show), set before `body`
    ///     runs; nil leaves it to `body`.
    /// - Throws: `LWSError.contextCreationFailed` if the system refuses another thread.
    package init(role: String = "the service thread", name: String? = nil, _ body: @escaping () -> Void) throws {
        let named: () -> Void = name.map { name in { lwskit_name_current_thread(name); body() } } ?? body
        let box = Unmanaged.passRetained(Body(named)).toOpaque()
        let result = pthread_create(&handle, nil, { argument in
            let body = Unmanaged<Body>.fromOpaque(argument!).takeRetainedValue()
            body.run()
            return nil
        }, box)
        guard result == 0 else {
            Unmanaged<Body>.fromOpaque(box).release()
            throw LWSError.contextCreationFailed(reason: "cannot start \(role): \(String(cString: strerror(result)))")
        }
    }

    /// Waits for the thread to finish. Call once, from another thread.
    package func join() {
        guard !joined else { return }
        joined = true
        pthread_join(handle, nil)
    }
}
