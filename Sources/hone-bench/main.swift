import Foundation
import HoneTensor

// `make bench` figures, one JSON line each:
//   hone-bench store [REPS]                       the object store beside zlib-1 + SHA-256
//   hone-bench tokenizer CORPUS [HF_4096.json HF_8192.json]   BPE training and encoding
//   hone-bench matmul                             the linear layer at 1 and 2 threads
//   hone-bench train A|B THREADS [STEPS WARMUP]   a training step beside PyTorch's configs
//   hone-bench smollm2 lora|qlora|full GGUF THREADS SEQ BATCH [RANK STEPS WARMUP]   fine-tuning steps on SmolLM2
//   hone-bench generate GGUF THREADS [PROMPT GENERATE REPS]   prefill and generation on SmolLM2
BLASKernelChoice.reexecIfPreferred()  // the kernels hone itself runs (see BLASKernelChoice)
let args = Array(CommandLine.arguments.dropFirst())
switch args.first {
case "store": try storeBench(reps: Int(args.dropFirst().first ?? "3") ?? 3)
case "matmul": matmulBench()
case "train":
    let rest = args.dropFirst().map { $0 }
    trainBench(config: rest.first ?? "A", threads: rest.count > 1 ? Int(rest[1]) ?? 1 : 1,
               steps: rest.count > 2 ? Int(rest[2]) ?? 10 : 10, warmup: rest.count > 3 ? Int(rest[3]) ?? 2 : 2)
case "smollm2":
    let r = Array(args.dropFirst())
    func int(_ i: Int, _ d: Int) -> Int { r.count > i ? Int(r[i]) ?? d : d }
    try smolLM2Bench(method: r.first ?? "lora", gguf: r.count > 1 ? r[1] : "models/SmolLM2-135M-Instruct.Q4_1.gguf",
                     threads: int(2, 2), seq: int(3, 256), batch: int(4, 4), rank: int(5, 8), steps: int(6, 4), warmup: int(7, 1))
case "generate":
    let r = Array(args.dropFirst())
    func int(_ i: Int, _ d: Int) -> Int { r.count > i ? Int(r[i]) ?? d : d }
    try generateBench(gguf: r.first ?? "models/SmolLM2-135M-Instruct.Q4_1.gguf", threads: int(1, 2), prompt: int(2, 256),
                      generate: int(3, 64), reps: int(4, 3))
case "tokenizer": try tokenizerBench(corpus: args.dropFirst().first ?? "/tmp/bpe_corpus.txt", hf: Array(args.dropFirst(2)))
default:
    FileHandle.standardError.write(Data("usage: hone-bench store [REPS] | tokenizer CORPUS [HF_JSON...] | matmul | train A|B THREADS [STEPS WARMUP] | smollm2 lora|qlora|full GGUF THREADS SEQ BATCH [RANK STEPS WARMUP] | generate GGUF THREADS [PROMPT GENERATE REPS]\n".utf8))
    exit(2)
}
