//! The local data plane (`bg-dataplane`, docs/dataplane.md) for tests: `run` against one
//! emulator with its health checks answered to DescribeTargetHealth (the emulator must be
//! started with the same `BLUEGREEN_TARGET_HEALTH_FILE`: [`DataPlane::emulator`]), and `load`
//! runs whose `requests.jsonl` the tests read.

use super::emulator::{Emulator, EmulatorBuilder};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `bg-dataplane run`, killed on drop (and it stops itself when this test process is gone).
pub struct DataPlane {
    child: Child,
    pub map: PathBuf,
    dir: tempfile::TempDir,
}

/// A temporary home for the target health file, shared by the emulator and the data plane.
pub struct HealthFile {
    dir: tempfile::TempDir,
}

impl HealthFile {
    pub fn new() -> HealthFile {
        HealthFile {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("target-health.json")
    }

    /// An emulator whose DescribeTargetHealth answers from this file (the launcher's
    /// `elbv2-target-health-from-file` patch).
    pub fn emulator(&self) -> EmulatorBuilder {
        Emulator::builder().env(
            "BLUEGREEN_TARGET_HEALTH_FILE",
            self.path().to_str().unwrap(),
        )
    }
}

impl DataPlane {
    /// 1 s metrics, alarms evaluated every second; with `health`, the health the data plane's
    /// checks observe is written there (so the emulator built by [`HealthFile::emulator`]
    /// answers DescribeTargetHealth from it); without, bluegreen reads moto's target health
    /// (registered = healthy) while the data plane still routes by its own checks.
    pub fn start(emu: &Emulator, health: Option<&HealthFile>) -> DataPlane {
        let dir = tempfile::tempdir().unwrap();
        let map = dir.path().join("dataplane.json");
        let log = std::fs::File::create(dir.path().join("dataplane.log")).unwrap();
        let mut cmd = Command::new(dataplane_bin());
        cmd.args(["run", "--metrics-period", "1s", "--alarm-interval", "1s"])
            .arg("--map")
            .arg(&map);
        if let Some(health) = health {
            cmd.arg("--target-health-file").arg(health.path());
        }
        let child = cmd
            .arg("--exit-with-pid")
            .arg(std::process::id().to_string())
            .env_clear()
            .envs(emu.env_vars())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start bg-dataplane");
        DataPlane { child, map, dir }
    }

    /// The local URL of the listener on ALB port `port`, once the map names it.
    pub fn url(&self, port: i64) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(text) = std::fs::read_to_string(&self.map) {
                let map: serde_json::Value = serde_json::from_str(&text).unwrap();
                let found = map["listeners"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|l| l["port"].as_i64() == Some(port));
                if let Some(l) = found {
                    return l["url"].as_str().unwrap().to_owned();
                }
            }
            assert!(Instant::now() < deadline, "no listener on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dataplane.log")).unwrap_or_default()
    }
}

impl Drop for DataPlane {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `cargo build --workspace --bins` builds it next to the `bluegreen` binary (scripts/test.sh
/// does, before the tests: `cargo test` builds another package's binary only as a test harness).
pub fn dataplane_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("BLUEGREEN_DATAPLANE_BIN") {
        return bin.into();
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_bluegreen")).with_file_name("bg-dataplane");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --workspace --bins` (scripts/test.sh does), or set BLUEGREEN_DATAPLANE_BIN",
        bin.display()
    );
    bin
}

/// `…:targetgroup/bg-local-blue/abc` or `targetgroup/bg-local-blue/abc` → `bg-local-blue`.
pub fn tg_name(s: &str) -> String {
    s.split('/').nth(1).unwrap_or(s).to_owned()
}

/// One line of `requests.jsonl`.
#[derive(Debug, Clone)]
pub struct Request {
    /// When it was sent (ms since the epoch).
    pub at_ms: f64,
    pub latency_ms: f64,
    pub status: u64,
    pub version: String,
    pub target_group: String,
}

impl Request {
    /// When the answer arrived (ms since the epoch).
    pub fn answered_ms(&self) -> f64 {
        self.at_ms + self.latency_ms
    }
}

/// One open-loop load run through `url` at `rate`; stop it with [`Load::finish`].
pub struct Load {
    child: Child,
    out: tempfile::TempDir,
}

impl Load {
    pub fn start(url: &str, rate: u32) -> Load {
        let out = tempfile::tempdir().unwrap();
        let child = Command::new(dataplane_bin())
            .args([
                "load",
                "--url",
                &format!("{url}/"),
                "--rate",
                &rate.to_string(),
            ])
            .args(["--duration", "10m", "--out", out.path().to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bg-dataplane load");
        Load { child, out }
    }

    /// SIGTERM (the load generator writes its outputs), then the requests and the summary.
    pub fn finish(mut self) -> (Vec<Request>, serde_json::Value) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "bg-dataplane load failed: {status}");
        let dir = self.out.path();
        let summary = std::fs::read_to_string(dir.join("summary.json")).unwrap();
        let requests = std::fs::read_to_string(dir.join("requests.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                Request {
                    at_ms: v["at_ms"].as_f64().unwrap(),
                    latency_ms: v["latency_ms"].as_f64().unwrap(),
                    status: v["status"].as_u64().unwrap(),
                    version: v["version"].as_str().unwrap_or("").to_owned(),
                    target_group: tg_name(v["target_group"].as_str().unwrap_or("")),
                }
            })
            .collect();
        (requests, serde_json::from_str(&summary).unwrap())
    }
}
