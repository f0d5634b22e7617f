//! The load generator's picture: per timeline bucket, the share of answered requests per
//! version (stacked), and below it the failed requests. Plain SVG, no dependencies.

use crate::load::Bucket;
use std::collections::BTreeSet;
use std::fmt::Write;
use std::time::Duration;

const W: f64 = 960.0;
const LEFT: f64 = 50.0;
const SHARE_TOP: f64 = 40.0;
const SHARE_H: f64 = 240.0;
const ERR_TOP: f64 = 310.0;
const ERR_H: f64 = 60.0;
const PALETTE: [&str; 6] = [
    "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf",
];

pub fn svg(timeline: &[Bucket], bucket: Duration) -> String {
    let versions: BTreeSet<&str> = timeline
        .iter()
        .flat_map(|b| b.by_version.keys().map(String::as_str))
        .collect();
    let versions: Vec<&str> = versions.into_iter().collect();
    let n = timeline.len().max(1) as f64;
    let bar = (W - LEFT - 20.0) / n;
    let max_err = timeline.iter().map(|b| b.errors).max().unwrap_or(0).max(1) as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="420" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{LEFT}" y="20">traffic share per version ({bucket:?} buckets) and failed requests</text>
<text x="5" y="{}">100%</text><text x="5" y="{}">0%</text>
<text x="5" y="{}">errors</text><text x="5" y="{}">{max_err:.0}</text>
"#,
        SHARE_TOP + 10.0,
        SHARE_TOP + SHARE_H,
        ERR_TOP + ERR_H,
        ERR_TOP + 10.0
    );
    for (i, b) in timeline.iter().enumerate() {
        let x = LEFT + i as f64 * bar;
        let answered: usize = b.by_version.values().sum();
        let mut y = SHARE_TOP;
        for (vi, v) in versions.iter().enumerate() {
            let count = b.by_version.get(*v).copied().unwrap_or(0);
            if count == 0 || answered == 0 {
                continue;
            }
            let h = SHARE_H * count as f64 / answered as f64;
            let _ = writeln!(
                s,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}" fill="{}"><title>t={:.0}s {v}: {count}/{answered}</title></rect>"#,
                PALETTE[vi % PALETTE.len()],
                b.t_s
            );
            y += h;
        }
        if b.errors > 0 {
            let h = ERR_H * b.errors as f64 / max_err;
            let _ = writeln!(
                s,
                r##"<rect x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{h:.1}" fill="#d62728"><title>t={:.0}s errors: {}</title></rect>"##,
                ERR_TOP + ERR_H - h,
                b.t_s,
                b.errors
            );
        }
    }
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{y}" x2="{}" y2="{y}" stroke="#999"/>"##,
        W - 20.0,
        y = ERR_TOP + ERR_H
    );
    for (vi, v) in versions.iter().enumerate() {
        let x = LEFT + vi as f64 * 150.0;
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="395" width="12" height="12" fill="{}"/><text x="{}" y="406">{v}</text>"#,
            PALETTE[vi % PALETTE.len()],
            x + 16.0
        );
    }
    let total_err: usize = timeline.iter().map(|b| b.errors).sum();
    let _ = writeln!(
        s,
        r##"<text x="{}" y="406" fill="#d62728">errors: {total_err}</text></svg>"##,
        W - 150.0
    );
    s
}
