import CLibWebSockets

/// `HTTPServerConfiguration.requestBodyTimeout`: a request body must be complete within it
/// from the request's head, or the request is answered 408 and its connection closed. lws'
/// own content timeout restarts at every chunk, so a body trickled a byte at a time would hold
/// its connection for ever. One timer per loop, due at the earliest deadline, rather than one
/// per request: a POST whose body came with its head never waits for it. Loop thread only.
extension ServiceLoop {
    /// Starts the body deadline of `exchange`, whose body is now awaited.
    func awaitBody(of exchange: HTTPServerExchange) {
        guard let timeout = settings.server?.http.requestBodyTimeout else { return }
        let deadline = ContinuousClock.now + timeout
        exchange.bodyDeadline = deadline
        if nextBodyDeadline.map({ deadline < $0 }) ?? true { armBodyDeadlineTimer(for: deadline) }
    }

    /// Marks the requests whose body missed its deadline (they are answered 408 at their next
    /// `HTTP_WRITEABLE`, inside lws' service) and arms the timer for the next deadline.
    func sweepBodyDeadlines() {
        let now = ContinuousClock.now
        var next: ContinuousClock.Instant?
        for exchange in httpExchanges.values where !exchange.isResponding {
            guard let deadline = exchange.bodyDeadline else { continue }
            if deadline <= now {
                lws_callback_on_writable(exchange.wsi)  // answered 408 there: `bodyIsOverdue`
            } else {
                next = min(next ?? deadline, deadline)
            }
        }
        nextBodyDeadline = nil
        if let next { armBodyDeadlineTimer(for: next) }
    }

    private func armBodyDeadlineTimer(for deadline: ContinuousClock.Instant) {
        guard let context else { return }
        nextBodyDeadline = deadline
        // The timer only wakes the loop; the loop sweeps after `lws_service` returns.
        bodyDeadlineTimer.schedule(context, at: deadline)
    }
}
