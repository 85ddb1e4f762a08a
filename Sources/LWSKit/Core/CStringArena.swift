#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Owns C strings handed to libwebsockets for as long as lws may read them: for a context's
/// life (protocol names, vhost names, interface names, which lws does not copy; that arena is
/// freed only after `lws_context_destroy` has returned), or for one call (a client connect).
final class CStringArena {
    private var strings: [UnsafeMutablePointer<CChar>] = []

    /// Copies `string` into the arena and returns a pointer valid for the arena's life.
    func intern(_ string: String) -> UnsafePointer<CChar> {
        let copy = strdup(string)!
        strings.append(copy)
        return UnsafePointer(copy)
    }

    deinit {
        for string in strings { free(string) }
    }
}
