import Benchmark
import BuiltinPlugins
import CLibPQ
import CMariaDB
import DriverDialects
import Foundation
import WrapperCore

// Round trips on loopback against the throwaway servers (scripts/db-servers.sh start; eval "$(scripts/db-servers.sh env)").

func env(_ name: String, _ fallback: String) -> String { ProcessInfo.processInfo.environment[name] ?? fallback }

let pgHost = env("WRAPPER_PG_HOST", "127.0.0.1"), pgPort = env("WRAPPER_PG_PORT", "55432")
let myHost = env("WRAPPER_MYSQL_HOST", "127.0.0.1"), myPort = env("WRAPPER_MYSQL_PORT", "53306")
let user = env("WRAPPER_PG_USER", "wrapper"), password = env("WRAPPER_PG_PASSWORD", "wrapper_pw")
let database = env("WRAPPER_PG_DATABASE", "wrapper_test")

let pgURL = "postgresql://\(user):\(password)@\(pgHost):\(pgPort)/\(database)"
let myURL = "mysql://\(user):\(password)@\(myHost):\(myPort)/\(database)"

func rawPostgres() -> OpaquePointer {
    let conn = PQconnectdb("host=\(pgHost) port=\(pgPort) user=\(user) password=\(password) dbname=\(database)")!
    precondition(PQstatus(conn) == CONNECTION_OK, String(cString: PQerrorMessage(conn)))
    return conn
}

func rawMariaDB() -> UnsafeMutablePointer<MYSQL> {
    let handle = mysql_init(nil)!
    precondition(mysql_real_connect(handle, myHost, user, password, database, UInt32(myPort)!, nil, 0) != nil,
                 String(cString: mysql_error(handle)))
    return handle
}

/// Reads every row of a raw result as integers, as an application would.
func rawPostgresQuery(_ conn: OpaquePointer, _ sql: String) -> Int {
    let result = PQexec(conn, sql)!
    defer { PQclear(result) }
    var sum = 0
    for row in 0..<PQntuples(result) { sum &+= Int(atoi(PQgetvalue(result, row, 0))) }
    return sum
}

func rawMariaDBQuery(_ handle: UnsafeMutablePointer<MYSQL>, _ sql: String) -> Int {
    precondition(mysql_real_query(handle, sql, UInt(sql.utf8.count)) == 0)
    let result = mysql_use_result(handle)!
    defer { mysql_free_result(result) }
    var sum = 0
    while let row = mysql_fetch_row(result) { sum &+= Int(atoi(row[0]!)) }
    return sum
}

func wrapperQuery(_ connection: WrapperConnection, _ sql: String) throws -> Int {
    var sum = 0
    for row in try connection.execute(unsafeSQL: sql).rows {
        if case .integer(let value) = row[0] { sum &+= Int(value) }
    }
    return sum
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal], maxDuration: .seconds(3), maxIterations: 20_000)

    let thousandPG = "SELECT n FROM generate_series(1, 1000) AS n"
    let thousandMy = "SELECT seq FROM seq_1_to_1000"

    let pgRaw = rawPostgres()
    let pgPlain = try! WrapperConnection.open(pgURL + "?plugins=", driver: PostgresDriver(), registry: .default)
    let pgTimed = try! WrapperConnection.open(pgURL + "?plugins=execute_time", driver: PostgresDriver(), registry: .default)
    Benchmark("postgres SELECT 1: raw libpq") { _ in blackHole(rawPostgresQuery(pgRaw, "SELECT 1")) }
    Benchmark("postgres SELECT 1: wrapper, no plugins") { _ in blackHole(try wrapperQuery(pgPlain, "SELECT 1")) }
    Benchmark("postgres SELECT 1: wrapper, execute_time") { _ in blackHole(try wrapperQuery(pgTimed, "SELECT 1")) }
    Benchmark("postgres 1000 rows: raw libpq") { _ in blackHole(rawPostgresQuery(pgRaw, thousandPG)) }
    Benchmark("postgres 1000 rows: wrapper, no plugins") { _ in blackHole(try wrapperQuery(pgPlain, thousandPG)) }

    let myRaw = rawMariaDB()
    let myPlain = try! WrapperConnection.open(myURL + "?plugins=", driver: MariaDBDriver(), registry: .default)
    let myTimed = try! WrapperConnection.open(myURL + "?plugins=execute_time", driver: MariaDBDriver(), registry: .default)
    Benchmark("mariadb SELECT 1: raw Connector/C") { _ in blackHole(rawMariaDBQuery(myRaw, "SELECT 1")) }
    Benchmark("mariadb SELECT 1: wrapper, no plugins") { _ in blackHole(try wrapperQuery(myPlain, "SELECT 1")) }
    Benchmark("mariadb SELECT 1: wrapper, execute_time") { _ in blackHole(try wrapperQuery(myTimed, "SELECT 1")) }
    Benchmark("mariadb 1000 rows: raw Connector/C") { _ in blackHole(rawMariaDBQuery(myRaw, thousandMy)) }
    Benchmark("mariadb 1000 rows: wrapper, no plugins") { _ in blackHole(try wrapperQuery(myPlain, thousandMy)) }
}
