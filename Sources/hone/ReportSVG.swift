import Foundation

/// Inline SVG for the HTML report: line charts and the stage graph, no scripts, no network.
enum ReportSVG {
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func number(_ v: Double) -> String {
        abs(v) >= 1e4 || (abs(v) < 1e-3 && v != 0) ? String(format: "%.2e", v) : String(format: "%.4g", v)
    }

    /// One chart: a line per series of (x, y) points, axes with their ranges, a legend.
    static func lineChart(title: String, series: [(name: String, points: [(Double, Double)])], width: Int = 460, height: Int = 240) -> String {
        let all = series.flatMap(\.points).filter { $0.0.isFinite && $0.1.isFinite }
        guard let x0 = all.map(\.0).min(), let x1 = all.map(\.0).max(), let y0 = all.map(\.1).min(), let y1 = all.map(\.1).max() else { return "" }
        let left = 56.0, right = 12.0, top = 26.0, bottom = 30.0
        let w = Double(width) - left - right, h = Double(height) - top - bottom
        func px(_ x: Double) -> Double { left + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * w }
        func py(_ y: Double) -> Double { top + h - (y1 > y0 ? (y - y0) / (y1 - y0) : 0.5) * h }
        var svg = "<svg class=\"chart\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" xmlns=\"http://www.w3.org/2000/svg\">"
        svg += "<text x=\"\(Int(left))\" y=\"16\" class=\"title\">\(escape(title))</text>"
        svg += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(w)\" height=\"\(h)\" class=\"frame\"/>"
        svg += "<text x=\"\(left - 4)\" y=\"\(top + 4)\" class=\"tick\" text-anchor=\"end\">\(number(y1))</text>"
        svg += "<text x=\"\(left - 4)\" y=\"\(top + h)\" class=\"tick\" text-anchor=\"end\">\(number(y0))</text>"
        svg += "<text x=\"\(left)\" y=\"\(top + h + 16)\" class=\"tick\">\(number(x0))</text>"
        svg += "<text x=\"\(left + w)\" y=\"\(top + h + 16)\" class=\"tick\" text-anchor=\"end\">\(number(x1)) (step)</text>"
        for (i, s) in series.enumerated() {
            let pts = s.points.filter { $0.0.isFinite && $0.1.isFinite }
            guard !pts.isEmpty else { continue }
            let color = palette[i % palette.count]
            let d = pts.enumerated().map { j, p in (j == 0 ? "M" : "L") + String(format: "%.1f %.1f", px(p.0), py(p.1)) }.joined(separator: " ")
            svg += "<path d=\"\(d)\" stroke=\"\(color)\" class=\"line\"/>"
            if pts.count == 1 { svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%@\"/>", px(pts[0].0), py(pts[0].1), color) }
            svg += "<text x=\"\(Int(left + w - 4))\" y=\"\(Int(top) + 14 + 14 * i)\" class=\"legend\" fill=\"\(color)\" text-anchor=\"end\">\(escape(s.name))</text>"
        }
        return svg + "</svg>"
    }

    /// The stage graph: stages in columns by depth (a stage right of everything it reads), an
    /// arrow per dependency.
    static func dag(stages: [(name: String, kind: String, upstream: [String])]) -> String {
        var depth: [String: Int] = [:]
        var changed = true
        while changed {
            changed = false
            for s in stages {
                let d = (s.upstream.compactMap { depth[$0] }.max() ?? -1) + 1
                if depth[s.name] != d { depth[s.name] = d; changed = true }
            }
        }
        var rows: [Int: Int] = [:], at: [String: (Double, Double)] = [:]
        let boxW = 118.0, boxH = 34.0, gapX = 34.0, gapY = 14.0
        for s in stages {
            let col = depth[s.name] ?? 0, row = rows[col, default: 0]
            rows[col] = row + 1
            at[s.name] = (10 + Double(col) * (boxW + gapX), 10 + Double(row) * (boxH + gapY))
        }
        let width = Int(20 + Double((depth.values.max() ?? 0) + 1) * (boxW + gapX))
        let height = Int(20 + Double(rows.values.max() ?? 1) * (boxH + gapY))
        var svg = "<svg class=\"dag\" width=\"\(width)\" height=\"\(height)\" xmlns=\"http://www.w3.org/2000/svg\">"
        svg += "<defs><marker id=\"arrow\" markerWidth=\"8\" markerHeight=\"8\" refX=\"7\" refY=\"4\" orient=\"auto\"><path d=\"M0 0 L8 4 L0 8 z\" fill=\"#888\"/></marker></defs>"
        for s in stages {
            guard let (x, y) = at[s.name] else { continue }
            for u in s.upstream {
                guard let (ux, uy) = at[u] else { continue }
                svg += String(format: "<path d=\"M%.1f %.1f L%.1f %.1f\" class=\"edge\" marker-end=\"url(#arrow)\"/>", ux + boxW, uy + boxH / 2, x - 2, y + boxH / 2)
            }
        }
        for s in stages {
            guard let (x, y) = at[s.name] else { continue }
            svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"5\" class=\"node\"/>", x, y, boxW, boxH)
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" class=\"node-name\">%@</text>", x + 6, y + 14, escape(s.name))
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" class=\"node-kind\">%@</text>", x + 6, y + 28, escape(s.kind))
        }
        return svg + "</svg>"
    }
}
