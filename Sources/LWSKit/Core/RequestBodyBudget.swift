/// The bytes of unfinished HTTP request bodies a server loop holds, against the server-wide
/// bound `HTTPServerConfiguration.maxBufferedRequestBodyBytes`. Loop thread only.
struct RequestBodyBudget {
    /// The most bytes held at once.
    let limit: Int
    /// The bytes held now.
    private(set) var held = 0

    init(limit: Int) { self.limit = limit }

    /// Counts `count` more bytes, unless that would go over the limit.
    mutating func take(_ count: Int) -> Bool {
        guard count <= limit - held else { return false }
        held += count
        return true
    }

    /// Stops counting `count` bytes taken earlier (the body is complete, or abandoned).
    mutating func giveBack(_ count: Int) {
        held -= count
        assert(held >= 0, "gave back more body bytes than were taken")
    }
}
