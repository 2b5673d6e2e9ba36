import Foundation

/// Reading LM-head logits as a policy: the log-probability of the token taken and the entropy
/// of one row, and the gradient of a loss that depends on log-probabilities only, written over
/// the row (d loss/d logits = g·(onehot(token) − softmax) for g = d loss/d log π).
public enum TokenLogits {
    /// log softmax(row)[token] and −Σ p·log p, in double.
    public static func logprob(_ row: UnsafePointer<Float>, V: Int, token: Int) -> (logprob: Double, entropy: Double) {
        var mx = -Float.infinity
        for v in 0..<V { mx = max(mx, row[v]) }
        var sum = 0.0, weighted = 0.0
        for v in 0..<V {
            let e = exp(Double(row[v] - mx))
            sum += e
            weighted += e * Double(row[v] - mx)
        }
        let lse = log(sum)
        return (Double(row[token] - mx) - lse, lse - weighted / sum)
    }

    /// Overwrites the row with g·(onehot(token) − softmax(row)).
    public static func writeGradient(_ row: UnsafeMutablePointer<Float>, V: Int, token: Int, g: Double) {
        var mx = -Float.infinity
        for v in 0..<V { mx = max(mx, row[v]) }
        var sum = 0.0
        for v in 0..<V { sum += exp(Double(row[v] - mx)) }
        for v in 0..<V { row[v] = Float(-g * exp(Double(row[v] - mx)) / sum) }
        row[token] += Float(g)
    }
}
