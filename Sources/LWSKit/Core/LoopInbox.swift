import CLibWebSockets

/// The jobs other threads have posted to a service loop, and the context to wake for them.
/// Kept behind the loop's lock (`ServiceLoop.inbox`).
struct LoopInbox {
    var jobs: [ServiceLoop.Job] = []
    /// The context while jobs are accepted; nil before start and once stopping has ended.
    var context: OpaquePointer?

    /// Queues `job` and wakes the loop, unless a wake is already on its way: jobs were
    /// waiting, so the loop has been woken and has not drained them yet. One wake (a write
    /// to lws' event pipe) then serves a burst of sends from other threads.
    mutating func post(_ job: @escaping ServiceLoop.Job, waking context: OpaquePointer) {
        jobs.append(job)
        if jobs.count == 1 { lws_cancel_service(context) }
    }
}
