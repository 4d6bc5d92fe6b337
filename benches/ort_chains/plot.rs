//! docs/benchmarks.svg: a small hand-written SVG line chart, log scale on both axes.

use std::fmt::Write as _;

use super::{Row, size_name};

/// Throughput vs size, LeakyRelu f32, 16 nodes, 1 thread: rectify, built-in, memcpy.
pub fn plot(rows: &[Row]) -> String {
    let pick: Vec<&Row> = rows
        .iter()
        .filter(|r| r.case == "LeakyRelu" && r.dtype == "float" && r.nodes == 16 && r.threads == 1)
        .collect();
    type Series = (&'static str, &'static str, Box<dyn Fn(&Row) -> f64>);
    let series: [Series; 3] = [
        ("rectify", "#d62728", Box::new(|r: &Row| r.gbps(r.rectify))),
        ("ONNX Runtime built-in", "#1f77b4", Box::new(|r: &Row| r.other.map_or(0.0, |o| r.gbps(o)))),
        ("memcpy", "#7f7f7f", Box::new(|r: &Row| 2.0 * r.bytes as f64 / r.memcpy.as_secs_f64() / 1e9)),
    ];
    let (w, h, pad) = (640.0, 360.0, 50.0);
    let values: Vec<f64> =
        pick.iter().flat_map(|r| series.iter().map(move |(_, _, f)| f(r))).filter(|&g| g > 0.0).collect();
    // Log scale on both axes: decades of GB/s around the data.
    let lo_g = values.iter().copied().fold(f64::INFINITY, f64::min).log10().floor();
    let hi_g = values.iter().copied().fold(1.0, f64::max).log10().ceil().max(lo_g + 1.0);
    let (lo, hi) = (
        pick.first().map_or(1.0, |r| (r.elements as f64).log2()),
        pick.last().map_or(2.0, |r| (r.elements as f64).log2()),
    );
    let px = |n: usize| pad + ((n as f64).log2() - lo) / (hi - lo).max(1.0) * (w - 2.0 * pad);
    let py = |g: f64| h - pad - (g.max(1e-9).log10() - lo_g) / (hi_g - lo_g) * (h - 2.0 * pad);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{pad}\" y=\"20\">LeakyRelu f32, chain of 16 nodes, 1 thread: GB/s (read + write, log scale) vs elements</text>\n\
         <line x1=\"{pad}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/><line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{}\" stroke=\"black\"/>\n",
        h - pad,
        w - pad,
        h - pad,
        h - pad
    );
    for r in &pick {
        let _ = writeln!(
            s,
            "<text x=\"{:.0}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            px(r.elements),
            h - pad + 16.0,
            size_name(r.elements)
        );
    }
    for decade in lo_g as i32..=hi_g as i32 {
        let g = 10f64.powi(decade);
        let _ = writeln!(s, "<text x=\"{}\" y=\"{:.0}\" text-anchor=\"end\">{g}</text>", pad - 4.0, py(g) + 4.0);
    }
    for (i, (name, color, f)) in series.iter().enumerate() {
        let points: Vec<String> = pick.iter().map(|r| format!("{:.1},{:.1}", px(r.elements), py(f(r)))).collect();
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
            points.join(" ")
        );
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" fill=\"{color}\">{name}</text>",
            w - pad - 150.0,
            pad + 16.0 * i as f64
        );
    }
    s + "</svg>\n"
}
