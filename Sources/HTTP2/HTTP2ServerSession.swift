import CNghttp2

/// A header field. Names are lower-case, as HTTP/2 requires.
public struct HeaderField: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// Receives the events of an HTTP/2 server session. Calls arrive synchronously from inside
/// `receive` (and, for `streamClosed`, also from `produceOutput`).
public protocol HTTP2SessionDelegate: AnyObject {
    /// A request's header block is complete.
    func streamOpened(_ stream: Int32, headers: [HeaderField])
    func streamData(_ stream: Int32, _ bytes: UnsafeRawBufferPointer)
    /// The peer finished sending on the stream (END_STREAM).
    func streamEnded(_ stream: Int32)
    /// nghttp2 took `count` body bytes of the stream's response for sending.
    func streamDataSent(_ stream: Int32, count: Int)
    /// The stream is gone: completed, reset by either side, or the connection is ending.
    /// `errorCode` is the HTTP/2 error code (0 for a normal close).
    func streamClosed(_ stream: Int32, errorCode: UInt32)
}

public struct HTTP2Settings: Sendable {
    /// SETTINGS_MAX_CONCURRENT_STREAMS advertised to the client.
    public var maxConcurrentStreams: UInt32 = UInt32.max
    /// Initial flow-control window for each stream the client opens.
    public var initialStreamWindow: Int32 = 1 << 20
    /// Connection-level receive window.
    public var connectionWindow: Int32 = 16 << 20
    /// RST_STREAM frames a client may send in a burst, and the rate the allowance refills per
    /// second; past it the connection is closed with ENHANCE_YOUR_CALM (HTTP/2 rapid reset).
    public var resetBurst: Int = 1000
    public var resetRefillPerSecond: Int = 33

    public init() {}
}

public struct HTTP2Error: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public var description: String { "nghttp2: " + String(cString: nghttp2_strerror(code)) }
}

/// The error codes of RFC 9113 §7 that the server sends.
public enum HTTP2ErrorCode: UInt32, Sendable {
    case noError = 0x0
    case protocolError = 0x1
    case internalError = 0x2
    case flowControlError = 0x3
    case refusedStream = 0x7
    case cancel = 0x8
    case enhanceYourCalm = 0xB
}

/// An nghttp2 server session: bytes in through `receive`, bytes out through `produceOutput`.
/// It never touches a socket and is confined to one thread (the connection's event loop).
///
/// Responses are submitted per stream; response bodies are queued here and handed to nghttp2
/// on demand through a data source, so nghttp2 interleaves DATA frames of concurrent streams
/// within the peer's flow-control windows instead of one large body hogging the connection.
public final class HTTP2ServerSession {
    private var session: OpaquePointer?
    public weak var delegate: HTTP2SessionDelegate?
    private var requestHeaders: [Int32: [HeaderField]] = [:]
    private var outbound: [Int32: OutboundStream] = [:]
    private let settings: HTTP2Settings
    private var resetAllowance: Double
    private var lastResetRefill: UInt64
    private let clock: () -> UInt64

    /// Body bytes queued for a stream but not yet taken by nghttp2.
    struct OutboundStream {
        var chunks: [[UInt8]] = []
        var chunkOffset = 0
        var queuedBytes = 0
        var ended = false
        var trailers: [HeaderField]? = nil
        /// nghttp2 is waiting for more data (the source returned DEFERRED).
        var deferred = false
    }

    /// - Parameter clock: monotonic nanoseconds, injected so tests control time.
    public init(settings: HTTP2Settings, clock: @escaping () -> UInt64) throws {
        self.settings = settings
        self.clock = clock
        self.resetAllowance = Double(settings.resetBurst)
        self.lastResetRefill = clock()
        var callbacks: OpaquePointer?
        guard nghttp2_session_callbacks_new(&callbacks) == 0, let callbacks else { throw HTTP2Error(code: NGHTTP2_ERR_NOMEM.rawValue) }
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, onBeginHeaders)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeader)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameReceived)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunk)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamClose)
        var option: OpaquePointer?
        guard nghttp2_option_new(&option) == 0, let option else { throw HTTP2Error(code: NGHTTP2_ERR_NOMEM.rawValue) }
        defer { nghttp2_option_del(option) }
        // Enforce our own advertised stream limit from the first frame, not only after ACK.
        nghttp2_option_set_max_reserved_remote_streams(option, 0)
        // nghttp2's HTTP checks refuse an `:authority` that is a URL, which grpc-go sends for
        // a target like "http://host:port" (etcdctl's per-endpoint clients) and Go's server
        // accepts. The request checks that matter here are made in `frameReceived`.
        nghttp2_option_set_no_http_messaging(option, 1)
        var newSession: OpaquePointer?
        let rc = nghttp2_session_server_new2(&newSession, callbacks, nil, option)
        guard rc == 0, let newSession else { throw HTTP2Error(code: rc) }
        session = newSession
        nghttp2_session_set_user_data(newSession, Unmanaged.passUnretained(self).toOpaque())
        var entries = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
                                   value: settings.maxConcurrentStreams),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                                   value: UInt32(settings.initialStreamWindow)),
        ]
        let submitted = nghttp2_submit_settings(newSession, UInt8(NGHTTP2_FLAG_NONE.rawValue), &entries, entries.count)
        guard submitted == 0 else { throw HTTP2Error(code: submitted) }
        nghttp2_session_set_local_window_size(newSession, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, settings.connectionWindow)
    }

    deinit {
        if let session { nghttp2_session_del(session) }
    }

    /// Feeds bytes from the peer. Throws on a protocol violation; the session has then queued
    /// a GOAWAY, and the caller should flush output and close.
    public func receive(_ bytes: UnsafeRawBufferPointer) throws {
        guard let session, let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        let rc = nghttp2_session_mem_recv(session, base, bytes.count)
        if rc < 0 {
            if rc != NGHTTP2_ERR_BAD_CLIENT_MAGIC.rawValue {
                nghttp2_session_terminate_session(session, HTTP2ErrorCode.protocolError.rawValue)
            }
            throw HTTP2Error(code: Int32(rc))
        }
    }

    /// Serializes pending frames, handing each chunk to `emit`, until nothing is pending or
    /// about `limit` bytes were produced. Returns the byte count.
    @discardableResult
    public func produceOutput(limit: Int, _ emit: (UnsafeRawBufferPointer) -> Void) throws -> Int {
        guard let session else { return 0 }
        var total = 0
        while total < limit {
            var pointer: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &pointer)
            if n < 0 { throw HTTP2Error(code: Int32(n)) }
            guard n > 0, let pointer else { break }
            emit(UnsafeRawBufferPointer(start: pointer, count: n))
            total += n
        }
        return total
    }

    /// True while the session expects more input or has output to send; when both are false
    /// the connection can be closed.
    public var isActive: Bool {
        guard let session else { return false }
        return nghttp2_session_want_read(session) != 0 || nghttp2_session_want_write(session) != 0
    }

    public var wantsWrite: Bool {
        guard let session else { return false }
        return nghttp2_session_want_write(session) != 0
    }

    // MARK: responses

    /// Starts a response whose body follows through `sendData`.
    public func startResponse(_ stream: Int32, headers: [HeaderField]) {
        guard let session else { return }
        outbound[stream] = OutboundStream()
        var provider = cnghttp2_data_provider(HTTP2.readBodyCallback)
        let rc = withNameValues(headers) { nva in
            nghttp2_submit_response(session, stream, nva.baseAddress, nva.count, &provider)
        }
        if rc != 0 { outbound[stream] = nil }
    }

    /// Sends a response that consists of headers only and ends the stream.
    public func sendHeadersOnly(_ stream: Int32, headers: [HeaderField]) {
        guard let session else { return }
        _ = withNameValues(headers) { nva in
            nghttp2_submit_response(session, stream, nva.baseAddress, nva.count, nil)
        }
    }

    /// Queues body bytes for a stream started with `startResponse`.
    public func sendData(_ stream: Int32, _ bytes: [UInt8]) {
        guard !bytes.isEmpty, outbound[stream] != nil else { return }
        outbound[stream]!.chunks.append(bytes)
        outbound[stream]!.queuedBytes += bytes.count
        resumeIfDeferred(stream)
    }

    /// Ends the body; the trailers, if any, follow it.
    public func finish(_ stream: Int32, trailers: [HeaderField]?) {
        guard outbound[stream] != nil else { return }
        outbound[stream]!.ended = true
        outbound[stream]!.trailers = trailers
        resumeIfDeferred(stream)
    }

    /// Body bytes queued for `stream` that nghttp2 has not taken yet.
    public func queuedBytes(_ stream: Int32) -> Int { outbound[stream]?.queuedBytes ?? 0 }

    public func resetStream(_ stream: Int32, code: HTTP2ErrorCode) {
        guard let session else { return }
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream, code.rawValue)
    }

    /// Sends GOAWAY; no new streams are accepted.
    public func terminate(code: HTTP2ErrorCode) {
        guard let session else { return }
        nghttp2_session_terminate_session(session, code.rawValue)
    }

    private func resumeIfDeferred(_ stream: Int32) {
        guard let session, outbound[stream]?.deferred == true else { return }
        outbound[stream]!.deferred = false
        nghttp2_session_resume_data(session, stream)
    }

    // MARK: callbacks from nghttp2

    fileprivate func beginHeaders(_ stream: Int32) {
        requestHeaders[stream] = []
    }

    fileprivate func header(_ stream: Int32, name: String, value: String) {
        requestHeaders[stream]?.append(HeaderField(name, value))
    }

    fileprivate func frameReceived(type: UInt8, flags: UInt8, stream: Int32, category: nghttp2_headers_category?) -> Int32 {
        let endStream = flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        switch Int(type) {
        case Int(NGHTTP2_HEADERS.rawValue):
            if category == NGHTTP2_HCAT_REQUEST, let headers = requestHeaders.removeValue(forKey: stream) {
                guard HTTP2ServerSession.isWellFormedRequest(headers) else {
                    // RFC 9113 §8.1.1: a malformed request is a stream error.
                    if let session {
                        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream,
                                                  HTTP2ErrorCode.protocolError.rawValue)
                    }
                    return 0
                }
                delegate?.streamOpened(stream, headers: headers)
            }
            requestHeaders[stream] = nil
            if endStream { delegate?.streamEnded(stream) }
        case Int(NGHTTP2_DATA.rawValue):
            if endStream { delegate?.streamEnded(stream) }
        case Int(NGHTTP2_RST_STREAM.rawValue):
            if !allowReset(), let session {
                nghttp2_session_terminate_session(session, HTTP2ErrorCode.enhanceYourCalm.rawValue)
            }
        default:
            break
        }
        return 0
    }

    /// A request header block as RFC 9113 §8.3 requires it: `:method` and `:path` (and for
    /// anything but CONNECT, `:scheme`) once each, pseudo-headers first, no connection-specific
    /// fields, lower-case names.
    static func isWellFormedRequest(_ headers: [HeaderField]) -> Bool {
        var seen: Set<String> = []
        var regular = false
        for header in headers {
            if header.name.hasPrefix(":") {
                guard !regular, [":method", ":path", ":scheme", ":authority"].contains(header.name),
                      seen.insert(header.name).inserted, !header.value.isEmpty else { return false }
            } else {
                regular = true
                guard header.name == header.name.lowercased(),
                      !["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"].contains(header.name)
                else { return false }
                if header.name == "te" && header.value != "trailers" { return false }
            }
        }
        return seen.contains(":method") && seen.contains(":path") && seen.contains(":scheme")
    }

    /// Token bucket over the client's RST_STREAM frames.
    private func allowReset() -> Bool {
        let now = clock()
        let elapsed = Double(now &- lastResetRefill) / 1e9
        lastResetRefill = now
        resetAllowance = min(Double(settings.resetBurst), resetAllowance + elapsed * Double(settings.resetRefillPerSecond))
        guard resetAllowance >= 1 else { return false }
        resetAllowance -= 1
        return true
    }

    fileprivate func streamClosed(_ stream: Int32, errorCode: UInt32) {
        requestHeaders[stream] = nil
        outbound[stream] = nil
        delegate?.streamClosed(stream, errorCode: errorCode)
    }

    fileprivate func dataChunk(_ stream: Int32, _ bytes: UnsafeRawBufferPointer) {
        delegate?.streamData(stream, bytes)
    }

    /// Copies queued body bytes into nghttp2's frame buffer.
    fileprivate func readBody(_ stream: Int32, into buffer: UnsafeMutablePointer<UInt8>, length: Int,
                              flags: UnsafeMutablePointer<UInt32>) -> Int {
        guard var state = outbound[stream] else { return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue) }
        var copied = 0
        while copied < length, !state.chunks.isEmpty {
            let chunk = state.chunks[0]
            let n = min(length - copied, chunk.count - state.chunkOffset)
            chunk.withUnsafeBytes { source in
                (buffer + copied).update(from: source.baseAddress!.assumingMemoryBound(to: UInt8.self) + state.chunkOffset, count: n)
            }
            copied += n
            state.chunkOffset += n
            if state.chunkOffset == chunk.count {
                state.chunks.removeFirst()
                state.chunkOffset = 0
            }
        }
        state.queuedBytes -= copied
        if copied > 0 { delegate?.streamDataSent(stream, count: copied) }
        if state.chunks.isEmpty && state.ended {
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            if let trailers = state.trailers, let session {
                flags.pointee |= NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
                _ = withNameValues(trailers) { nva in nghttp2_submit_trailer(session, stream, nva.baseAddress, nva.count) }
            }
            outbound[stream] = state
            return copied
        }
        if copied == 0 {
            state.deferred = true
            outbound[stream] = state
            return Int(NGHTTP2_ERR_DEFERRED.rawValue)
        }
        outbound[stream] = state
        return copied
    }
}

/// Builds nghttp2's name/value array for the duration of `body` (nghttp2 copies the fields
/// when a frame is submitted). Names and values share one flat buffer.
private func withNameValues<R>(_ headers: [HeaderField], _ body: (UnsafeMutableBufferPointer<nghttp2_nv>) -> R) -> R {
    var flat: [UInt8] = []
    var lengths: [(Int, Int)] = []
    for header in headers {
        let name = Array(header.name.utf8), value = Array(header.value.utf8)
        lengths.append((name.count, value.count))
        flat += name
        flat += value
    }
    return flat.withUnsafeMutableBufferPointer { storage in
        var nva: [nghttp2_nv] = []
        nva.reserveCapacity(headers.count)
        var offset = 0
        for (nameLength, valueLength) in lengths {
            let base = storage.baseAddress ?? UnsafeMutablePointer(bitPattern: 1)!
            nva.append(nghttp2_nv(name: base + offset, value: base + offset + nameLength, namelen: nameLength,
                                  valuelen: valueLength, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
            offset += nameLength + valueLength
        }
        return nva.withUnsafeMutableBufferPointer { body($0) }
    }
}

@inline(__always)
private func owner(_ userData: UnsafeMutableRawPointer?) -> HTTP2ServerSession? {
    guard let userData else { return nil }
    return Unmanaged<HTTP2ServerSession>.fromOpaque(userData).takeUnretainedValue()
}

private let onBeginHeaders: nghttp2_on_begin_headers_callback = { _, frame, userData in
    guard let frame, let session = owner(userData) else { return 0 }
    if frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue), frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST {
        session.beginHeaders(frame.pointee.hd.stream_id)
    }
    return 0
}

private let onHeader: nghttp2_on_header_callback = { _, frame, name, nameLength, value, valueLength, _, userData in
    guard let frame, let name, let value, let session = owner(userData) else { return 0 }
    let nameString = String(decoding: UnsafeBufferPointer(start: name, count: nameLength), as: UTF8.self)
    let valueString = String(decoding: UnsafeBufferPointer(start: value, count: valueLength), as: UTF8.self)
    session.header(frame.pointee.hd.stream_id, name: nameString, value: valueString)
    return 0
}

private let onFrameReceived: nghttp2_on_frame_recv_callback = { _, frame, userData in
    guard let frame, let session = owner(userData) else { return 0 }
    let type = frame.pointee.hd.type
    let category: nghttp2_headers_category? = type == UInt8(NGHTTP2_HEADERS.rawValue) ? frame.pointee.headers.cat : nil
    return session.frameReceived(type: type, flags: frame.pointee.hd.flags, stream: frame.pointee.hd.stream_id,
                                 category: category)
}

private let onDataChunk: nghttp2_on_data_chunk_recv_callback = { _, _, stream, data, length, userData in
    guard let data, let session = owner(userData) else { return 0 }
    session.dataChunk(stream, UnsafeRawBufferPointer(start: data, count: length))
    return 0
}

private let onStreamClose: nghttp2_on_stream_close_callback = { _, stream, errorCode, userData in
    owner(userData)?.streamClosed(stream, errorCode: errorCode)
    return 0
}

let readBodyCallback: nghttp2_data_source_read_callback = { _, stream, buffer, length, flags, _, userData in
    guard let buffer, let flags, let session = owner(userData) else {
        return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
    }
    return session.readBody(stream, into: buffer, length: length, flags: flags)
}
