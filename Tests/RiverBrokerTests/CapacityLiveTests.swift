import Foundation
import RiverCore
import RiverTestSupport
import Testing

@testable import RiverBroker

/// Clients learn the workers' slots from the proxy (CAPACITY answers their heartbeats), over real
/// ZeroMQ sockets on 127.0.0.1.
@Suite(.serialized) struct CapacityLiveTests {
    static let heartbeat = Duration.milliseconds(100)

    func worker(_ proxy: BrokerProxy, slots: Int, name: String) -> BrokerWorker {
        BrokerWorker(
            connect: proxy.backendEndpoint,
            configuration: WorkerConfiguration(slots: slots, name: name, heartbeatInterval: Self.heartbeat),
            handler: sleepyHandler(name, delay: .seconds(2)))
    }

    @Test func idleClientLearnsTheSlotsOfTwoWorkersAndSeesThemDropWhenOneStops() async throws {
        let proxy = try BrokerProxy(
            frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*",
            configuration: ProxyConfiguration(heartbeatInterval: Self.heartbeat), statsInterval: nil)
        defer { proxy.stop() }
        let client = BrokerClient(
            connect: proxy.frontendEndpoint,
            configuration: ClientConfiguration(heartbeatInterval: Self.heartbeat))
        defer { client.close() }
        let two = worker(proxy, slots: 2, name: "two")
        defer { two.stop() }
        let three = worker(proxy, slots: 3, name: "three")
        defer { three.stop() }

        #expect(await waitUntil { client.capacity?.totalSlots == 5 })
        let first = try #require(client.capacity)
        #expect(first.workers == 2)
        #expect(first.freeSlots == 5)

        // Idle (nothing sent): the figure is still renewed at each heartbeat.
        #expect(await waitUntil { (client.capacity?.learnedAt ?? first.learnedAt) > first.learnedAt })
        #expect(client.counters.sent == 0)

        // A request held by a worker shows as one slot less free.
        let held = Task { await client.attempt(budget: .seconds(5)) }
        #expect(await waitUntil { client.capacity?.freeSlots == 4 })
        #expect(client.capacity?.totalSlots == 5)

        three.stop()
        #expect(await waitUntil { client.capacity?.totalSlots == 2 })
        #expect(client.capacity?.workers == 1)
        _ = await held.value
        #expect(await waitUntil { client.capacity?.freeSlots == 2 })
        #expect(client.counters.malformed == 0)
    }

    @Test func capacityIsUnknownUntilTheProxyAnswersAndAfterItIsGone() async throws {
        let proxy = try BrokerProxy(
            frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*",
            configuration: ProxyConfiguration(heartbeatInterval: Self.heartbeat), statsInterval: nil)
        defer { proxy.stop() }  // idempotent
        let client = BrokerClient(
            connect: proxy.frontendEndpoint,
            configuration: ClientConfiguration(heartbeatInterval: Self.heartbeat))
        defer { client.close() }
        #expect(client.capacity == nil)
        #expect(await waitUntil { client.capacity != nil })
        #expect(client.capacity?.totalSlots == 0)
        proxy.stop()
        // Silent for `liveness` heartbeats: the client drops the connection and forgets the figure.
        #expect(await waitUntil { client.capacity == nil })
    }
}
