import BuiltinPlugins
import Foundation
import InMemoryDriver
import Testing
import WrapperCore

/// A hook spelled with another signature than the protocol's is an unrelated overload: the chain
/// calls the pass-through default instead, and the plugin is silently off (enhanced failure
/// monitoring once validated nothing because its `initHostProvider` took `(Properties)`).
@Suite("Plugin hooks are reached")
struct HookSignatureTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Each hook's name and the exact parameter list and result the protocol requires.
    static let hooks: [(name: String, signature: String)] = [
        ("connect", "(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection"),
        ("forceConnect", "(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection"),
        ("execute", "(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult"),
        ("initHostProvider", "(_ properties: Properties, service: PluginService, next: InitHostProviderNext) throws"),
        ("notifyConnectionChanged", "(_ changes: Set<ConnectionEvent>, service: PluginService) -> OldConnectionSuggestedAction"),
        ("notifyHostListChanged", "(_ changes: HostListChanges, service: PluginService)"),
        ("acceptsStrategy", "(_ strategy: String, role: HostRole, service: PluginService) -> Bool"),
    ]

    @Test("every hook in the built-in plugins and the chain types has the protocol's exact signature")
    func signatures() throws {
        let folders = ["Sources/BuiltinPlugins", "Sources/WrapperCore/Chain"]
        var checked = 0
        for folder in folders {
            let base = Self.root.appendingPathComponent(folder)
            let files = FileManager.default.enumerator(atPath: base.path)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") } ?? []
            for file in files {
                let text = try String(contentsOf: base.appendingPathComponent(file), encoding: .utf8)
                for line in text.split(separator: "\n") {
                    for hook in Self.hooks {
                        guard let range = line.range(of: "func \(hook.name)(") else { continue }
                        checked += 1
                        let rest = line[line.index(before: range.upperBound)...]
                        // The chain's own boxes dispatch with unlabeled parameters; they are not hooks.
                        if rest.contains("_ service: PluginService") { continue }
                        #expect(rest.hasPrefix(hook.signature), "\(folder)/\(file): \(line.trimmingCharacters(in: .whitespaces))")
                    }
                }
            }
        }
        #expect(checked > 30)
    }

    @Test("host monitoring's settings are validated by its initHostProvider hook, also in a static chain")
    func hostMonitoringValidates() throws {
        let chain = try PluginChain { HostMonitoringPlugin() }
        let error = try #require(throws: WrapperError.self) {
            try WrapperConnection.open("postgresql://app@db1/shop?failure_detection_interval_ms=50", driver: InMemoryDriver(),
                                       chain: chain, runtime: WrapperRuntime())
        }
        #expect(error.code == .invalidProperty)
        #expect(error.message.contains("failure_detection_interval_ms"))
        let valid = try WrapperConnection.open("postgresql://app@db1/shop?failure_detection_interval_ms=100", driver: InMemoryDriver(),
                                               chain: chain, runtime: WrapperRuntime())
        try valid.close()
    }
}
