/// A route's path: literal segments, `:name` segments that match any one non-empty segment and
/// capture it under `name`, and an optional last segment `*` that matches the rest of the path
/// (zero or more segments, captured under "*"). "/rooms/:room", "/static/*", "/echo".
struct PathPattern: Sendable, Equatable {
    private enum Segment: Equatable {
        case literal(String)
        case parameter(String)
    }

    /// As written.
    let text: String
    private let segments: [Segment]
    private let matchesRest: Bool

    /// Reads `text`; nil when it does not start with "/", has a `*` that is not the whole last
    /// segment, an empty parameter name, or a parameter name twice.
    init?(_ text: String) {
        guard text.hasPrefix("/") else { return nil }
        var parts = text.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let matchesRest = parts.last == "*"
        if matchesRest { parts.removeLast() }
        var names = Set<String>()
        var segments: [Segment] = []
        for part in parts {
            guard !part.contains("*") else { return nil }
            if part.hasPrefix(":") {
                let name = String(part.dropFirst())
                guard !name.isEmpty, names.insert(name).inserted else { return nil }
                segments.append(.parameter(name))
            } else {
                segments.append(.literal(part))
            }
        }
        self.text = text
        self.segments = segments
        self.matchesRest = matchesRest
    }

    /// The literal segments before the first parameter or `*`, as a path ("/rooms" for
    /// "/rooms/:room"; "/" when the pattern starts with one): where lws must send the requests
    /// the pattern may match (a callback mount).
    var literalPrefix: String {
        var prefix: [String] = []
        for segment in segments {
            guard case .literal(let literal) = segment else { break }
            prefix.append(literal)
        }
        let path = "/" + prefix.joined(separator: "/")
        return path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    /// The parameters `path` binds, or nil when it does not match.
    func match(_ path: String) -> [String: String]? {
        guard path.hasPrefix("/") else { return nil }
        let parts = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        guard matchesRest ? parts.count >= segments.count : parts.count == segments.count else { return nil }
        var parameters: [String: String] = [:]
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case .literal(let literal):
                guard part == literal else { return nil }
            case .parameter(let name):
                guard !part.isEmpty else { return nil }
                parameters[name] = String(part)
            }
        }
        if matchesRest { parameters["*"] = parts.dropFirst(segments.count).joined(separator: "/") }
        return parameters
    }
}
