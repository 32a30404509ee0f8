import Foundation
import Synchronization

/// A certificate and key kept in files that operators replace while the server runs. etcd
/// re-reads both on every handshake; this reads them again whenever either file's identity
/// (inode, size, modification time) changed since the last read, which serves each handshake
/// the files as they are without parsing them each time.
public final class KeyPairFiles: Sendable {
    public let certFile: String
    public let keyFile: String

    private struct Stamp: Equatable {
        var inode: UInt64
        var size: Int64
        var seconds: Int
        var nanoseconds: Int
    }

    private struct Loaded {
        var stamps: [Stamp?]
        var result: Result<KeyPair, TLSError>
    }

    private let loaded = Mutex<Loaded?>(nil)

    public init(certFile: String, keyFile: String) {
        self.certFile = certFile
        self.keyFile = keyFile
    }

    /// The key pair as the files hold it now; the error etcd would report when they cannot be
    /// used (missing, unparsable, mismatched).
    public func current() throws(TLSError) -> KeyPair {
        let stamps = [Self.stamp(certFile), Self.stamp(keyFile)]
        let result = loaded.withLock { cached -> Result<KeyPair, TLSError> in
            if let cached, cached.stamps == stamps, !stamps.contains(nil) { return cached.result }
            let result: Result<KeyPair, TLSError>
            do {
                result = .success(try KeyPair.load(certFile: certFile, keyFile: keyFile))
            } catch let error as TLSError {
                result = .failure(error)
            } catch {
                result = .failure(TLSError("\(error)"))
            }
            cached = Loaded(stamps: stamps, result: result)
            return result
        }
        return try result.get()
    }

    private static func stamp(_ path: String) -> Stamp? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Stamp(inode: UInt64(info.st_ino), size: Int64(info.st_size), seconds: info.st_mtim.tv_sec,
                     nanoseconds: info.st_mtim.tv_nsec)
    }
}
