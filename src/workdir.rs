//! The work directory: every file bluegreen writes at run time (Terraform data dirs, local
//! state, saved plans) lives under one directory per environment, never in `modules/` or
//! `environments/`.
//!
//! ```text
//! <root>/<env>/tf/<stack>/data      TF_DATA_DIR of the stack (shared, blue, green)
//! <root>/<env>/tf/<stack>/scratch   TF_VAR_bluegreen_stack_dir of the stack
//! <root>/<env>/state/               local-backend state (when the root uses backend "local")
//! <root>/<env>/plans/               saved plans of the current run
//! <root>/<env>/outputs/<stack>.json  the stack's outputs record (redacted) + state serial
//! <root>/<env>/tf/<stack>/prepared.json  what the data dir was initialised for
//! ```

use std::path::{Path, PathBuf};

/// Where work directories go when neither `--work-dir` nor `BLUEGREEN_WORK_DIR` is set,
/// relative to the current directory (git-ignored in this repository).
pub const DEFAULT_ROOT: &str = ".bluegreen/work";

#[derive(Debug, Clone)]
pub struct WorkDir {
    dir: PathBuf,
}

impl WorkDir {
    /// `root` is `--work-dir`/`BLUEGREEN_WORK_DIR` if given. The environment's directory is
    /// `<root>/<env>` so one root can serve several environments.
    pub fn new(root: Option<&Path>, env_name: &str) -> std::io::Result<WorkDir> {
        let root = match root {
            Some(r) => r.to_path_buf(),
            None => PathBuf::from(DEFAULT_ROOT),
        };
        let root = if root.is_absolute() {
            root
        } else {
            std::env::current_dir()?.join(root)
        };
        Ok(WorkDir {
            dir: root.join(env_name),
        })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Why bluegreen could not make and write `<root>/<env>`, if it could not; asked of the
    /// file system without writing anything. The directory, or the nearest of its parents that
    /// exists, must be a directory this process may write into.
    pub fn unusable(&self) -> Option<String> {
        let mut dir = self.dir.as_path();
        loop {
            match std::fs::metadata(dir) {
                Ok(meta) if meta.is_dir() => {
                    let access = rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK;
                    return rustix::fs::access(dir, access).err().map(|e| {
                        format!(
                            "{} is a directory this user may not write into ({e})",
                            dir.display()
                        )
                    });
                }
                Ok(meta) => {
                    return Some(format!(
                        "{} is {}, not a directory",
                        dir.display(),
                        crate::input::kind_of(&meta)
                    ))
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                    ) =>
                {
                    dir = dir.parent()?;
                }
                Err(e) => return Some(format!("cannot inspect {}: {e}", dir.display())),
            }
        }
    }

    pub fn stack_data(&self, stack: &str) -> PathBuf {
        self.dir.join("tf").join(stack).join("data")
    }

    pub fn stack_scratch(&self, stack: &str) -> PathBuf {
        self.dir.join("tf").join(stack).join("scratch")
    }

    /// The outputs record of a stack (`flow::recorded`): its outputs, sensitive values
    /// redacted, with the state serial and lineage they came from.
    pub fn outputs_record(&self, stack: &str) -> PathBuf {
        self.dir.join("outputs").join(format!("{stack}.json"))
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.join("state")
    }

    pub fn plans_dir(&self) -> PathBuf {
        self.dir.join("plans")
    }

    /// The plan-artifact key when `BLUEGREEN_PLAN_KEY` is not set (docs/plan-then-deploy.md).
    pub fn plan_key_file(&self) -> PathBuf {
        self.dir.join("plan.key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_lives_under_the_env_dir() {
        let w = WorkDir::new(Some(Path::new("/tmp/bgw")), "staging").unwrap();
        assert_eq!(w.path(), Path::new("/tmp/bgw/staging"));
        for p in [
            w.stack_data("blue"),
            w.stack_scratch("shared"),
            w.state_dir(),
            w.plans_dir(),
        ] {
            assert!(p.starts_with("/tmp/bgw/staging"), "{}", p.display());
        }
        assert_ne!(w.stack_data("blue"), w.stack_data("green"));
    }

    #[test]
    fn a_root_that_cannot_hold_directories_is_unusable() {
        let tmp = tempfile::tempdir().unwrap();
        let fine = WorkDir::new(Some(&tmp.path().join("a/b")), "staging").unwrap();
        assert_eq!(fine.unusable(), None);
        let file = tmp.path().join("file");
        std::fs::write(&file, "").unwrap();
        for root in [file.clone(), file.join("below")] {
            let w = WorkDir::new(Some(&root), "staging").unwrap();
            let why = w.unusable().expect("a file is no root");
            assert_eq!(
                why,
                format!("{} is a regular file, not a directory", file.display())
            );
        }
        let w = WorkDir::new(Some(Path::new("/dev/null")), "staging").unwrap();
        assert_eq!(
            w.unusable().as_deref(),
            Some("/dev/null is a character device, not a directory")
        );
        // An environment directory that is a file is caught too.
        std::fs::write(tmp.path().join("prod"), "").unwrap();
        let w = WorkDir::new(Some(tmp.path()), "prod").unwrap();
        assert!(w.unusable().is_some());
    }
}
