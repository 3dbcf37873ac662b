import BuiltinPlugins
import InMemoryDriver
import Testing
import WrapperCore

@Suite("Host monitors per way of checking")
struct HostMonitorKeyTests {
    @Test("connections to one host with other credentials or monitoring settings get their own monitor")
    func keyedBySettings() throws {
        let runtime = WrapperRuntime()
        defer { runtime.shutdown() }
        let chain = try PluginChain { HostMonitoringPlugin() }
        func open(_ query: String) throws -> WrapperConnection {
            try WrapperConnection.open("postgresql://db1/shop?\(query)", driver: InMemoryDriver(), chain: chain, runtime: runtime)
        }
        let first = try open("user=a&password=pa")
        let same = try open("user=a&password=pa")
        let otherUser = try open("user=b&password=pb")
        let otherTimeout = try open("user=a&password=pa&monitoring-connect_timeout=3")
        for connection in [first, same, otherUser, otherTimeout] { try connection.execute("SELECT 1") }
        #expect(HostMonitors.of(runtime).count == 3)
        for connection in [first, same, otherUser, otherTimeout] { try connection.close() }
    }
}
