import HonePipeline
import HoneStages
import Testing

@Suite struct RegistryTests {
    @Test func kindNamesAreUniqueAndNotShell() {
        let names = BuiltinKinds.all.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(!names.contains("shell"))
    }
}
