import ArgumentParser
import Foundation
import HonePipeline
import HoneTensor

// OpenBLAS's kernels are chosen as it loads: run again on better ones where it fell back.
BLASKernelChoice.reexecIfPreferred()

// Usage errors exit 2, as pipeline errors do (swift-argument-parser's default would be 64).
do {
    var command = try Hone.parseAsRoot()
    try command.run()
} catch let error as LockfileError {
    FileHandle.standardError.write(Data(("hone: \(error)\n").utf8))
    exit(2)
} catch {
    let code = Hone.exitCode(for: error)
    if code == .validationFailure {
        FileHandle.standardError.write(Data((Hone.fullMessage(for: error) + "\n").utf8))
        exit(2)
    }
    Hone.exit(withError: error)
}
