import ArgumentParser

struct Hone: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hone",
        abstract: "Run LLM fine-tuning pipelines as cached, resumable, content-addressed stages.",
        version: "0.1.0",
        subcommands: [])
}
