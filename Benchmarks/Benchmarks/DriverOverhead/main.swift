// Runs N round trips, raw or through the wrapper, so that whole-process CPU time (client side
// only: time spent waiting for the server is not CPU time) can be compared between the two.
//
//   swift run -c release DriverOverhead <postgres|mariadb> <raw|wrapper|execute_time> <count>
import BuiltinPlugins
import CLibPQ
import CMariaDB
import DriverDialects
import Foundation
import WrapperCore

func env(_ name: String, _ fallback: String) -> String { ProcessInfo.processInfo.environment[name] ?? fallback }

let arguments = CommandLine.arguments
guard arguments.count == 4, let count = Int(arguments[3]) else {
    print("usage: DriverOverhead <postgres|mariadb> <raw|wrapper|execute_time> <count>")
    exit(2)
}
let (server, mode) = (arguments[1], arguments[2])
let user = env("WRAPPER_PG_USER", "wrapper"), password = env("WRAPPER_PG_PASSWORD", "wrapper_pw")
let database = env("WRAPPER_PG_DATABASE", "wrapper_test")
let pgPort = env("WRAPPER_PG_PORT", "55432"), myPort = env("WRAPPER_MYSQL_PORT", "53306")
var checksum = 0

switch (server, mode) {
case ("postgres", "raw"):
    let conn = PQconnectdb("host=127.0.0.1 port=\(pgPort) user=\(user) password=\(password) dbname=\(database)")!
    for _ in 0..<count {
        let result = PQexec(conn, "SELECT 1")!
        checksum &+= Int(atoi(PQgetvalue(result, 0, 0)))
        PQclear(result)
    }
    PQfinish(conn)
case ("mariadb", "raw"):
    let handle = mysql_init(nil)!
    _ = mysql_real_connect(handle, "127.0.0.1", user, password, database, UInt32(myPort)!, nil, 0)
    for _ in 0..<count {
        _ = mysql_real_query(handle, "SELECT 1", 8)
        let result = mysql_use_result(handle)!
        while let row = mysql_fetch_row(result) { checksum &+= Int(atoi(row[0]!)) }
        mysql_free_result(result)
    }
    mysql_close(handle)
default:
    let url = server == "postgres"
        ? "postgresql://\(user):\(password)@127.0.0.1:\(pgPort)/\(database)"
        : "mysql://\(user):\(password)@127.0.0.1:\(myPort)/\(database)"
    let driver: any DriverDialect = server == "postgres" ? PostgresDriver() : MariaDBDriver()
    let plugins = mode == "execute_time" ? "execute_time" : ""
    let connection = try WrapperConnection.open(url + "?plugins=\(plugins)", driver: driver, registry: .default)
    for _ in 0..<count {
        if case .integer(let value) = try connection.execute("SELECT 1").rows[0][0] { checksum &+= Int(value) }
    }
    try connection.close()
}
precondition(checksum == count, "expected \(count) rows, got \(checksum)")
