import CLibWebSockets

/// The cores this process may run on (its CPU affinity), at least 1.
func availableCores() -> Int {
    Int(lwskit_available_cores())
}
