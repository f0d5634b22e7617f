//! What sealing and opening a plan artifact costs, for saved Terraform plans of realistic
//! sizes: `seal` (one pass of canonical JSON into the checksum and the associated data,
//! AES-256-GCM of the plan, the file written once), `inspect` (parse, canonical re-write, checksum: what `apply` does before
//! it knows the key) and `open` (inspect + decrypt), plus the file size. The body is a
//! redacted `show -json` plan of the repo's emulator service module, repeated to the size a
//! large real plan reaches.
//!
//! `cargo bench --bench plan_artifact` measures (BENCH_OPS runs each, default 50);
//! `cargo test --all-targets` runs it with 2 runs as a smoke test.

use bluegreen::artifact::{inspect, open, seal, PlanKey};
use std::time::{Duration, Instant};

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let ops: usize = std::env::var("BENCH_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 50 } else { 2 });
    if !full {
        println!("smoke run ({ops} runs); `cargo bench --bench plan_artifact` measures");
    }
    let key = PlanKey::from_bytes([7u8; 32]);
    let fixture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/terraform/show_plan_create.json"
    ))
    .expect("the recorded plan fixture");
    let one: serde_json::Value = serde_json::from_slice(&fixture).unwrap();
    // (resource changes in the body, size of the binary Terraform plan)
    for (copies, plan_kib) in [(1, 16), (50, 256), (400, 2048)] {
        let body = serde_json::json!({
            "redacted_plan": vec![one.clone(); copies],
        });
        let plan: Vec<u8> = (0..plan_kib * 1024).map(|i| (i * 31 % 251) as u8).collect();
        let mut sealing = Vec::new();
        let mut inspecting = Vec::new();
        let mut opening = Vec::new();
        let mut size = 0;
        for _ in 0..ops {
            let t = Instant::now();
            let bytes = seal(&body, &plan, &key).unwrap().bytes;
            sealing.push(t.elapsed());
            size = bytes.len();
            let t = Instant::now();
            inspect(&bytes).unwrap();
            inspecting.push(t.elapsed());
            let t = Instant::now();
            let (_, back) = open(&bytes, &key).unwrap();
            opening.push(t.elapsed());
            assert_eq!(back.len(), plan.len());
        }
        println!(
            "body {} KiB ({copies} plan document(s)), Terraform plan {plan_kib} KiB → artifact {} KiB:",
            serde_json::to_vec(&body).unwrap().len() / 1024,
            size / 1024
        );
        for (what, samples) in [
            ("seal", &mut sealing),
            ("inspect", &mut inspecting),
            ("open", &mut opening),
        ] {
            println!("  {what:<8} n={:<3} {}", samples.len(), stats(samples));
        }
    }
}

fn stats(samples: &mut [Duration]) -> String {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    format!(
        "median {:>9.2?}  p95 {:>9.2?}  max {:>9.2?}",
        at(0.5),
        at(0.95),
        samples[samples.len() - 1]
    )
}
