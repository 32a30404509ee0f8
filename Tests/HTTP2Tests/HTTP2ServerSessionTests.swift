import CNghttp2
import HTTP2TestSupport
import Testing
@testable import HTTP2

/// Records what the server session reports.
final class RecordingDelegate: HTTP2SessionDelegate {
    var opened: [(Int32, [HeaderField])] = []
    var data: [Int32: Int] = [:]
    var ended: [Int32] = []
    var closed: [(Int32, UInt32)] = []

    func streamOpened(_ stream: Int32, headers: [HeaderField]) { opened.append((stream, headers)) }
    func streamData(_ stream: Int32, _ bytes: UnsafeRawBufferPointer) { data[stream, default: 0] += bytes.count }
    func streamEnded(_ stream: Int32) { ended.append(stream) }
    var sent: [Int32: Int] = [:]
    func streamDataSent(_ stream: Int32, count: Int) { sent[stream, default: 0] += count }
    func streamClosed(_ stream: Int32, errorCode: UInt32) { closed.append((stream, errorCode)) }
}

@Suite struct HTTP2ServerSessionTests {
    var now: UInt64 = 0

    func makeServer(_ settings: HTTP2Settings = HTTP2Settings(), delegate: RecordingDelegate) throws -> HTTP2ServerSession {
        let server = try HTTP2ServerSession(settings: settings, clock: { 0 })
        server.delegate = delegate
        return server
    }

    @Test func advertisesTheConfiguredStreamLimit() throws {
        var settings = HTTP2Settings()
        settings.maxConcurrentStreams = 17
        let delegate = RecordingDelegate()
        let server = try makeServer(settings, delegate: delegate)
        let client = TestClient()
        client.request(path: "/svc/m")
        try exchange(client, server)
        #expect(client.receivedSettings[Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue)] == 17)
        #expect(delegate.opened.count == 1)
        #expect(delegate.ended == [1])
    }

    /// A huge response on one stream must not hold back a small one on the same connection:
    /// once the small response is submitted it completes within a few DATA frames of the big one.
    @Test func smallResponseIsNotStarvedByAHugeOne() throws {
        let delegate = RecordingDelegate()
        let server = try makeServer(delegate: delegate)
        let client = TestClient()
        let big = client.request(path: "/big")
        let small = client.request(path: "/small")
        try exchange(client, server)
        server.startResponse(big, headers: [HeaderField(":status", "200")])
        for _ in 0..<50 { server.sendData(big, [UInt8](repeating: 7, count: 1 << 20)) }
        server.finish(big, trailers: [HeaderField("grpc-status", "0")])
        // Let the big response get going, as a socket would: 256 KiB at a time.
        for _ in 0..<4 { try exchange(client, server, serverChunk: 256 << 10) }
        server.startResponse(small, headers: [HeaderField(":status", "200")])
        server.sendData(small, [UInt8](repeating: 1, count: 100))
        server.finish(small, trailers: [HeaderField("grpc-status", "0")])
        var bigBytesAfterSmallSubmitted = 0
        var smallDone = false
        for _ in 0..<400 where !smallDone {
            let before = client.events.count
            var chunk: [UInt8] = []
            try server.produceOutput(limit: 64 << 10) { chunk.append(contentsOf: $0) }
            client.receive(chunk)
            client.receive([])
            _ = client.output()
            for event in client.events[before...] {
                if case .data(big, let n) = event { bigBytesAfterSmallSubmitted += n }
                if case .closed(small, 0) = event { smallDone = true }
            }
        }
        #expect(smallDone)
        #expect(bigBytesAfterSmallSubmitted < 256 << 10, "the big stream sent \(bigBytesAfterSmallSubmitted) bytes first")
    }

    /// gRPC clients send keepalive PINGs; they must be acknowledged or the client drops the
    /// connection.
    @Test func keepalivePingsAreAnswered() throws {
        let delegate = RecordingDelegate()
        let server = try makeServer(delegate: delegate)
        let client = TestClient()
        client.ping()
        client.ping()
        try exchange(client, server)
        #expect(client.pingAcks == 2)
    }

    @Test func rapidResetClosesTheConnection() throws {
        var settings = HTTP2Settings()
        settings.resetBurst = 100
        settings.resetRefillPerSecond = 1
        let delegate = RecordingDelegate()
        let server = try makeServer(settings, delegate: delegate)
        let client = TestClient()
        for _ in 0..<300 {
            // The HEADERS must reach the server before the reset (nghttp2 drops both otherwise).
            let stream = client.request(path: "/svc/m", endStream: false)
            try? exchange(client, server)
            client.reset(stream)
            try? exchange(client, server)
            if client.goAwayCode != nil { break }
        }
        #expect(client.goAwayCode == 0xB, "ENHANCE_YOUR_CALM")
        #expect(!server.isActive || !server.wantsWrite)
    }

    @Test func badClientMagicIsRejected() throws {
        let delegate = RecordingDelegate()
        let server = try makeServer(delegate: delegate)
        let bytes = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        #expect(throws: HTTP2Error.self) { try bytes.withUnsafeBytes { try server.receive($0) } }
    }

    /// A malformed frame is a connection error: the server answers with GOAWAY and stops.
    @Test func malformedFrameEndsTheConnectionWithGoAway() throws {
        let delegate = RecordingDelegate()
        let server = try makeServer(delegate: delegate)
        let client = TestClient()
        client.request(path: "/svc/m")
        try exchange(client, server)
        // A SETTINGS frame whose length is not a multiple of 6: FRAME_SIZE_ERROR.
        let bad: [UInt8] = [0, 0, 8, 0x4, 0, 0, 0, 0, 0] + [UInt8](repeating: 0xEE, count: 8)
        try? bad.withUnsafeBytes { try server.receive($0) }
        var out: [UInt8] = []
        try server.produceOutput(limit: 1 << 20) { out.append(contentsOf: $0) }
        client.receive(out)
        #expect(client.goAwayCode == 0x6, "FRAME_SIZE_ERROR")
        #expect(!server.isActive)
    }

    @Test func clientResetIsReportedAndDropsQueuedData() throws {
        let delegate = RecordingDelegate()
        let server = try makeServer(delegate: delegate)
        let client = TestClient()
        let stream = client.request(path: "/svc/m")
        try exchange(client, server)
        server.startResponse(stream, headers: [HeaderField(":status", "200")])
        server.sendData(stream, [UInt8](repeating: 1, count: 10))
        client.reset(stream)
        try exchange(client, server)
        #expect(delegate.closed.contains { $0.0 == stream && $0.1 == NGHTTP2_CANCEL.rawValue })
        #expect(server.queuedBytes(stream) == 0)
    }
}
