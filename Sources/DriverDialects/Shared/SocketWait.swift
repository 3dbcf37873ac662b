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

    /// Waits for what a Connector/C non-blocking call asked for (`MYSQL_WAIT_READ`, `_WRITE`,
    /// `_EXCEPT`, `_TIMEOUT` in `status`) and returns what happened, for its `_cont` call.
    ///
    /// - Throws: ``WrapperError/Code/timeout`` when `deadline` passes first.
    static func waitForLibrary(
        _ socket: Int32, status: Int32, libraryTimeoutMs: Int, until deadline: ContinuousClock.Instant?,
        what: @autoclosure () -> String
    ) throws -> Int32 {
        var events: Int16 = 0
        if status & 1 != 0 { events |= Int16(POLLIN) }    // MYSQL_WAIT_READ
        if status & 2 != 0 { events |= Int16(POLLOUT) }   // MYSQL_WAIT_WRITE
        if status & 4 != 0 { events |= Int16(POLLPRI) }   // MYSQL_WAIT_EXCEPT
        let wantsTimeout = status & 8 != 0                 // MYSQL_WAIT_TIMEOUT
        let libraryDeadline: ContinuousClock.Instant? = wantsTimeout ? .now + .milliseconds(libraryTimeoutMs) : nil
        var descriptor = pollfd(fd: socket, events: events, revents: 0)
        while true {
            let now = ContinuousClock.now
            if let deadline, deadline <= now {
                throw WrapperError(.timeout, "\(what()) timed out. Raise connect_timeout if the server is slow to answer.")
            }
            if let libraryDeadline, libraryDeadline <= now { return 8 }
            let limits = [deadline, libraryDeadline].compactMap { $0 }
            var timeout: Int32 = -1
            if let first = limits.min() {
                let (seconds, attoseconds) = (first - now).components
                timeout = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
            }
            let result = socket >= 0 && events != 0 ? poll(&descriptor, 1, timeout) : poll(nil, 0, timeout)
            if result > 0 {
                var happened: Int32 = 0
                if descriptor.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 { happened |= 1 }
                if descriptor.revents & Int16(POLLOUT | POLLHUP | POLLERR) != 0 { happened |= 2 }
                if descriptor.revents & Int16(POLLPRI) != 0 { happened |= 4 }
                return happened
            }
            if result < 0, errno != EINTR {
                throw WrapperError(.network, "\(what()) failed: poll() error \(errno).")
            }
        }
    }

    /// The deadline `seconds` from now, or `nil` for none.
    static func deadline(after seconds: Double?) -> ContinuousClock.Instant? {
        guard let seconds, seconds > 0 else { return nil }
        return .now + .nanoseconds(Int64(seconds * 1_000_000_000))
    }
}
