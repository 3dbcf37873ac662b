import Synchronization

extension WrapperConnection {
    /// Runs a statement whose interpolated values are bound and hands each row to `onRow` as it
    /// arrives from the server, so large results are never held whole. Plugins see an ordinary
    /// `Cursor.execute` call.
    @discardableResult
    public func stream(_ query: SQLQuery, onRow: ([DatabaseValue]) throws -> Void) throws -> QueryResult {
        let (sql, binds) = query.render(placeholder: service.driver.bindPlaceholder(at:))
        return try stream(unsafeSQL: sql, binds: binds, onRow: onRow)
    }

    /// ``stream(_:onRow:)`` for SQL text sent as it is, with `binds` for its placeholders; never
    /// build the text from values you did not write yourself.
    @discardableResult
    public func stream(unsafeSQL sql: String, binds: [DatabaseValue] = [], onRow: ([DatabaseValue]) throws -> Void) throws -> QueryResult {
        try withExclusiveAccess {
            guard !closed.load(ordering: .relaxed) else {
                throw WrapperError(.connectionClosed, "The connection is closed; open a new one.")
            }
            let call = MethodCall(.cursorExecute, sql: sql, binds: binds)
            let result = try chain.execute(call, service: service) { call, service in
                guard let connection = service.currentConnection else {
                    throw WrapperError(.connectionClosed, "The connection is closed; open a new one.")
                }
                return .rows(try service.driver.stream(call, on: connection, onRow: onRow))
            }.queryResult()
            // A plugin answered (a cache): its rows still go to the handler, one by one.
            if !result.isStreamed { try result.rows.forEach(onRow) }
            return result
        }
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    ///
    /// Autocommit is switched off for the duration and restored afterwards.
    public func withTransaction<Result>(_ body: (WrapperConnection) throws -> Result) throws -> Result {
        let autocommitWasOn = try autocommit()
        if autocommitWasOn { try setAutocommit(false) }
        var rolledBack = true
        // Turning autocommit back on commits: never after a rollback that failed.
        defer { if autocommitWasOn, rolledBack { try? setAutocommit(true) } }
        do {
            let result = try body(self)
            try commit()
            return result
        } catch {
            do { try rollback() } catch { rolledBack = false }
            throw error
        }
    }
}
