import Dispatch

/// A thread that services a libwebsockets context (a client's, or one of a server's loops), as
/// a Swift executor. Each connection's `executor` is the one of the loop it lives on.
///
/// Code that runs here calls connections directly, as handlers do: `send` and `close` queue
/// their work without a hop to another thread, and messages reach `connection.messages`
/// without a thread switch. Run a task here with a task executor preference, or isolate an
/// actor to it:
///
/// ```swift
/// group.addTask(executorPreference: connection.executor) {
///     for try await message in connection.messages { try await connection.sendWithBackpressure(message) }
/// }
///
/// actor Room {
///     let server: WebSocketServer
///     nonisolated var unownedExecutor: UnownedSerialExecutor { server.executor.asUnownedSerialExecutor() }
///     // methods run on the server's (first) service thread
/// }
/// ```
///
/// Like a handler, such code must not block: while it runs, no other connection of that loop
/// is served. Jobs made ready on the service thread run as soon as libwebsockets has
/// finished the events at hand (all the messages of one read, say). Once the server or client
/// has shut down, jobs still sent here run in order on a dispatch queue instead.
public final class LoopExecutor: TaskExecutor {
    private let serial: LoopSerialExecutor

    /// The executor of `loop`, which owns it (see `ServiceLoop.executor`).
    init(loop: ServiceLoop) {
        self.serial = LoopSerialExecutor(loop: loop)
    }

    /// Runs `job`, a task that prefers this executor, on the service thread.
    /// - Parameter job: The job the Swift runtime hands over.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        serial.schedule { job.runSynchronously(on: executor) }
    }

    /// This executor, for task executor preferences.
    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }

    /// The service thread as a serial executor, for actors isolated to it (their
    /// `unownedExecutor`).
    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        serial.asUnownedSerialExecutor()
    }
}

/// The service thread as the serial executor of actors.
///
/// It is a separate object from `LoopExecutor` because the Swift runtime treats a job run as
/// isolated to a serial executor as leaving it whenever the task calls a nonisolated async
/// function: a task preferring a `LoopExecutor` that was also its serial executor hopped (was
/// enqueued again) about three times per message received.
final class LoopSerialExecutor: SerialExecutor {
    /// Weak: the loop owns its executor, and an executor kept after its server or client is
    /// gone runs its jobs on `fallback`.
    private weak let loop: ServiceLoop?
    /// Where jobs go once the loop no longer takes work, keeping them serial.
    private let fallback: DispatchQueue

    init(loop: ServiceLoop) {
        self.loop = loop
        self.fallback = DispatchQueue(label: "\(loop.threadName)-after-shutdown")
    }

    /// Runs `job`, an actor's, on the service thread.
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedSerialExecutor()
        schedule { job.runSynchronously(on: executor) }
    }

    /// Runs `run` on the service thread, or on the fallback queue once the loop has ended.
    func schedule(_ run: @escaping @Sendable () -> Void) {
        if loop?.schedule(run) != true { fallback.async(execute: run) }
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Stops the program unless called on the service thread (or, after shutdown, from the
    /// dispatch queue that took over): what `assumeIsolated` relies on.
    func checkIsolated() {
        if loop?.isLoopThread == true { return }
        dispatchPrecondition(condition: .onQueue(fallback))
    }
}
