import ArgumentParser
import Foundation

struct Hone: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hone",
        abstract: "Run LLM fine-tuning pipelines as cached, resumable, content-addressed stages.",
        discussion: "Exit status: 0 ok, 1 a stage failed (or the store is damaged), 2 usage or pipeline error.",
        version: "0.1.0",
        subcommands: [Run.self, Status.self, Dag.self, Show.self, Summary.self, Exp.self, Report.self, Logs.self, Export.self, Validate.self,
                      Verify.self, GC.self, Repro.self, Kinds.self, Generate.self, BLASCore.self, RemoteCommand.self, Push.self, Pull.self, ExecStage.self])
}
