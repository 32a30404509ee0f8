import EtcdProto
import GRPC
import Transport
import Watch

/// Every client-facing service of a member, registered on one router, and the plain HTTP
/// endpoints beside them.
struct ServiceSet {
    let router: Router
    let grpc: GRPCServerConfiguration
    let http: HTTPHandler
    let endpoints: HTTPEndpoints

    init(member: RaftMember, hub: WatchHub, config: ServerConfig) {
        let headers = member.headers
        var quota = BackendQuota(store: member.store, quotaBytes: config.effectiveQuotaBytes)
        quota.raiseAlarm = { [proposer = member.proposer, alarms = member.alarms, memberID = member.memberID] in
            guard !alarms.isRaised(.noSpace) else { return }
            proposer.propose({ $0.alarm = AlarmRequest(action: .activate, memberID: memberID, alarm: .noSpace) },
                             deadline: nil) { _ in }
        }
        let keys = KeySpace(store: member.store, semantics: KVSemantics(leases: member.leases, counters: member.metrics.mvcc))
        var router = Router()
        KVService(headers: headers, proposer: member.proposer, barrier: member.reads, keys: keys, quota: quota,
                  compactor: member.compactor, maxTxnOps: Int(clamping: config.maxTxnOps),
                  isLearner: { [unowned member] in member.isLearner }, gate: member.authGate).register(into: &router)
        AuthService(headers: headers, proposer: member.proposer, barrier: member.reads, gate: member.authGate)
            .register(into: &router)
        let store = member.store
        MaintenanceService(headers: headers, consensus: member, proposer: member.proposer, transfer: member,
                           alarms: member.alarms, backendPath: config.backendPath,
                           backendInUse: { store.environment.bytesInUse() }, store: store,
                           readQueue: keys.readQueue, logger: member.logger, gate: member.authGate).register(into: &router)
        member.clusterService.register(into: &router)
        LeaseService(headers: headers, proposer: member.proposer, keeper: member.forwarding, lessor: member.lessor,
                     quota: quota, gate: member.authGate).register(into: &router)
        WatchService(headers: headers, hub: hub,
                     maxResponseBytes: Int(config.maxRequestBytes) + ServerConfig.grpcOverheadBytes,
                     gate: member.authGate).register(into: &router)
        let internalClient = InternalClient()
        LockAndElectionServices(recipes: ConcurrencyRecipes(client: internalClient)).register(into: &router)
        let admission = member.admission
        router.admission = { path, call, streaming in admission.admit(path: path, call: call, streaming: streaming) }
        internalClient.bind(router)
        // Series for every method, before any call (Lock and Election appear once called).
        member.metrics.grpc.preregister(router.paths.filter { !$0.hasPrefix("/v3lockpb.") && !$0.hasPrefix("/v3electionpb.") })
        router.observer = member.metrics.grpc
        self.router = router

        var grpc = GRPCServerConfiguration()
        grpc.http2.maxConcurrentStreams = config.maxConcurrentStreams
        grpc.maxReceiveMessageBytes = Int(config.maxRequestBytes) + ServerConfig.grpcOverheadBytes
        let gateway = config.enableGRPCGateway
            ? JSONGateway(router: router, maxConcurrentStreams: config.maxConcurrentStreams) : nil
        let endpoints = HTTPEndpoints(consensus: member, membership: member.membership, alarms: member.alarms,
                                      barrier: member.reads, store: member.store, metrics: member.metrics,
                                      pendingProposals: { [registry = member.registry] in registry.count }, config: config,
                                      gateway: gateway, watchTotals: { hub.totals })
        self.endpoints = endpoints
        grpc.plainHTTPHandler = { request, responder in endpoints.handle(request, responder) }
        self.grpc = grpc
        self.http = { request, responder in endpoints.handle(request, responder) }
    }
}
