/// Accuracy, precision, recall and F1 — per label, their macro mean and their mean weighted by
/// support — and the confusion matrix (rows: true label, columns: predicted), from true and
/// predicted label indices. A label never predicted has precision 0; one never true has recall
/// 0 and weight 0 (scikit-learn's zero_division=0).
public struct Classification: Sendable, Equatable {
    public let labels: [String]
    public let confusion: [[Int]]

    public init(labels: [String], truth: [Int], predicted: [Int]) {
        precondition(truth.count == predicted.count, "one prediction per example")
        self.labels = labels
        var m = [[Int]](repeating: [Int](repeating: 0, count: labels.count), count: labels.count)
        for (t, p) in zip(truth, predicted) { m[t][p] += 1 }
        confusion = m
    }

    public var total: Int { confusion.reduce(0) { $0 + $1.reduce(0, +) } }
    public var accuracy: Double { Double(labels.indices.reduce(0) { $0 + confusion[$1][$1] }) / Double(max(1, total)) }
    public func support(_ i: Int) -> Int { confusion[i].reduce(0, +) }

    public func precision(_ i: Int) -> Double {
        let predicted = labels.indices.reduce(0) { $0 + confusion[$1][i] }
        return predicted == 0 ? 0 : Double(confusion[i][i]) / Double(predicted)
    }

    public func recall(_ i: Int) -> Double {
        support(i) == 0 ? 0 : Double(confusion[i][i]) / Double(support(i))
    }

    public func f1(_ i: Int) -> Double {
        let p = precision(i), r = recall(i)
        return p + r == 0 ? 0 : 2 * p * r / (p + r)
    }

    public func macro(_ metric: (Int) -> Double) -> Double {
        labels.isEmpty ? 0 : labels.indices.reduce(0) { $0 + metric($1) } / Double(labels.count)
    }

    public func weighted(_ metric: (Int) -> Double) -> Double {
        labels.indices.reduce(0) { $0 + metric($1) * Double(support($1)) } / Double(max(1, total))
    }
}
