import Glibc
import WrapperCore

/// Waits on a socket with an optional deadline, for the non-blocking C APIs.
enum SocketWait {
    enum Direction {
        case read
        case write
    }

    /// Returns when `socket` is ready in `direction`, or throws a timeout when `deadline` passes.
    static func wait(
        _ socket: Int32, for direction: Direction, until deadline: ContinuousClock.Instant?, what: @autoclosure () -> String
    ) throws {
        var descriptor = pollfd(fd: socket, events: Int16(direction == .read ? POLLIN : POLLOUT), revents: 0)
        while true {
            var timeout: Int32 = -1
            if let deadline {
                let remaining = deadline - .now
                if remaining <= .zero {
                    throw WrapperError(.timeout, "\(what()) timed out.")
                }
                let (seconds, attoseconds) = remaining.components
                timeout = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
            }
            let result = poll(&descriptor, 1, timeout)
            if result > 0 { return }
            if result == 0 { continue }  // re-check the deadline
            if errno == EINTR { continue }
            throw WrapperError(.network, "\(what()) failed: poll() error \(errno).")
        }
    }

    /// The deadline `seconds` from now, or `nil` for none.
    static func deadline(after seconds: Double?) -> ContinuousClock.Instant? {
        guard let seconds, seconds > 0 else { return nil }
        return .now + .nanoseconds(Int64(seconds * 1_000_000_000))
    }
}
