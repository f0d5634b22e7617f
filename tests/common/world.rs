//! One environment named `local` against a private emulator, with its work directory: what the
//! end-to-end tests of the journal, rebuild and drift share. Each test file wraps it in its own
//! `World` (via `Deref`) for what only it needs.

use super::bluegreen::{temp_workdir, Bluegreen};
use super::emulator::Emulator;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// The load balancer of the environment `local`: `bg-<environment>-alb` (docs/contract.md, "Names").
pub const LOCAL_LB: &str = "bg-local-alb";

/// Fast polling, instant termination wait, and the old color kept at full size, so a
/// `rollback` is one listener change: the environment blocks most end-to-end tests start from.
pub const FAST: &str = r#"health {
  timeout       = "20s"
  poll_interval = "200ms"
}
traffic { verify_timeout = "5s" }
promotion {
  termination_wait = "0s"
  old_color        = "keep-warm"
}
"#;

pub struct EnvWorld {
    pub emu: Emulator,
    pub work: tempfile::TempDir,
    pub envs: tempfile::TempDir,
    /// The environment directory (`<envs>/main/local`).
    pub env: PathBuf,
    /// `BLUEGREEN_USER` of every command, as the journal records it.
    pub user: &'static str,
}

impl EnvWorld {
    /// Starts an emulator and writes the environment with `blocks` (health, strategy, …).
    pub fn start(blocks: &str, user: &'static str) -> EnvWorld {
        let emu = Emulator::start();
        let envs = tempfile::tempdir().unwrap();
        let env = super::local_env(&envs.path().join("main"), 2, blocks);
        EnvWorld {
            emu,
            work: temp_workdir(),
            envs,
            env,
            user,
        }
    }

    /// The binary against this world, as `user`.
    pub fn bg(&self) -> Bluegreen {
        Bluegreen::new(&self.emu, self.work.path()).env("BLUEGREEN_USER", self.user)
    }

    /// `bluegreen <cmd> --env <env> <rest…>`.
    pub fn cmd(&self, cmd: &[&str], rest: &[&str]) -> Bluegreen {
        self.bg()
            .args(cmd)
            .args(["--env", self.env.to_str().unwrap()])
            .args(rest)
    }

    /// `history --output json`, which must succeed.
    pub fn history(&self) -> Value {
        let out = self.cmd(&["history"], &["--output", "json"]).run();
        out.assert_code(0);
        out.stdout_json()
    }

    /// `<work>/local/journal`.
    pub fn journal_dir(&self) -> PathBuf {
        self.work.path().join("local").join("journal")
    }

    pub fn journal_file(&self, id: &str) -> PathBuf {
        self.journal_dir()
            .join("deployments")
            .join(format!("{id}.jsonl"))
    }

    /// Deployment ids with a journal file, oldest first.
    pub fn journal_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(self.journal_dir().join("deployments"))
            .map(|d| {
                d.flatten()
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        name.strip_suffix(".jsonl").map(str::to_owned)
                    })
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }

    /// A fault proxy in front of this world's emulator that reports every target of `color`'s
    /// target group as failing its health check: that color can never get healthy (the emulator
    /// registers one healthy target per running task, as ECS does). Send a command through it
    /// with `.endpoint(proxy.url())`.
    pub fn sick(&self, color: &str) -> super::FaultProxy {
        let proxy = super::FaultProxy::start(&self.emu.endpoint());
        proxy.unhealthy_targets(Some(&self.tg(color)));
        proxy
    }

    /// A color's target group ARN, read from the emulator.
    pub fn tg(&self, color: &str) -> String {
        self.emu
            .snapshot()
            .target_groups
            .values()
            .find(|t| t.name == format!("bg-local-{color}"))
            .unwrap_or_else(|| panic!("target group bg-local-{color}"))
            .arn
            .clone()
    }

    /// (blue, green) weights of the production listener (port 80), read from the emulator.
    pub fn prod(&self) -> (i32, i32) {
        let l = self
            .emu
            .find_listener_by_port(LOCAL_LB, 80)
            .expect("listener");
        let w = self.emu.listener_weights(&l.arn);
        let get = |c: &str| w.get(&self.tg(c)).copied().unwrap_or(0);
        (get("blue"), get("green"))
    }
}

impl EnvWorld {
    /// Spawns `deploy IMAGE --strategy steps:50,pause,100` and waits until its journal says it
    /// is paused at 50 %. Returns the child and its deployment id; the caller waits for the
    /// child ([`wait_exit`]).
    #[allow(clippy::zombie_processes)]
    pub fn deploy_until_paused(&self, image: &str, log: &Path) -> (Child, String) {
        let before = self.journal_ids();
        let mut child = self
            .cmd(
                &["deploy"],
                &["--image", image, "--strategy", "steps:50,pause,100"],
            )
            .spawn(log);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let new = self
                .journal_ids()
                .into_iter()
                .find(|id| !before.contains(id));
            if let Some(id) = new {
                let text = std::fs::read_to_string(self.journal_file(&id)).unwrap_or_default();
                if text.contains("\"type\":\"paused\"") {
                    return (child, id);
                }
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the deploy never paused:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Waits (at most a minute) for `child` to exit and returns its exit code; the panic message
/// carries its `log`.
pub fn wait_exit(child: &mut Child, log: &Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the process did not stop:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every file under `dir` with its bytes (for "nothing changed" checks).
pub fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// A journal file's records, each parsed as JSON.
pub fn journal_records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}
