@testable import BuiltinPlugins
import Testing
import WrapperCore

@Suite("data_cache patterns and statements")
struct DataCachePatternTests {
    @Test("patterns that make backtracking engines exponential finish at once", .timeLimit(.minutes(1)), arguments: [
        ("(a+)+$", false), ("(a|a)*b", false), ("(.*a){12}", true), ("^(a|aa)+$", false), ("(x+x+)+y", false), ("'a+!", true),
    ])
    func pathological(pattern: String, matches: Bool) throws {
        let trigger = try TriggerPattern(pattern)
        let sql = "SELECT '" + String(repeating: "a", count: 30_000) + "!'"
        #expect(trigger.matches(sql) == matches)
        // Longer than the searched limit: never matched, never cached.
        #expect(!trigger.matches(String(repeating: "a", count: TriggerPattern.maxStatementLength + 1)))
    }

    @Test("back-references, lone backslashes, bad syntax and huge patterns are refused with a typed error", arguments: [
        "(a)\\1", "abc\\", "([unclosed", "", String(repeating: "a", count: 1001),
    ])
    func refused(pattern: String) {
        #expect(throws: WrapperError.self) { try TriggerPattern(pattern) }
        let error = try? #require(throws: WrapperError.self) { try TriggerPattern(pattern) }
        #expect(error?.code == .invalidProperty)
    }

    @Test("Perl classes and a leading (?i) work")
    func syntax() throws {
        #expect(try TriggerPattern("\\d+").matches("SELECT 42"))
        #expect(try TriggerPattern("FROM\\s+products").matches("SELECT * FROM   products"))
        #expect(try TriggerPattern("(?i)from products").matches("SELECT * FROM PRODUCTS"))
        #expect(try !TriggerPattern("from products").matches("SELECT * FROM PRODUCTS"))
    }

    @Test("only reads are cacheable", arguments: [
        ("SELECT * FROM t", true), ("  (SELECT 1)", true), ("/* c */ SELECT 1", true), ("-- c\nSELECT 1", true),
        ("WITH x AS (SELECT 1) SELECT * FROM x", true), ("SHOW search_path", true), ("VALUES (1)", true),
        ("SELECT 'INSERT INTO t'", true), ("SELECT \"update\" FROM t", true), ("SELECT $1", true),
        ("INSERT INTO t VALUES (1)", false), ("UPDATE t SET a = 1", false), ("DELETE FROM t", false),
        ("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", false), ("SELECT * FROM t FOR UPDATE", false),
        ("SELECT * INTO t2 FROM t", false), ("SELECT nextval('s')", false), ("SELECT 1; DELETE FROM t", false),
        ("SELECT GET_LOCK('x', 1)", false), ("SELECT pg_advisory_lock(1)", false), ("EXPLAIN ANALYZE DELETE FROM t", false),
        ("CALL p()", false), ("", false), ("   ", false), ("SELECT 1;", true), ("MERGE INTO t USING s ON true", false),
        ("SELECT $$;$$; DROP TABLE t", false), ("SELECT 'a'';DELETE FROM t", true),
        // What PostgreSQL and MySQL read differently is never a cacheable read.
        ("WITH x AS (SELECT 1 # 1), d AS (DELETE FROM t RETURNING 1) SELECT 1", false),
        ("WITH q AS (SELECT 'a\\' AS v), d AS (DELETE FROM s RETURNING 1) SELECT 'b' FROM q", false),
        ("SELECT 1 AS x$a$; DELETE FROM t; SELECT 1 AS y$a$", false), ("SELECT * FROM t WHERE id = 1 /*! FOR UPDATE */", false),
        ("SELECT * FROM t /*M! FOR UPDATE */", false), ("SELECT $1, $2", true),
    ])
    func reads(sql: String, isRead: Bool) {
        #expect(ReadStatement.isRead(sql) == isRead, "\(sql)")
    }
}
