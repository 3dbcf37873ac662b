import Foundation
import Testing
import WrapperCore

@Suite("The async API's threads")
struct BlockingExecutorTests {
    /// A latch a blocked call waits on, released by the test.
    final class Gate: Sendable {
        let semaphore = DispatchSemaphore(value: 0)
        func wait() { semaphore.wait() }
        func open(_ count: Int) { for _ in 0..<count { semaphore.signal() } }
    }

    /// Counts calls that started.
    final class Counter: Sendable {
        private let value = LockedValue(0)
        func add() { value.withLock { $0 += 1 } }
        var count: Int { value.withLock { $0 } }
    }

    @Test("hung calls hold their own threads only: other calls still run")
    func hungCallsDoNotStarve() async throws {
        let executor = BlockingExecutor(maxThreads: 16, idleTimeout: .milliseconds(200), queueTimeout: .seconds(5))
        let gate = Gate()
        let started = Counter()
        // Eight calls that hang, as eight opens to a frozen server would.
        let hung = (0..<8).map { _ in
            Task { try await executor.run { started.add(); gate.wait() } }
        }
        while started.count < 8 { try await Task.sleep(for: .milliseconds(5)) }
        let answer = try await executor.run { 42 }
        #expect(answer == 42)
        gate.open(8)
        for task in hung { try await task.value }
        executor.shutdown()
    }

    @Test("at the thread limit a call waits at most the queue timeout, then fails with a typed error")
    func backPressure() async throws {
        let executor = BlockingExecutor(maxThreads: 2, idleTimeout: .milliseconds(200), queueTimeout: .milliseconds(300))
        let gate = Gate()
        let started = Counter()
        let busy = (0..<2).map { _ in Task { try await executor.run { started.add(); gate.wait() } } }
        while started.count < 2 { try await Task.sleep(for: .milliseconds(5)) }
        let error = await #expect(throws: WrapperError.self) { try await executor.run { 1 } }
        #expect(error?.code == .timeout)
        gate.open(2)
        for task in busy { try await task.value }
        #expect(try await executor.run { 7 } == 7)
        executor.shutdown()
    }

    @Test("idle threads end, and shutdown ends them all")
    func threadsEnd() async throws {
        let executor = BlockingExecutor(maxThreads: 8, idleTimeout: .milliseconds(100), queueTimeout: .seconds(5))
        let gate = Gate()
        let started = Counter()
        let tasks = (0..<4).map { _ in Task { try await executor.run { started.add(); gate.wait() } } }
        while started.count < 4 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(executor.threadCount == 4)
        gate.open(4)
        for task in tasks { try await task.value }
        let deadline = ContinuousClock.now + .seconds(5)
        while executor.threadCount > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(executor.threadCount == 0)
        _ = try await executor.run { 1 }
        #expect(executor.shutdown(timeout: .seconds(5)))
        #expect(executor.threadCount == 0)
        let closed = await #expect(throws: WrapperError.self) { try await executor.run { 1 } }
        #expect(closed?.code == .connectionClosed)
    }
}
