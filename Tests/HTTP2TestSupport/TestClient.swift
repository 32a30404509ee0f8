import CNghttp2
import HTTP2

/// An nghttp2 client session for tests: it talks to a server session through memory. Shared by
/// the HTTP2 and GRPC test targets.
public final class TestClient {
    public private(set) var session: OpaquePointer!
    /// Events in arrival order.
    public var events: [Event] = []
    public var receivedSettings: [Int32: UInt32] = [:]
    public var goAwayCode: UInt32?
    public var pingAcks = 0

    public enum Event: Equatable {
        case headers(stream: Int32, [HeaderField])
        case data(stream: Int32, count: Int)
        case closed(stream: Int32, code: UInt32)
    }

    private var pendingHeaders: [Int32: [HeaderField]] = [:]

    public init(initialWindow: UInt32 = 1 << 30) {
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, user in
            let client = Unmanaged<TestClient>.fromOpaque(user!).takeUnretainedValue()
            let field = HeaderField(String(decoding: UnsafeBufferPointer(start: name, count: nameLength), as: UTF8.self),
                                    String(decoding: UnsafeBufferPointer(start: value, count: valueLength), as: UTF8.self))
            client.pendingHeaders[frame!.pointee.hd.stream_id, default: []].append(field)
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, user in
            let client = Unmanaged<TestClient>.fromOpaque(user!).takeUnretainedValue()
            let header = frame!.pointee.hd
            switch UInt32(header.type) {
            case NGHTTP2_HEADERS.rawValue:
                client.events.append(.headers(stream: header.stream_id, client.pendingHeaders.removeValue(forKey: header.stream_id) ?? []))
            case NGHTTP2_SETTINGS.rawValue where header.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) == 0:
                let settings = frame!.pointee.settings
                for i in 0..<settings.niv { client.receivedSettings[settings.iv[i].settings_id] = settings.iv[i].value }
            case NGHTTP2_GOAWAY.rawValue:
                client.goAwayCode = frame!.pointee.goaway.error_code
            case NGHTTP2_PING.rawValue where header.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0:
                client.pingAcks += 1
            default: break
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, stream, _, length, user in
            let client = Unmanaged<TestClient>.fromOpaque(user!).takeUnretainedValue()
            if case .data(let s, let n)? = client.events.last, s == stream {
                client.events[client.events.count - 1] = .data(stream: stream, count: n + length)
            } else {
                client.events.append(.data(stream: stream, count: length))
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, stream, code, user in
            Unmanaged<TestClient>.fromOpaque(user!).takeUnretainedValue().events.append(.closed(stream: stream, code: code))
            return 0
        }
        var session: OpaquePointer?
        nghttp2_session_client_new(&session, callbacks, nil)
        nghttp2_session_callbacks_del(callbacks)
        self.session = session
        nghttp2_session_set_user_data(session, Unmanaged.passUnretained(self).toOpaque())
        var settings = [nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                                               value: min(initialWindow, UInt32(Int32.max)))]
        nghttp2_submit_settings(session, 0, &settings, 1)
        nghttp2_session_set_local_window_size(session, 0, 0, Int32.max)
    }

    deinit { nghttp2_session_del(session) }

    /// Opens a POST stream with gRPC headers and a body that is sent at once.
    @discardableResult
    public func request(path: String, body: [UInt8] = [], endStream: Bool = true, extraHeaders: [HeaderField] = []) -> Int32 {
        let headers = extraHeaders + [HeaderField(":method", "POST"), HeaderField(":scheme", "http"), HeaderField(":path", path),
                       HeaderField(":authority", "test"), HeaderField("content-type", "application/grpc"),
                       HeaderField("te", "trailers")]
        // Pseudo-headers must come first.
        let ordered = headers.filter { $0.name.hasPrefix(":") } + headers.filter { !$0.name.hasPrefix(":") }
        var flat: [[UInt8]] = ordered.flatMap { [Array($0.name.utf8), Array($0.value.utf8)] }
        let pointers = flat.indices.map { i -> UnsafeMutablePointer<UInt8> in
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: flat[i].count)
            p.initialize(from: &flat[i], count: flat[i].count)
            return p
        }
        defer { pointers.forEach { $0.deallocate() } }
        var nva = ordered.indices.map { i in
            nghttp2_nv(name: pointers[2 * i], value: pointers[2 * i + 1], namelen: flat[2 * i].count,
                       valuelen: flat[2 * i + 1].count, flags: 0)
        }
        bodies.append(body)
        let index = bodies.count - 1
        var provider = nghttp2_data_provider()
        provider.source.ptr = UnsafeMutableRawPointer(bitPattern: index + 1)
        provider.read_callback = { _, _, buffer, length, flags, source, user in
            let client = Unmanaged<TestClient>.fromOpaque(user!).takeUnretainedValue()
            let index = Int(bitPattern: source!.pointee.ptr) - 1
            let n = min(length, client.bodies[index].count - client.bodyOffsets[index, default: 0])
            client.bodies[index].withUnsafeBufferPointer { source in
                buffer!.update(from: source.baseAddress! + client.bodyOffsets[index, default: 0], count: n)
            }
            client.bodyOffsets[index, default: 0] += n
            if client.bodyOffsets[index]! == client.bodies[index].count { flags!.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue }
            return n
        }
        if endStream { return nghttp2_submit_request(session, nil, &nva, nva.count, &provider, nil) }
        // A body that never comes keeps the stream open (no provider would mean END_STREAM).
        var open = nghttp2_data_provider()
        open.read_callback = { _, _, _, _, _, _, _ in Int(NGHTTP2_ERR_DEFERRED.rawValue) }
        return nghttp2_submit_request(session, nil, &nva, nva.count, &open, nil)
    }

    private var bodies: [[UInt8]] = []
    private var bodyOffsets: [Int: Int] = [:]

    public func ping() {
        var payload: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        nghttp2_submit_ping(session, 0, &payload)
    }

    public func reset(_ stream: Int32) {
        nghttp2_submit_rst_stream(session, 0, stream, NGHTTP2_CANCEL.rawValue)
    }

    /// Bytes the client wants to send.
    public func output() -> [UInt8] {
        var out: [UInt8] = []
        while true {
            var pointer: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &pointer)
            if n <= 0 { break }
            out.append(contentsOf: UnsafeBufferPointer(start: pointer, count: n))
        }
        return out
    }

    public func receive(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { _ = nghttp2_session_mem_recv(session, $0.baseAddress, $0.count) }
    }
}

/// Moves bytes between a client and a server session until neither has anything to say.
public func exchange(_ client: TestClient, _ server: HTTP2ServerSession, serverChunk: Int = 1 << 20) throws {
    for _ in 0..<1000 {
        let toServer = client.output()
        if !toServer.isEmpty { try toServer.withUnsafeBytes { try server.receive($0) } }
        var toClient: [UInt8] = []
        try server.produceOutput(limit: serverChunk) { toClient.append(contentsOf: $0) }
        if !toClient.isEmpty { client.receive(toClient) }
        if toServer.isEmpty && toClient.isEmpty { return }
    }
}
