//! How a running deploy talks to the commands run beside it: an in-flight record that says what
//! it is doing (read by `status`, `promote` and `rollback`), and a promote request file it polls.
//!
//! This is deliberately small: the durable journal and the environment lock (issue 5) will
//! replace the in-flight record. Until then two concurrent deploys are not prevented.

use crate::color::{Color, Weights};
use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What a running deploy is doing. Written atomically (temp file + rename) on every change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    pub pid: u32,
    pub started: String,
    pub image: String,
    pub old: Option<Color>,
    pub new: Color,
    pub schedule: String,
    /// Where the deploy is, in words.
    pub phase: String,
    pub paused: bool,
    /// The weights last read back as written.
    pub weights: Option<Weights>,
}

pub struct Control {
    dir: PathBuf,
}

impl Control {
    pub fn new(work_env_dir: &Path) -> Control {
        Control {
            dir: work_env_dir.join("control"),
        }
    }

    fn inflight_path(&self) -> PathBuf {
        self.dir.join("in-flight.json")
    }

    fn promote_path(&self) -> PathBuf {
        self.dir.join("promote")
    }

    pub fn write(&self, state: &InFlight) -> Result<(), Error> {
        let bytes = serde_json::to_vec_pretty(state)
            .map_err(|e| Error::Internal(format!("cannot encode the in-flight record: {e}")))?;
        atomic_write(&self.inflight_path(), &bytes)
    }

    /// The in-flight deploy, if its process is still alive. A record left by a process that died
    /// is reported as such, not as a running deploy.
    pub fn read(&self) -> Option<(InFlight, bool)> {
        let bytes = fs::read(self.inflight_path()).ok()?;
        let state: InFlight = serde_json::from_slice(&bytes).ok()?;
        let alive = process_alive(state.pid);
        Some((state, alive))
    }

    /// Removes the record and any unconsumed promote request. Only the owner calls this.
    pub fn clear(&self) {
        let _ = fs::remove_file(self.inflight_path());
        let _ = fs::remove_file(self.promote_path());
    }

    /// Asks the running deploy to continue past its pause.
    pub fn request_promote(&self) -> Result<(), Error> {
        atomic_write(&self.promote_path(), b"promote\n")
    }

    /// Consumes a promote request, if there is one.
    pub fn take_promote(&self) -> bool {
        fs::remove_file(self.promote_path()).is_ok()
    }
}

fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let io = |e: std::io::Error| Error::Internal(format!("cannot write {}: {e}", path.display()));
    let dir = path.parent().expect("control files live in a directory");
    fs::create_dir_all(dir).map_err(io)?;
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut f = fs::File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)
}

/// Whether `pid` is a live process on this host (Linux: /proc; elsewhere assumed alive).
pub fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(pid: u32) -> InFlight {
        InFlight {
            pid,
            started: "2026-11-24T10:00:00Z".into(),
            image: "app:2".into(),
            old: Some(Color::Blue),
            new: Color::Green,
            schedule: "10% for 1m → 100%".into(),
            phase: "step 1 of 2".into(),
            paused: false,
            weights: None,
        }
    }

    #[test]
    fn the_record_round_trips_and_knows_a_dead_owner() {
        let dir = tempfile::tempdir().unwrap();
        let c = Control::new(dir.path());
        assert!(c.read().is_none());
        c.write(&state(std::process::id())).unwrap();
        let (read, alive) = c.read().unwrap();
        assert_eq!(read, state(std::process::id()));
        assert!(alive);
        // PIDs above the kernel's maximum (2^22) never exist.
        c.write(&state(u32::MAX - 1)).unwrap();
        assert!(!c.read().unwrap().1);
        c.clear();
        assert!(c.read().is_none());
    }

    #[test]
    fn a_promote_request_is_consumed_once() {
        let dir = tempfile::tempdir().unwrap();
        let c = Control::new(dir.path());
        assert!(!c.take_promote());
        c.request_promote().unwrap();
        assert!(c.take_promote());
        assert!(!c.take_promote());
    }
}
