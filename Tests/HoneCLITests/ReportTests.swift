import Foundation
import Testing

/// `hone report`: one self-contained HTML file with the stage graph, the differing params and
/// the training curves of two experiments overlaid; rendered by headless Chromium when it is
/// installed (Debian's `chromium`), which must draw the plots.
@Suite struct ReportTests {
    static let pipeline = """
    seed: 2
    stages:
      tok: {kind: tokenize, inputs: {train: text.txt, val: val.txt}, params: {vocab_size: 280}}
      lm:
        kind: pretrain
        inputs: {data: tok.data, tokenizer: tok.tokenizer}
        params: {hidden_size: 16, layers: 1, heads: 2, seq_len: 16, batch_size: 4, steps: 12, eval_every: 4}
    """

    static func chromium() -> String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test func twoExperimentsGiveOneFileWithTheGraphAndOverlaidCurves() throws {
        let box = try Sandbox()
        try box.write("p.yaml", Self.pipeline)
        let text = (0..<80).map { "the river \($0 % 7) runs under the hill \($0 % 5)" }.joined(separator: "\n") + "\n"
        try box.write("text.txt", text)
        try box.write("val.txt", String(text.prefix(400)) + "\n")
        let run = try box.hone("run", "p.yaml", "--sweep", "lm.lr=0.01,0.003")
        try #require(run.status == 0, "\(run.all)")
        let made = try box.hone("report", "-p", "p.yaml", "-o", "report.html", "--tensorboard", "tb", "--jsonl", "metrics")
        #expect(made.status == 0 && made.out.contains("2 experiments") && made.out.contains("2 TensorBoard runs"), "\(made.all)")
        // One JSONL per stage and experiment: the training steps, then the final metrics.
        #expect(made.out.contains("Wrote 4 metrics files under metrics"), "\(made.out)")
        let folders = try FileManager.default.contentsOfDirectory(atPath: box.path("metrics"))
        for id in folders {
            let lm = try #require(box.read("metrics/\(id)/lm.jsonl")).split(separator: "\n")
            #expect(lm.filter { $0.contains("\"loss\":") && $0.contains("\"step\":") }.count == 12, "\(lm)")
            #expect(lm.last?.contains("\"final\":true") == true && lm.last?.contains("\"val_loss\":") == true, "\(lm.last ?? "")")
            let tok = try #require(box.read("metrics/\(id)/tok.jsonl")).split(separator: "\n")
            #expect(tok.count == 1 && tok[0].contains("\"vocab_size\":280"), "\(tok)")
        }
        #expect(folders.count == 2)
        let html = try #require(box.read("report.html"))
        // Self-contained: no script, no stylesheet or image from elsewhere.
        #expect(!html.contains("<script") && !html.contains("<link") && !html.contains("src="))
        #expect(html.contains("<svg class=\"dag\"") && html.contains(">tok<") && html.contains(">lm<"))
        #expect(html.contains("<td>lm.lr</td><td>0.01</td><td>0.003</td>"), "the differing param")
        // Each curve chart holds one non-empty line per experiment.
        let charts = html.components(separatedBy: "<svg class=\"chart\"").dropFirst()
        #expect(charts.count >= 3, "loss, val_loss and lr charts")
        for chart in charts {
            let lines = chart.components(separatedBy: "class=\"line\"").count - 1
            #expect(lines == 2 && chart.contains("<path d=\"M"), "\(chart.prefix(200))")
        }

        guard let chromium = Self.chromium() else {
            print("skipped: headless Chromium rendering of the report (no chromium; `apt-get install chromium`)")
            return
        }
        let page = "file://" + box.path("report.html")
        let shot = box.path("report.png")
        let render = Process()
        render.executableURL = URL(fileURLWithPath: chromium)
        render.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,1400",
                            "--screenshot=\(shot)", page]
        render.standardOutput = FileHandle.nullDevice; render.standardError = FileHandle.nullDevice
        try render.run(); render.waitUntilExit()
        let png = try Data(contentsOf: URL(fileURLWithPath: shot))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 20_000, "screenshot of \(png.count) bytes")
        // The DOM Chromium built has the plots' paths, with their points.
        let dom = Pipe()
        let dump = Process()
        dump.executableURL = URL(fileURLWithPath: chromium)
        dump.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page]
        dump.standardOutput = dom; dump.standardError = FileHandle.nullDevice
        try dump.run()
        let rendered = String(decoding: dom.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        dump.waitUntilExit()
        #expect(rendered.components(separatedBy: "class=\"line\"").count - 1 == 2 * charts.count, "every line in the rendered page")
    }

    /// The event files read back by tensorboard's own EventAccumulator hold the histories' values.
    @Test func tensorBoardReadsTheEventFiles() throws {
        let python = ProcessInfo.processInfo.environment["HONE_PYTHON"] ?? Sandbox.repo.appendingPathComponent(".venv/bin/python").path
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: python)
        probe.arguments = ["-c", "import tensorboard"]
        probe.standardOutput = FileHandle.nullDevice; probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil, { probe.waitUntilExit(); return probe.terminationStatus == 0 }() else {
            print("skipped: reading TensorBoard event files back (no tensorboard in \(python); `make deps` installs it)")
            return
        }
        let box = try Sandbox()
        try box.write("p.yaml", Self.pipeline)
        let text = (0..<80).map { "the river \($0 % 7) runs under the hill \($0 % 5)" }.joined(separator: "\n") + "\n"
        try box.write("text.txt", text)
        try box.write("val.txt", String(text.prefix(400)) + "\n")
        try #require(try box.hone("run", "p.yaml").status == 0)
        try #require(try box.hone("report", "-p", "p.yaml", "-o", "r.html", "--tensorboard", "tb").status == 0)
        let read = Process(), out = Pipe()
        read.executableURL = URL(fileURLWithPath: python)
        read.arguments = [Sandbox.repo.appendingPathComponent("Tests/oracles/tensorboard_scalars.py").path, box.path("tb")]
        read.standardOutput = out
        try read.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        read.waitUntilExit()
        let runs = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: [[Double]]]])
        let lm = try #require(runs.first { $0.key.hasSuffix("/lm") }?.value)
        let history = try #require(box.read(".hone/outputs/lm/metrics/history.jsonl")).split(separator: "\n").compactMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Double]
        }
        let losses = history.compactMap { h in h["loss"].map { [h["step"] ?? -1, $0] } }
        #expect(lm["loss"]?.count == 12 && losses.count == 12)
        for (a, b) in zip(lm["loss"] ?? [], losses) { #expect(a[0] == b[0] && abs(a[1] - b[1]) < 1e-5 * max(1, abs(b[1]))) }
        #expect(lm["val_loss"]?.map { $0[0] } == [4, 8, 12])
    }
}
