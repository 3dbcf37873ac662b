import Testing
@testable import WrapperCore

@Suite("Properties and connection strings")
struct PropertiesTests {
    @Test("keyword/value conninfo with quotes, escapes and dbname")
    func keywordValue() throws {
        let properties = try ConnectionString.properties(
            from: #"host=db1,db2 port = 5432,5433 dbname=app user=alice password='pa ss\'word' plugins=execute_time"#)
        #expect(properties["host"] == "db1,db2")
        #expect(properties["port"] == "5432,5433")
        #expect(properties["database"] == "app")
        #expect(properties["password"] == "pa ss'word")
        #expect(properties["plugins"] == "execute_time")
        #expect(try properties.hosts(defaultPort: 1).map(\.hostAndPort) == ["db1:5432", "db2:5433"])
        #expect(try ConnectionString.properties(from: "plugins=''")["plugins"] == "")
    }

    @Test("postgresql URL with user, password, several hosts, IPv6 and parameters")
    func postgresURL() throws {
        let parsed = try ConnectionString(
            parsing: "postgresql://alice:s%40cret@h1:5432,[::1]:5433,h3:5434/my%20db?plugins=dev,execute_time&connect_timeout=3")
        #expect(parsed.scheme == .postgresql)
        let properties = parsed.properties
        #expect(properties["user"] == "alice")
        #expect(properties["password"] == "s@cret")
        #expect(properties["database"] == "my db")
        #expect(properties["plugins"] == "dev,execute_time")
        #expect(try properties.value(WrapperProperties.connectTimeout) == 3)
        let hosts = try properties.hosts(defaultPort: 5432)
        #expect(hosts.map(\.hostAndPort) == ["h1:5432", "[::1]:5433", "h3:5434"])
        #expect(hosts.map(\.role) == [.writer, .reader, .reader])
    }

    @Test("mysql URL without port takes the default port")
    func mysqlURL() throws {
        let parsed = try ConnectionString(parsing: "mysql://root@db.example.com/shop")
        #expect(parsed.scheme == .mysql)
        #expect(try parsed.properties.hosts(defaultPort: 3306).map(\.hostAndPort) == ["db.example.com:3306"])
        #expect(try ConnectionString(parsing: "postgres://h").properties["host"] == "h")
    }

    @Test(
        "malformed strings give a position and a reason",
        arguments: [
            ("host=a port", "position 7", "not followed by '='"),
            ("host='unterminated", "position 5", "unterminated"),
            ("=value", "position 0", "without a keyword"),
            ("redis://h", "position 0", "Unsupported URL scheme"),
            ("postgresql://h:99999/db", "position 13", "1 to 65535"),
            ("postgresql://h:abc/db", "position 13", "not a number"),
            ("postgresql://a,,b/db", "position 15", "empty host"),
            ("postgresql://[::1/db", "position 13", "']'"),
            ("postgresql://h/db?novalue", "position 18", "has no '='"),
            ("postgresql://h/d%zzb", "position 15", "percent-escape"),
        ])
    func malformed(text: String, position: String, reason: String) throws {
        let error = try #require(throws: WrapperError.self) { try ConnectionString(parsing: text) }
        #expect(error.code == .malformedConnectionString)
        #expect(error.message.contains(position), "\(error.message)")
        #expect(error.message.contains(reason), "\(error.message)")
    }

    @Test("no password appears in a parse error or a description")
    func noSecrets() throws {
        let error = try #require(throws: WrapperError.self) {
            try ConnectionString(parsing: "postgresql://u:hunter2%zz@h/db")
        }
        #expect(!error.description.contains("hunter2"))
        let quoted = try #require(throws: WrapperError.self) {
            try ConnectionString(parsing: "user=u password='hunter2")
        }
        #expect(!quoted.description.contains("hunter2"))
        let properties: Properties = ["password": "hunter2", "user": "u"]
        #expect(!properties.description.contains("hunter2"))
        #expect(properties.description.contains("password=***"))
        let wrapped = WrapperError(.driver, "failed", underlying: WrapperError(.network, "could not connect with password=hunter2 to postgresql://u:hunter2@h/db"))
        #expect(!wrapped.description.contains("hunter2"))
    }

    @Test("typed definitions apply defaults and reject invalid values clearly")
    func typedValues() throws {
        let properties: Properties = ["connect_timeout": "2.5", "round_robin_default_weight": "0", "tcp_keepalive": "yes"]
        #expect(try properties.value(WrapperProperties.connectTimeout) == 2.5)
        #expect(try properties.value(WrapperProperties.tcpKeepalive) == true)
        #expect(try properties.value(WrapperProperties.socketTimeout) == nil)
        #expect(try properties.value(WrapperProperties.transferSessionStateOnSwitch) == true)
        #expect(try properties.value(WrapperProperties.clusterID) == "1")
        let error = try #require(throws: WrapperError.self) { try properties.value(WrapperProperties.roundRobinDefaultWeight) }
        #expect(error.code == .invalidProperty)
        #expect(error.message.contains("round_robin_default_weight"))
        #expect(error.message.contains("from 1 to"))
        var copy = properties
        copy.set(WrapperProperties.autoSortPluginOrder, false)
        #expect(copy["auto_sort_wrapper_plugin_order"] == "false")
        let names = Set(WrapperProperties.all.map(\.name))
        #expect(names.isSuperset(of: ["plugins", "profile_name", "auto_sort_wrapper_plugin_order", "connect_timeout",
                                      "socket_timeout", "rollback_on_switch", "round_robin_host_weight_pairs", "cluster_id"]))
        #expect(WrapperProperties.all.allSatisfy { !$0.description.isEmpty })
    }

    @Test(
        "no fragment of a password leaks from a malformed string",
        arguments: [
            "postgresql://u:pa/ss@h/db", "postgresql://u:1234/x@h/db", "host=h password=hunter2 secret",
            "postgresql://h/db?password=hunter2&secret", "host=h password=ab://secret", "sftp://u:secret@h",
            // A password holding '?' and '=' must not become a query value.
            "mariadb://u:12?c=secret@h/db", "mariadb://u:12?c=secret@h", "mysql://u:40/secret?ssl=true@",
            // A combining mark after a delimiter must not hide it (the parser reads scalars).
            "mysql://h/db?\u{348}&password=secret", "postgresql://u:\u{301}secret@h/db", "postgresql:/\u{301}/u:secret@h/db",
        ])
    func noFragmentLeaks(text: String) throws {
        do {
            let properties = try ConnectionString.properties(from: text)
            // Accepted strings keep the password intact and never print it, nor anywhere but in `password`.
            #expect(!properties.description.contains("secret") && !properties.description.contains("hunter2"))
            for (key, value) in properties.entries where key != "password" {
                #expect(!value.contains("secret") && !value.contains("hunter2"), "\(key)=\(value)")
            }
        } catch let error as WrapperError {
            for fragment in ["pa/ss", "1234/x", "secret", "hunter2"] where text.contains(fragment) {
                #expect(!error.description.contains(fragment), "\(error.description)")
            }
        }
    }

    @Test("the redactor masks JSON and URL passwords with slashes")
    func redactor() {
        #expect(!SecretRedactor.redact(#"{"user":"u","password":"hunter2"}"#).contains("hunter2"))
        #expect(!SecretRedactor.redact("postgresql://u:pa/ss@h/db").contains("pa/ss"))
        #expect(!SecretRedactor.redact("password = 'hunter 2' next").contains("hunter"))
        #expect(SecretRedactor.redact("no secrets here") == "no secrets here")
    }

    @Test("a sensitive invalid value is not echoed")
    func sensitiveInvalid() throws {
        let definition = PropertyDefinition<Int>.int("db_password", default: 0, "A secret number.")
        let error = try #require(throws: WrapperError.self) { try Properties(["db_password": "hunter2"]).value(definition) }
        #expect(!error.description.contains("hunter2"))
    }

    @Test("host lists: mismatched ports, empty entries and missing host are errors")
    func hostListErrors() throws {
        #expect(throws: WrapperError.self) { try Properties(["host": "a,b,c", "port": "1,2"]).hosts(defaultPort: 5432) }
        #expect(throws: WrapperError.self) { try Properties(["host": "a,,c"]).hosts(defaultPort: 5432) }
        #expect(throws: WrapperError.self) { try Properties([:]).hosts(defaultPort: 5432) }
        #expect(throws: WrapperError.self) { try Properties(["host": "a", "port": "x"]).hosts(defaultPort: 5432) }
        #expect(try Properties(["host": "a,b", "port": "7"]).hosts(defaultPort: 5432).map(\.port) == [7, 7])
    }

    @Test("monitoring prefixes override base properties")
    func prefixes() {
        let properties: Properties = ["connect_timeout": "10", "monitoring-connect_timeout": "1", "user": "u"]
        let monitoring = properties.overridden(byPrefix: "monitoring-")
        #expect(monitoring.entries == ["connect_timeout": "1", "user": "u"])
    }

    @Test("subscription names map to methods; unknown names are errors")
    func subscriptionNames() throws {
        let set = try PluginMethods(names: ["Connection.commit", "Cursor.execute"])
        #expect(set.contains(.connectionCommit) && set.contains(.cursorExecute) && !set.contains(.connect))
        #expect(try PluginMethods(names: ["*"]) == .all)
        let error = try #require(throws: WrapperError.self) { try PluginMethods(names: ["Cursor.exec"]) }
        #expect(error.code == .invalidSubscription)
        #expect(Set(PluginMethod.allKnown.map(\.id)).count == PluginMethod.allKnown.count)
        #expect(PluginMethod.allKnown.allSatisfy { $0.id < 64 })
    }
}
