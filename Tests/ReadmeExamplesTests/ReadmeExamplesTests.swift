import DriverDialects
import Foundation
import Testing
import WrapperCore

/// The README's examples, compiled as written (Examples.swift, generated from the README) and run
/// against the throwaway servers of `scripts/db-servers.sh`.
@Suite("README examples", .serialized)
struct ReadmeExamplesTests {
    enum Server: String, CaseIterable, Sendable {
        case postgres, mariadb

        private func env(_ name: String, _ fallback: String) -> String {
            ProcessInfo.processInfo.environment["\(self == .postgres ? "WRAPPER_PG" : "WRAPPER_MYSQL")_\(name)"] ?? fallback
        }

        var url: String {
            let scheme = self == .postgres ? "postgresql" : "mysql"
            let port = env("PORT", self == .postgres ? "55432" : "53306")
            return "\(scheme)://\(env("USER", "wrapper")):\(env("PASSWORD", "wrapper_pw"))@\(env("HOST", "127.0.0.1")):\(port)/\(env("DATABASE", "wrapper_test"))"
        }

        var driver: any DriverDialect { self == .postgres ? PostgresDriver() : MariaDBDriver() }
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("Examples.swift holds every Swift block of the README verbatim (rerun scripts/readme-examples.py after editing one)")
    func inSync() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let examples = try String(contentsOf: Self.root.appendingPathComponent("Tests/ReadmeExamplesTests/Examples.swift"), encoding: .utf8)
        let dedented = examples.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("    ") ? String($0.dropFirst(4)) : String($0) }.joined(separator: "\n")
        let blocks = readme.components(separatedBy: "```swift\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
        #expect(blocks.count == 4)
        for block in blocks {
            let code = block.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("import ") }
                .drop { $0.trimmingCharacters(in: .whitespaces).isEmpty }.joined(separator: "\n")
            let text = code.trimmingCharacters(in: .newlines)
            // Top-level blocks are copied as they are, function bodies indented by four spaces.
            #expect(examples.contains(text) || dedented.contains(text), "README block not in Examples.swift:\n\(code)")
        }
        #expect(readme.components(separatedBy: "<!-- example: ").count - 1 == blocks.count)
    }

    func withTables(_ server: Server, _ body: () async throws -> Void) async throws {
        let admin = try WrapperConnection.open(server.url + "?plugins=", driver: server.driver, registry: .default)
        defer { try? admin.close() }
        for table in ["users", "orders", "events"] { _ = try? admin.execute("DROP TABLE \(unsafeSQL: table)") }
        try admin.execute("CREATE TABLE users (id int, name varchar(50), seen timestamp NULL)")
        try admin.execute("CREATE TABLE orders (id int)")
        try admin.execute("CREATE TABLE events (id int)")
        defer { for table in ["users", "orders", "events"] { _ = try? admin.execute("DROP TABLE \(unsafeSQL: table)") } }
        try admin.execute("INSERT INTO users VALUES (\(42), \("ada"), NULL)")
        try admin.execute("INSERT INTO events VALUES (\(42)), (\(7))")
        try await body()
        // What the examples wrote is there.
        #expect(try admin.execute("SELECT count(*) FROM users WHERE seen IS NOT NULL").decode(Int.self) == [1])
        #expect(try admin.execute("SELECT id FROM events").decode(Int.self) == [7])
    }

    @Test("the builder and Connections examples run", arguments: Server.allCases)
    func run(server: Server) async throws {
        try await withTables(server) {
            try builderChain(url: server.url, driver: server.driver, measure: true)
            try builderChain(url: server.url, driver: server.driver, measure: false)
            let rows = LockedValue<[[DatabaseValue]]>([])
            try await connections(url: server.url, driver: server.driver) { row in rows.withLock { $0.append(row) } }
            #expect(rows.withLock { $0 }.count == 2)
        }
    }

    @Test("the plugins-by-name example registers its plugin and sees the simulated network error")
    func pluginsByNameRuns() throws {
        // It registers "audit" in the default registry, which a process can do once.
        try pluginsByName(url: Server.postgres.url, driver: Server.postgres.driver)
        #expect(PluginRegistry.default.registeredCodes.contains("audit"))
    }
}
