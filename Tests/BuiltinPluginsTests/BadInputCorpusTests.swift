import BuiltinPlugins
import Foundation
import InMemoryDriver
import Logging
import Testing
import WrapperCore

/// One line of `Corpus/bad-input.jsonl` (written by `Corpus/make-corpus.py`).
struct CorpusCase: Decodable, Sendable, CustomTestStringConvertible {
    enum Expectation: Decodable, Sendable {
        case code(String)
        case hosts([String])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let hosts = try? container.decode([String].self) { self = .hosts(hosts) } else { self = .code(try container.decode(String.self)) }
        }
    }

    let kind: String
    let input: String
    let expect: Expectation
    let secret: String?

    var testDescription: String { "\(kind): \(input.prefix(120))" }

    static let sentinel = "S3ntinel-pw-9f2"

    static let all: [CorpusCase] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus/bad-input.jsonl")
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(CorpusCase.self, from: Data($0.utf8)) }
    }()
}

@Suite("Bad-input corpus")
struct BadInputCorpusTests {
    /// The built-in factories on a runtime of their own.
    static let registry: PluginRegistry = {
        let registry = PluginRegistry(runtime: WrapperRuntime())
        for factory in BuiltinPluginFactories.make() + TopologyPluginFactories.make() + FailoverPluginFactories.make()
            + AuthPluginFactories.make()
        {
            try? registry.register(factory)
        }
        registry.addOrReplaceProfile(FailoverPluginFactories.fastFailoverProfile)
        return registry
    }()

    @Test("the corpus is all there")
    func size() {
        #expect(CorpusCase.all.count >= 300)
        #expect(Set(CorpusCase.all.map(\.kind)) == ["open", "topology", "topology-multiaz", "redact"])
    }

    @Test("each case gets its typed outcome and leaks no secret", arguments: CorpusCase.all)
    func run(_ item: CorpusCase) throws {
        let secret = item.secret ?? CorpusCase.sentinel
        let log = LogCapture()
        var shown: [String] = []
        switch (item.kind, item.expect) {
        case ("open", .code(let expected)):
            do {
                let connection = try WrapperConnection.open(item.input, driver: InMemoryDriver(), registry: Self.registry, logger: log.logger)
                defer { try? connection.close() }
                #expect(expected == "ok", "opened, but \(expected) was expected")
                shown += [String(describing: connection.service.properties), String(reflecting: connection.service.properties)]
                var dumped = ""
                dump(connection.service.properties, to: &dumped)
                shown.append(dumped)
            } catch let error as WrapperError {
                #expect(error.code.description == expected, "\(error)")
                shown += [error.description, error.message, String(reflecting: error)]
            }
        case ("redact", _):
            let output = SecretRedactor.redact(item.input)
            #expect(output.contains("***"), "\(output)")
            shown.append(output)
        case ("topology", .hosts(let expected)), ("topology-multiaz", .hosts(let expected)):
            let rows = try Self.rows(item.input)
            let multiAz = item.kind == "topology-multiaz"
            let driver = ScriptedDriver { sql in
                if multiAz, sql.contains("source_dbi") { return QueryResult(rows: [[.text("w")]]) }
                return QueryResult(rows: rows)
            }
            let topology = multiAz ? MultiAzPostgresDialect().topology! : AuroraPostgresDialect().topology!
            let hosts = try topology.hosts(
                connection: ScriptedDriver.Connection(), driver: driver, pattern: multiAz ? nil : try InstanceHostPattern("?.db.example.com"),
                defaultPort: 5432, logger: log.logger)
            let seen = multiAz ? hosts.map { "\($0.hostID ?? ""):\($0.port)" } : hosts.compactMap(\.hostID)
            #expect(Set(seen) == Set(expected), "\(seen)")
            #expect(hosts.allSatisfy { HostInfo.isSafeHostName($0.host) && (1...65535).contains($0.port) })
        default:
            Issue.record("unknown case kind \(item.kind)")
        }
        let everything = shown + log.lines.withLock { $0 }
        for text in everything {
            #expect(!text.contains(secret), "the secret leaked: \(text.prefix(300))")
        }
    }

    /// A JSON cell as the database value a server would send.
    struct Cell: Decodable {
        let value: DatabaseValue
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                value = .null
            } else if let flag = try? container.decode(Bool.self) {
                value = .bool(flag)
            } else if let number = try? container.decode(Int64.self) {
                value = .integer(number)
            } else {
                value = .text(try container.decode(String.self))
            }
        }
    }

    static func rows(_ json: String) throws -> [[DatabaseValue]] {
        try JSONDecoder().decode([[Cell]].self, from: Data(json.utf8)).map { $0.map(\.value) }
    }
}
