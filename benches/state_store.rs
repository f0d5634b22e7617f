//! What the journal and the lock cost a deploy: the time of one durable append (the local
//! backend fsyncs the file; DynamoDB is a conditional PutItem), one lease renewal, one
//! acquire + release, and reading a deployment's journal back — for both backends. The
//! DynamoDB numbers are against the local emulator (moto), so they show the client's and
//! bluegreen's own cost, not DynamoDB's network latency.
//!
//! `cargo bench --bench state_store` measures (BENCH_OPS operations each, default 200);
//! `cargo test --all-targets` runs it with 5 operations as a smoke test.

#[path = "../tests/common/mod.rs"]
mod common;

use bluegreen::domain::color::{Color, Weights};
use bluegreen::state::dynamo::DynamoStore;
use bluegreen::state::local::LocalStore;
use bluegreen::state::{Entry, Holder, Store, Writer};
use common::Emulator;
use std::time::{Duration, Instant};

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let ops: usize = std::env::var("BENCH_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 200 } else { 5 });
    if !full {
        println!("smoke run ({ops} operations); `cargo bench --bench state_store` measures");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let local = Store::Local(LocalStore::new(dir.path()));
    rt.block_on(measure("local files (fsync)", &local, ops));

    let emu = Emulator::start();
    emu.create_state_table("bench-state");
    let dynamo = Store::Dynamo(DynamoStore::new(&emu.sdk_config(), "bench-state", "bench"));
    rt.block_on(measure("DynamoDB (local emulator)", &dynamo, ops));
}

async fn measure(name: &str, store: &Store, ops: usize) {
    let lease = Duration::from_secs(30);
    let holder = Holder::this_process("bench", "20261124T000000000Z-0000");
    let mut acquire = Vec::new();
    for _ in 0..ops {
        let t = Instant::now();
        store.acquire(&holder, lease).await.unwrap();
        store.release(&holder).await.unwrap();
        acquire.push(t.elapsed());
    }
    store.acquire(&holder, lease).await.unwrap();
    let mut renew = Vec::new();
    for _ in 0..ops {
        let t = Instant::now();
        store.renew(&holder, lease).await.unwrap();
        renew.push(t.elapsed());
    }
    store.release(&holder).await.unwrap();

    // Deployments of 16 records, the length of a canary deploy with scale-down.
    let mut append = Vec::new();
    let mut read = Vec::new();
    let deployments = ops.div_ceil(16);
    for d in 0..deployments {
        let id = format!("20261124T0000{d:05}Z-beef");
        let mut w = Writer::new(&id);
        for i in 0..16 {
            let entry = Entry::WeightsVerified {
                weights: Weights::all_on(if i % 2 == 0 {
                    Color::Blue
                } else {
                    Color::Green
                }),
                step: Some(i),
            };
            let t = Instant::now();
            w.write(store, entry).await.unwrap();
            append.push(t.elapsed());
        }
        let t = Instant::now();
        assert_eq!(store.records(&id).await.unwrap().len(), 16);
        read.push(t.elapsed());
    }
    println!("{name}:");
    for (what, samples) in [
        ("acquire + release", &mut acquire),
        ("renew", &mut renew),
        ("append one record", &mut append),
        ("read a 16-record journal", &mut read),
    ] {
        samples.sort();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        println!(
            "  {what:<26} n={:<4} median {:>8.2?}  p95 {:>8.2?}  max {:>8.2?}",
            samples.len(),
            at(0.5),
            at(0.95),
            samples[samples.len() - 1]
        );
    }
}
