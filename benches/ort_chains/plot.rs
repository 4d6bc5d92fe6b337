//! docs/benchmarks.svg: one small log-log chart per op and dtype family (1 thread, the longest
//! chain measured), rectify against the other form of its row and against memcpy.

use std::fmt::Write as _;

use super::{Row, size_name};

const PANEL_W: f64 = 440.0;
const PANEL_H: f64 = 270.0;
const COLUMNS: usize = 2;
const PAD_LEFT: f64 = 62.0;
const PAD_RIGHT: f64 = 16.0;
const PAD_TOP: f64 = 34.0;
const PAD_BOTTOM: f64 = 46.0;

/// The families plotted: op rows (not kernels or floors) on 1 thread, at least two sizes.
fn families(rows: &[Row]) -> Vec<Vec<&Row>> {
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for r in rows {
        let op = ["LeakyRelu", "PRelu", "RRelu"].iter().any(|op| r.case.starts_with(op));
        if op && r.threads == 1 && !keys.contains(&(r.case.as_str(), r.dtype)) {
            keys.push((r.case.as_str(), r.dtype));
        }
    }
    keys.into_iter()
        .filter_map(|(case, dtype)| {
            let of_family = |r: &&Row| r.case == case && r.dtype == dtype && r.threads == 1;
            let nodes = rows.iter().filter(of_family).map(|r| r.nodes).max()?;
            let mut pick: Vec<&Row> = rows.iter().filter(of_family).filter(|r| r.nodes == nodes).collect();
            pick.sort_by_key(|r| r.elements);
            (pick.len() >= 2).then_some(pick)
        })
        .collect()
}

pub fn plot(rows: &[Row]) -> String {
    let families = families(rows);
    let panel_rows = families.len().div_ceil(COLUMNS);
    let (w, h) = (PANEL_W * COLUMNS as f64, PANEL_H * panel_rows as f64 + 30.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"10\" y=\"18\" font-size=\"13\">rectify (red) vs the other form of each row (blue: ONNX Runtime's built-in; \
         for RRelu training, rectify's LeakyRelu) and memcpy (grey); 1 thread</text>\n"
    );
    for (i, family) in families.iter().enumerate() {
        let (x0, y0) = ((i % COLUMNS) as f64 * PANEL_W, 30.0 + (i / COLUMNS) as f64 * PANEL_H);
        panel(&mut s, family, x0, y0);
    }
    s + "</svg>\n"
}

/// One chart: GB/s (read + write) against elements, both axes log scale.
fn panel(s: &mut String, pick: &[&Row], x0: f64, y0: f64) {
    type Series = (&'static str, Box<dyn Fn(&Row) -> f64>);
    let series: [Series; 3] = [
        ("#d62728", Box::new(|r: &Row| r.gbps(r.rectify))),
        ("#1f77b4", Box::new(|r: &Row| r.other.map_or(0.0, |o| r.gbps(o)))),
        ("#7f7f7f", Box::new(|r: &Row| 2.0 * r.bytes as f64 / r.memcpy.as_secs_f64() / 1e9)),
    ];
    let values: Vec<f64> =
        pick.iter().flat_map(|r| series.iter().map(move |(_, f)| f(r))).filter(|&g| g > 0.0).collect();
    let lo_g = values.iter().copied().fold(f64::INFINITY, f64::min).log10().floor();
    let hi_g = values.iter().copied().fold(0.0, f64::max).log10().ceil().max(lo_g + 1.0);
    let (lo, hi) = ((pick[0].elements as f64).log2(), (pick[pick.len() - 1].elements as f64).log2());
    let (left, right, top, bottom) = (x0 + PAD_LEFT, x0 + PANEL_W - PAD_RIGHT, y0 + PAD_TOP, y0 + PANEL_H - PAD_BOTTOM);
    let px = |n: usize| left + ((n as f64).log2() - lo) / (hi - lo).max(1.0) * (right - left);
    let py = |g: f64| bottom - (g.max(1e-9).log10() - lo_g) / (hi_g - lo_g) * (bottom - top);
    let first = pick[0];
    let _ = writeln!(
        s,
        "<text x=\"{left}\" y=\"{}\" font-weight=\"bold\">{} {}, {} node{}</text>",
        top - 10.0,
        first.case,
        first.dtype,
        first.nodes,
        if first.nodes == 1 { "" } else { "s" }
    );
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" y1=\"{bottom}\" x2=\"{right}\" y2=\"{bottom}\" stroke=\"black\"/>\
         <line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{bottom}\" stroke=\"black\"/>"
    );
    for r in pick {
        let _ = writeln!(
            s,
            "<text x=\"{:.0}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            px(r.elements),
            bottom + 14.0,
            size_name(r.elements)
        );
    }
    for decade in lo_g as i32..=hi_g as i32 {
        let g = 10f64.powi(decade);
        let _ = writeln!(s, "<text x=\"{}\" y=\"{:.0}\" text-anchor=\"end\">{g}</text>", left - 4.0, py(g) + 4.0);
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.0}\" y=\"{}\" text-anchor=\"middle\">elements (log scale)</text>",
        (left + right) / 2.0,
        bottom + 32.0
    );
    let (cx, cy) = (x0 + 16.0, (top + bottom) / 2.0);
    let _ = writeln!(
        s,
        "<text x=\"{cx}\" y=\"{cy}\" text-anchor=\"middle\" transform=\"rotate(-90 {cx} {cy})\">GB/s, read + write (log scale)</text>"
    );
    for (color, f) in &series {
        let points: Vec<String> =
            pick.iter().filter(|r| f(r) > 0.0).map(|r| format!("{:.1},{:.1}", px(r.elements), py(f(r)))).collect();
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
            points.join(" ")
        );
    }
}
