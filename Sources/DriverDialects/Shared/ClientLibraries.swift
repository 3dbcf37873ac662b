import CLibPQ
import CMariaDB

/// Versions of the C client libraries this build links.
public enum ClientLibraries {
    /// libpq's version number, for example `150020` for 15.20.
    public static var libpqVersion: Int { Int(PQlibVersion()) }
    /// MariaDB Connector/C's version number, for example `30320` for 3.3.20.
    public static var mariadbClientVersion: Int { Int(mysql_get_client_version()) }
}
