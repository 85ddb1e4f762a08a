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

    /// Wakes `context`'s loop once `deadline` has passed, replacing an earlier schedule.
    ///
    /// lws polls in whole milliseconds, rounded down: due exactly at the deadline, the poll
    /// would end just before it, the loop would find nothing due, and lws would fire the timer
    /// as the next `lws_service` starts (a write to its event pipe and one more poll, which
    /// costs a pass over every descriptor). One millisecond more ends the poll after the
    /// deadline; the loop then re-arms or cancels the timer before it fires.
    func schedule(_ context: OpaquePointer, at deadline: ContinuousClock.Instant) {
        lwskit_wake_timer_schedule(timer, context, (deadline - .now + .milliseconds(1)).timerMicroseconds)
    }

    /// Wakes `context`'s loop as soon as it polls, replacing an earlier schedule.
    func scheduleNow(_ context: OpaquePointer) {
        lwskit_wake_timer_schedule(timer, context, 1)
    }

    /// Disarms the timer, if armed.
    func cancel() {
        lws_sul_cancel(&timer.pointee.sul)
    }
}
