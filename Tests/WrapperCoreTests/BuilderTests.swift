import InMemoryDriver
import Testing
@testable import WrapperCore

@Suite("Result builder")
struct BuilderTests {
    let trace = Trace()

    @Test("a plain sequence nests into Chain2, first plugin outermost")
    func sequence() throws {
        let chain = PluginChain {
            Recording(name: "a", trace: trace)
            Recording(name: "b", trace: trace)
            Recording(name: "c", trace: trace)
        }
        #expect(type(of: chain.body) == Chain2<Chain2<Recording, Recording>, Recording>.self)
        let connection = try openConnection(chain: chain)
        trace.reset()
        try connection.commit()
        #expect(trace.all == ["a.before", "b.before", "c.before", "c.after", "b.after", "a.after"])
    }

    @Test("if without else includes the plugin only when the condition holds")
    func optional() throws {
        for enabled in [true, false] {
            trace.reset()
            let chain = PluginChain {
                Recording(name: "a", trace: trace)
                if enabled { Recording(name: "maybe", trace: trace) }
            }
            #expect(type(of: chain.body) == Chain2<Recording, OptionalPlugin<Recording>>.self)
            let connection = try openConnection(chain: chain)
            trace.reset()
            try connection.rollback()
            #expect(trace.all.contains("maybe.before") == enabled)
            #expect(trace.all.first == "a.before")
        }
    }

    @Test("if/else branches may have different types")
    func either() throws {
        for useRecording in [true, false] {
            let chain = PluginChain {
                if useRecording { Recording(name: "rec", trace: trace) } else { Other(trace: trace) }
            }
            #expect(type(of: chain.body) == EitherPlugin<Recording, Other>.self)
            let connection = try openConnection(chain: chain)
            trace.reset()
            try connection.execute("SELECT 1")
            #expect(trace.all == (useRecording ? ["rec.before", "rec.after"] : ["other"]))
        }
    }

    @Test("an optional plugin value can be unwrapped with if let")
    func optionalValue() throws {
        let maybe: Recording? = Recording(name: "x", trace: trace)
        let chain = PluginChain {
            if let maybe { maybe }
        }
        let connection = try openConnection(chain: chain)
        trace.reset()
        try connection.commit()
        #expect(trace.all == ["x.before", "x.after"])
    }

    @Test("a for loop composes plugins in order")
    func loop() throws {
        let chain = PluginChain {
            for name in ["l1", "l2", "l3"] { Recording(name: name, trace: trace) }
            Other(trace: trace)
        }
        #expect(type(of: chain.body) == Chain2<PluginArray<Recording>, Other>.self)
        let connection = try openConnection(chain: chain)
        trace.reset()
        try connection.execute("SELECT 1")
        #expect(trace.all == ["l1.before", "l2.before", "l3.before", "other", "l3.after", "l2.after", "l1.after"])
    }

    @Test("an empty block is a chain that does nothing")
    func empty() throws {
        let chain = PluginChain {}
        #expect(chain.subscribedMethods.isEmpty)
        let connection = try openConnection(chain: chain)
        #expect(try connection.execute("SELECT 1").rows == [[.integer(1)]])
    }

    @Test("a static chain can embed a registry-built part and another chain")
    func embedded() throws {
        let registry = try registryWith([("reg1", .fixed(2)), ("reg0", .fixed(1))], trace: trace)
        let inner = PluginChain { Recording(name: "inner", trace: trace) }
        let chain = try PluginChain {
            Recording(name: "outer", trace: trace)
            try registry.chain(for: ["plugins": "reg1,reg0"], driver: InMemoryDriver())
            inner
        }
        let connection = try openConnection(chain: chain)
        trace.reset()
        try connection.commit()
        #expect(trace.all == [
            "outer.before", "reg0.before", "reg1.before", "inner.before", "inner.after", "reg1.after", "reg0.after",
            "outer.after",
        ])
        #expect(connection.plugin(DynamicPluginChain.self)?.plugins.count == 2)
    }

    @Test("a plugin is reachable by its type")
    func pluginByType() throws {
        let chain = PluginChain {
            Recording(name: "first", trace: trace)
            if true { Other(trace: trace) }
        }
        let connection = try openConnection(chain: chain)
        #expect(connection.plugin(Recording.self)?.name == "first")
        #expect(connection.plugin(Other.self) != nil)
        #expect(connection.plugin(EmptyPlugin.self) == nil)
    }

    @Test("AnyPlugin erases without double boxing")
    func anyPlugin() throws {
        let erased = AnyPlugin(AnyPlugin(Recording(name: "e", trace: trace)))
        #expect(erased.base is Recording)
        let connection = try openConnection(chain: PluginChain { erased })
        trace.reset()
        try connection.commit()
        #expect(trace.all == ["e.before", "e.after"])
    }
}
