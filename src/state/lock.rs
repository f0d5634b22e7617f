//! The environment lock: who holds it, until when, and when it may be taken over. The rules
//! are here, pure; the backends only store the document with a compare-and-set.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// Who holds (or wants) the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub user: String,
    pub host: String,
    pub pid: u32,
    /// `deploy`, `resume`, `rollback`, …
    pub command: String,
    /// The deployment the holder is running (every locking command journals under one).
    pub deployment: String,
}

impl Holder {
    /// This process, running `command` for `deployment`.
    pub fn this_process(command: &str, deployment: &str) -> Holder {
        Holder {
            user: current_user(),
            host: hostname(),
            pid: std::process::id(),
            command: command.to_string(),
            deployment: deployment.to_string(),
        }
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` by {}@{} (pid {}, deployment {})",
            self.command, self.user, self.host, self.pid, self.deployment
        )
    }
}

/// The stored lock document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub schema: u32,
    pub holder: Holder,
    /// When the holder took it (ms since the epoch).
    pub taken_ms: u64,
    /// The lease runs out at this time unless renewed (ms since the epoch).
    pub expires_ms: u64,
    /// The fencing token: a fresh random number at every acquisition ([`new_fence`]), so a
    /// holder that lost the lock (and every record it still tries to append) can be told from
    /// the current one. 0 in documents written before fencing.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fence: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

pub const LOCK_SCHEMA: u32 = 1;

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, taken {}, lease until {}",
            self.holder,
            super::rfc3339(self.taken_ms),
            super::rfc3339(self.expires_ms)
        )
    }
}

impl LockInfo {
    pub fn new(holder: &Holder, now_ms: u64, lease: Duration) -> LockInfo {
        LockInfo {
            schema: LOCK_SCHEMA,
            holder: holder.clone(),
            taken_ms: now_ms,
            expires_ms: now_ms + lease.as_millis() as u64,
            fence: 0,
        }
    }

    /// The same lock with fencing token `fence`.
    pub fn fenced(mut self, fence: u64) -> LockInfo {
        self.fence = fence;
        self
    }

    /// Whether this is the lock `holder` took with token `fence` (a renewal or an append by a
    /// holder that lost it, even to itself in another process, is refused).
    pub fn is(&self, holder: &Holder, fence: u64) -> bool {
        self.holder == *holder && self.fence == fence
    }

    /// Why this lock may be taken over now, if it may: its lease ran out, or its holder is a
    /// process on this very host that no longer exists.
    pub fn stale_because(&self, now_ms: u64) -> Option<String> {
        if now_ms >= self.expires_ms {
            return Some(format!(
                "its lease ran out at {}",
                super::rfc3339(self.expires_ms)
            ));
        }
        if self.holder.host == hostname() && !process_alive(self.holder.pid) {
            return Some(format!(
                "its holder (pid {} on this host) no longer exists",
                self.holder.pid
            ));
        }
        None
    }
}

/// A fencing token for a new acquisition: 64 random bits, never 0.
///
/// The store only ever asks "is this the current lock's token?", so uniqueness is what
/// matters, not order (the lock's `taken_ms` orders acquisitions for people). A random token
/// needs no counter that outlives the lock: a command refused after taking the lock leaves
/// the state store exactly as it found it.
pub fn new_fence() -> u64 {
    loop {
        let mut bytes = [0u8; 8];
        getrandom::getrandom(&mut bytes).expect("the OS random number generator");
        let token = u64::from_le_bytes(bytes);
        if token != 0 {
            return token;
        }
    }
}

/// What [`super::Store::acquire`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// The lock is ours. `took_over` is the stale lock it replaced, with the reason.
    Taken {
        lock: LockInfo,
        took_over: Option<(LockInfo, String)>,
    },
    /// Someone else holds it and is alive.
    Held(LockInfo),
}

/// Whether `pid` is a live process on this host (Linux: /proc; elsewhere assumed alive, so
/// only the lease frees a lock there).
pub fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

/// This host's name, as the lock records it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into())
}

/// The user running this process, as the lock and journal record it: `BLUEGREEN_USER` (set it
/// in pipelines, e.g. to the CI job's actor), else `USER`/`LOGNAME`, else the name of this
/// process's uid in /etc/passwd (containers often set no `USER`), else `uid N`.
pub fn current_user() -> String {
    ["BLUEGREEN_USER", "USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .or_else(user_from_uid)
        .unwrap_or_else(|| "unknown".into())
}

fn user_from_uid() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_string();
    let name = std::fs::read_to_string("/etc/passwd").ok().and_then(|p| {
        p.lines().find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            (f.nth(1)? == uid).then(|| name.to_string())
        })
    });
    Some(name.unwrap_or(format!("uid {uid}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(pid: u32, host: &str) -> Holder {
        Holder {
            user: "ci".into(),
            host: host.into(),
            pid,
            command: "deploy".into(),
            deployment: "d1".into(),
        }
    }

    #[test]
    fn the_user_is_never_empty() {
        assert!(!current_user().is_empty());
        let from_uid = user_from_uid().unwrap();
        assert!(
            !from_uid.is_empty() && !from_uid.contains(':'),
            "{from_uid}"
        );
    }

    #[test]
    fn a_live_holder_within_its_lease_is_not_stale() {
        let l = LockInfo::new(
            &holder(std::process::id(), &hostname()),
            1000,
            Duration::from_secs(30),
        );
        assert_eq!(l.stale_because(1000), None);
        assert_eq!(l.stale_because(30_999), None);
        assert!(l.stale_because(31_000).unwrap().contains("lease ran out"));
    }

    #[test]
    fn a_dead_holder_on_this_host_is_stale_but_not_on_another_host() {
        // PIDs above the kernel's maximum (2^22) never exist.
        let dead = u32::MAX - 1;
        let here = LockInfo::new(&holder(dead, &hostname()), 1000, Duration::from_secs(30));
        assert!(here
            .stale_because(2000)
            .unwrap()
            .contains("no longer exists"));
        let there = LockInfo::new(&holder(dead, "elsewhere"), 1000, Duration::from_secs(30));
        assert_eq!(there.stale_because(2000), None);
    }
}
