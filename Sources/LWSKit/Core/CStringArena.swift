#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Owns C strings that libwebsockets keeps pointers to (protocol names, vhost names,
/// interface names) for as long as its context lives.
///
/// lws does not copy these strings: they must outlive the context. The arena is freed only
/// after `lws_context_destroy` has returned.
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
