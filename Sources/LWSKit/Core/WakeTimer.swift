import CLibWebSockets

/// An lws timer that wakes the service loop when it is due. The loop does the timer's work
/// after `lws_service` returns, comparing its own deadline with the clock; the timer only makes
/// sure `lws_service` does return by then (see `lwskit_wake_timer` in the shim for why a timer
/// callback that does nothing is not enough). Loop thread only.
final class WakeTimer {
    private let timer = UnsafeMutablePointer<lwskit_wake_timer>.allocate(capacity: 1)

    init() {
        timer.initialize(to: lwskit_wake_timer())
    }

    /// Freed with its loop, after the context (and so lws' timer list) is gone.
    deinit {
        timer.deallocate()
    }

    /// Wakes `context`'s loop after `delay`, replacing an earlier schedule.
    func schedule(_ context: OpaquePointer, after delay: Duration) {
        lwskit_wake_timer_schedule(timer, context, delay.timerMicroseconds)
    }

    /// Disarms the timer, if armed.
    func cancel() {
        lws_sul_cancel(&timer.pointee.sul)
    }
}
