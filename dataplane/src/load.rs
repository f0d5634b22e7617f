//! `bg-dataplane load`: open-loop load at a fixed rate. Request i is sent at start + i/rate
//! whatever happened to earlier ones (no coordinated omission); each answer is recorded with
//! its send time, status, latency and the version that answered (`x-bg-version`).

use crate::emulator::Error;
use crate::LoadArgs;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Uri;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Send time, ms since the Unix epoch.
    pub at_ms: f64,
    /// Send time, ms since the run started.
    pub t_ms: f64,
    /// 0: no answer (connection error or timeout).
    pub status: u16,
    pub latency_ms: f64,
    pub version: Option<String>,
    pub target_group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Which `--url` it went to, when there are several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<usize>,
}

impl Record {
    pub fn failed(&self) -> bool {
        !(200..300).contains(&self.status)
    }
}

#[derive(Debug, Serialize)]
pub struct Bucket {
    pub t_s: f64,
    pub requests: usize,
    pub errors: usize,
    pub by_version: BTreeMap<String, usize>,
    pub p99_ms: f64,
}

pub async fn load(args: LoadArgs) -> Result<(), Error> {
    if args.rate == 0 {
        return Err("--rate must be above 0".into());
    }
    let uris = args
        .url
        .iter()
        .map(|u| u.parse::<Uri>())
        .collect::<Result<Vec<_>, _>>()?;
    let several = uris.len() > 1;
    std::fs::create_dir_all(&args.out)?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Empty<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1024)
        .build(connector);
    let total = (f64::from(args.rate) * args.duration.as_secs_f64()).round() as u64;
    let (tx, mut rx) = mpsc::unbounded_channel::<Record>();
    let start = Instant::now();
    let epoch0 = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64() * 1000.0;
    let live = args.live.then_some(args.bucket);
    let collector = tokio::spawn(async move {
        let mut records = Vec::new();
        let mut printed = 0usize;
        let mut tick = tokio::time::interval(live.unwrap_or(Duration::from_secs(3600)));
        tick.tick().await;
        loop {
            tokio::select! {
                r = rx.recv() => match r {
                    Some(r) => records.push(r),
                    None => break,
                },
                _ = tick.tick(), if live.is_some() => {
                    printed = print_live(&records, printed, live.unwrap_or_default());
                }
            }
        }
        records
    });
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.rate)));
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut max_lag = Duration::ZERO;
    // SIGTERM or Ctrl-C ends the sending early; the outputs are written for what was sent.
    // Both listeners are made once: `ctrl_c()` inside the loop would register and drop a
    // signal listener for every request sent.
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    for i in 0..total {
        tokio::select! {
            _ = tick.tick() => {}
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
        }
        let scheduled = Duration::from_secs_f64(i as f64 / f64::from(args.rate));
        max_lag = max_lag.max(start.elapsed().saturating_sub(scheduled));
        let u = (i % uris.len() as u64) as usize;
        let (client, uri, tx, timeout) =
            (client.clone(), uris[u].clone(), tx.clone(), args.timeout);
        tokio::spawn(async move {
            let sent = Instant::now();
            let t_ms = sent.duration_since(start).as_secs_f64() * 1000.0;
            let mut record = one(&client, uri, timeout, sent, t_ms, epoch0 + t_ms).await;
            record.url = several.then_some(u);
            let _ = tx.send(record);
        });
    }
    drop(tx);
    let records = tokio::time::timeout(args.timeout + Duration::from_secs(2), collector).await??;
    let elapsed = start.elapsed();
    write_outputs(&args, &records, total, elapsed, max_lag)
}

async fn one(
    client: &Client<HttpConnector, Empty<Bytes>>,
    uri: Uri,
    timeout: Duration,
    sent: Instant,
    t_ms: f64,
    at_ms: f64,
) -> Record {
    let mut record = Record {
        at_ms,
        t_ms,
        status: 0,
        latency_ms: 0.0,
        version: None,
        target_group: None,
        error: None,
        url: None,
    };
    let request = async {
        let resp = client.get(uri).await?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (status, version, tg) = (
            resp.status().as_u16(),
            header("x-bg-version"),
            header("x-bg-target-group"),
        );
        resp.into_body().collect().await?;
        Ok::<_, Error>((status, version, tg))
    };
    match tokio::time::timeout(timeout, request).await {
        Ok(Ok((status, version, tg))) => {
            record.status = status;
            record.version = version;
            record.target_group = tg;
        }
        Ok(Err(e)) => record.error = Some(e.to_string()),
        Err(_) => record.error = Some(format!("no answer within {timeout:?}")),
    }
    record.latency_ms = sent.elapsed().as_secs_f64() * 1000.0;
    record
}

/// `traffic 1.27 80% · 1.28 20% · errors 0 · p99 12ms` for every bucket completed since the
/// last call; returns how many records are accounted for.
fn print_live(records: &[Record], from: usize, bucket: Duration) -> usize {
    let fresh = &records[from.min(records.len())..];
    if fresh.is_empty() {
        return from;
    }
    let b = summarise_bucket(0.0, fresh.iter());
    let shares: Vec<String> = b
        .by_version
        .iter()
        .map(|(v, n)| format!("{v} {:.0}%", 100.0 * *n as f64 / b.requests as f64))
        .collect();
    eprintln!(
        "traffic {} · errors {} · p99 {:.0}ms ({} requests in {bucket:?})",
        shares.join(" · "),
        b.errors,
        b.p99_ms,
        b.requests
    );
    records.len()
}

fn summarise_bucket<'a>(t_s: f64, records: impl Iterator<Item = &'a Record>) -> Bucket {
    let mut b = Bucket {
        t_s,
        requests: 0,
        errors: 0,
        by_version: BTreeMap::new(),
        p99_ms: 0.0,
    };
    let mut latencies = Vec::new();
    for r in records {
        b.requests += 1;
        if r.failed() {
            b.errors += 1;
        } else {
            let v = r.version.clone().unwrap_or_else(|| "unknown".into());
            *b.by_version.entry(v).or_default() += 1;
        }
        latencies.push(r.latency_ms);
    }
    b.p99_ms = percentile(&mut latencies, 0.99);
    b
}

pub fn percentile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let i = ((values.len() as f64 - 1.0) * q).round() as usize;
    values[i.min(values.len() - 1)]
}

/// p50, p90, p99 and max of the records' latencies (ms).
fn latency_summary<'a>(records: impl Iterator<Item = &'a Record>) -> serde_json::Value {
    let mut latencies: Vec<f64> = records.map(|r| r.latency_ms).collect();
    serde_json::json!({
        "p50": percentile(&mut latencies, 0.50),
        "p90": percentile(&mut latencies, 0.90),
        "p99": percentile(&mut latencies, 0.99),
        "max": latencies.last().copied().unwrap_or(0.0),
    })
}

fn write_outputs(
    args: &LoadArgs,
    records: &[Record],
    scheduled: u64,
    elapsed: Duration,
    max_lag: Duration,
) -> Result<(), Error> {
    let mut sorted: Vec<&Record> = records.iter().collect();
    sorted.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms));
    let width = args.bucket.as_secs_f64() * 1000.0;
    let mut timeline: Vec<Bucket> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let idx = (sorted[i].t_ms / width).floor();
        let j = sorted[i..]
            .iter()
            .position(|r| (r.t_ms / width).floor() != idx)
            .map_or(sorted.len(), |p| i + p);
        timeline.push(summarise_bucket(
            idx * width / 1000.0,
            sorted[i..j].iter().copied(),
        ));
        i = j;
    }
    let all = summarise_bucket(0.0, sorted.iter().copied());
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for r in records {
        *by_status.entry(r.status).or_default() += 1;
    }
    let mut summary = serde_json::json!({
        "url": args.url.join(" "),
        "rate": args.rate,
        "scheduled": scheduled,
        "requests": records.len(),
        "failed": all.errors,
        "by_status": by_status,
        "by_version": all.by_version,
        "achieved_rate": records.len() as f64 / elapsed.as_secs_f64(),
        "elapsed_s": elapsed.as_secs_f64(),
        "max_send_lag_ms": max_lag.as_secs_f64() * 1000.0,
        "latency_ms": latency_summary(records.iter()),
    });
    if args.url.len() > 1 {
        summary["by_url"] = args
            .url
            .iter()
            .enumerate()
            .map(|(i, url)| {
                let mine = || records.iter().filter(move |r| r.url == Some(i));
                serde_json::json!({
                    "url": url,
                    "requests": mine().count(),
                    "failed": mine().filter(|r| r.failed()).count(),
                    "latency_ms": latency_summary(mine()),
                })
            })
            .collect();
    }
    let out = &args.out;
    std::fs::write(
        out.join("summary.json"),
        serde_json::to_vec_pretty(&summary)?,
    )?;
    std::fs::write(
        out.join("timeline.json"),
        serde_json::to_vec_pretty(&timeline)?,
    )?;
    let mut lines = String::new();
    for r in &sorted {
        lines.push_str(&serde_json::to_string(r)?);
        lines.push('\n');
    }
    std::fs::write(out.join("requests.jsonl"), lines)?;
    let svg = out.join("traffic.svg");
    std::fs::write(&svg, crate::chart::svg(&timeline, args.bucket))?;
    println!("{}", serde_json::to_string(&summary)?);
    eprintln!(
        "load: {} requests, {} failed; picture: {}",
        records.len(),
        all.errors,
        svg.display()
    );
    Ok(())
}
