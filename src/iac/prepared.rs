//! What makes a warm stack cheap: a marker next to the data dir (`<work>/<env>/tf/<stack>/
//! prepared.json`) remembers what the data dir was initialised for (a hash of the tool, the
//! root and its modules' `*.tf`, the lock file and the backend configuration) and which
//! workspace was selected and verified in it. `init` runs only when that hash changed, the
//! workspace commands only when the data dir no longer has the workspace selected.
//!
//! Also here: the serial and lineage of a `local` backend's state read straight from its
//! file, the zero-process check of whether a stack moved since its outputs were recorded.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::stack::{Stack, StateMeta, DEFAULT_WORKSPACE};

const FORMAT: u32 = 1;

/// The marker's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Prepared {
    format: u32,
    /// [`init_key`] of the `init` that succeeded in this data dir.
    pub init: String,
    /// The workspace `workspace show` confirmed after it was selected, if one was.
    pub workspace: Option<String>,
}

impl Prepared {
    pub fn new(init: String, workspace: Option<String>) -> Prepared {
        Prepared {
            format: FORMAT,
            init,
            workspace,
        }
    }
}

/// The marker of `stack`: next to its data dir, never inside it (Terraform owns that).
pub(crate) fn marker_path(stack: &Stack) -> PathBuf {
    stack.dirs.data_dir.with_file_name("prepared.json")
}

/// The marker, if there is a readable one of this format.
pub(crate) fn load(stack: &Stack) -> Option<Prepared> {
    let bytes = std::fs::read(marker_path(stack)).ok()?;
    serde_json::from_slice::<Prepared>(&bytes)
        .ok()
        .filter(|p| p.format == FORMAT)
}

/// Replaces the marker atomically. A failure only costs the next command an `init`.
pub(crate) fn save(stack: &Stack, prepared: &Prepared) {
    let path = marker_path(stack);
    let bytes = serde_json::to_vec(prepared).unwrap_or_default();
    if let Err(e) = crate::state::local::atomic_write(&path, &bytes) {
        tracing::warn!("cannot write {}: {e}", path.display());
    }
}

/// Forgets the marker (before an `init`, so a failed one leaves none behind).
pub(crate) fn forget(stack: &Stack) {
    let _ = std::fs::remove_file(marker_path(stack));
}

/// What an `init` depends on, hashed (backend settings may hold credentials: never stored
/// as they are): the tool, the root, the environment every command gets, the backend
/// configuration, and the bytes of every `*.tf` of the root and of the local modules it
/// installed (`modules.json`), plus the dependency lock file. A new provider or module
/// anywhere changes it.
pub(crate) fn init_key(stack: &Stack) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(stack.tool.program.as_os_str().as_encoded_bytes());
    field(stack.dirs.root.as_os_str().as_encoded_bytes());
    field(stack.region.as_deref().unwrap_or_default().as_bytes());
    field(stack.environment.as_deref().unwrap_or_default().as_bytes());
    for (k, v) in &stack.backend_config {
        field(k.as_bytes());
        field(v.as_bytes());
    }
    let root = &stack.dirs.root;
    let mut dirs = vec![root.clone()];
    dirs.extend(module_dirs(&stack.dirs.data_dir, root));
    for dir in dirs {
        field(dir.as_os_str().as_encoded_bytes());
        for file in tf_files(&dir) {
            field(file.as_os_str().as_encoded_bytes());
            field(&std::fs::read(&file).unwrap_or_default());
        }
    }
    field(&std::fs::read(root.join(".terraform.lock.hcl")).unwrap_or_default());
    hex::encode(h.finalize())
}

/// Whether the data dir still looks initialised: Terraform keeps the backend it was
/// initialised with in `terraform.tfstate` there.
pub(crate) fn data_dir_initialised(stack: &Stack) -> bool {
    stack.dirs.data_dir.join("terraform.tfstate").is_file()
}

/// The workspace the data dir has selected: what `workspace show` prints (Terraform and
/// OpenTofu keep it in `<data dir>/environment`; no file means `default`).
pub(crate) fn selected_workspace(stack: &Stack) -> String {
    std::fs::read_to_string(stack.dirs.data_dir.join("environment"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_WORKSPACE.to_owned())
}

/// The local modules `init` installed (`<data dir>/modules/modules.json`, `Dir` relative to
/// the root). Remote modules are under the data dir and only change with an `init`.
fn module_dirs(data_dir: &Path, root: &Path) -> Vec<PathBuf> {
    #[derive(Deserialize)]
    struct Manifest {
        #[serde(rename = "Modules", default)]
        modules: Vec<Module>,
    }
    #[derive(Deserialize)]
    struct Module {
        #[serde(rename = "Dir", default)]
        dir: String,
    }
    let Ok(bytes) = std::fs::read(data_dir.join("modules").join("modules.json")) else {
        return Vec::new();
    };
    let Ok(manifest) = serde_json::from_slice::<Manifest>(&bytes) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = manifest
        .modules
        .into_iter()
        .filter(|m| !m.dir.is_empty() && m.dir != ".")
        .map(|m| root.join(m.dir))
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

fn tf_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "tf") && p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The state file of a `local` backend stack (the `path` and `workspace_dir` settings
/// bluegreen passes; Terraform's layout: `path` for `default`, else
/// `<workspace_dir>/<workspace>/terraform.tfstate`); `None` for any other backend.
pub(crate) fn local_state_file(stack: &Stack) -> Option<PathBuf> {
    let backend = super::declared_backend(&stack.dirs.root).ok().flatten()?;
    if backend != "local" {
        return None;
    }
    let get = |key: &str| {
        stack
            .backend_config
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| PathBuf::from(v))
    };
    match stack.workspace_name() {
        DEFAULT_WORKSPACE => get("path"),
        ws => get("workspace_dir").map(|d| d.join(ws).join("terraform.tfstate")),
    }
}

/// Serial and lineage of a `local` backend's state, read from its file without Terraform:
/// `None` when the stack has another backend or the file cannot be read as a state (the
/// caller then asks Terraform); `Some(None)` when there is no state file (no state yet).
pub(crate) fn local_state_meta(stack: &Stack) -> Option<Option<StateMeta>> {
    let path = local_state_file(stack)?;
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<StateMeta>(&bytes).ok().map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(None),
        Err(_) => None,
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::iac::{IacKind, IacTool, StackDirs};

    /// A fake `terraform` that logs each launch and keeps the data dir as Terraform does
    /// (`terraform.tfstate` after init, `environment` after a select); `workspace list`
    /// prints the test's `list` file (one name a line, `*` marking the current one).
    const FAKE: &str = r#"#!/bin/sh
echo "$2 $3" >> "$TF_DATA_DIR/../../calls"
case "$2 $3" in
  init*) echo '{}' > "$TF_DATA_DIR/terraform.tfstate" ;;
  "workspace select") eval "n=\${$#}"; printf '%s' "$n" > "$TF_DATA_DIR/environment" ;;
  "workspace show") cat "$TF_DATA_DIR/environment" 2>/dev/null || echo default ;;
  "workspace list") cat "$TF_DATA_DIR/../../list" ;;
esac
"#;

    struct Fake {
        dir: tempfile::TempDir,
        stack: Stack,
    }

    impl Fake {
        fn new(workspace: Option<&str>) -> Fake {
            use std::os::unix::fs::PermissionsExt as _;
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().join("root");
            std::fs::create_dir_all(&root).unwrap();
            std::fs::write(
                root.join("main.tf"),
                "terraform {\n  backend \"local\" {}\n}\n",
            )
            .unwrap();
            let program = dir.path().join("terraform");
            std::fs::write(&program, FAKE).unwrap();
            std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
            let tf = dir.path().join("tf");
            let stack = Stack::new(
                IacTool {
                    program,
                    kind: IacKind::Terraform,
                },
                StackDirs {
                    root,
                    data_dir: tf.join("data"),
                    scratch_dir: tf.join("scratch"),
                    lock_timeout: std::time::Duration::ZERO,
                },
                workspace.map(str::to_owned),
                vec![
                    ("path".into(), tf.join("s.tfstate").display().to_string()),
                    ("workspace_dir".into(), tf.join("ws").display().to_string()),
                ],
                vec![],
                vec![],
            );
            Fake { dir, stack }
        }

        /// Launches since the last call.
        fn calls(&self) -> Vec<String> {
            let path = self.dir.path().join("calls");
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let _ = std::fs::remove_file(&path);
            text.lines().map(str::to_owned).collect()
        }

        async fn prepare(&self) {
            self.stack.prepare(&mut |_| {}).await.unwrap();
        }

        async fn prepare_existing(&self, list: &str) -> bool {
            std::fs::write(self.dir.path().join("list"), list).unwrap();
            self.stack.prepare_existing(&mut |_| {}).await.unwrap()
        }
    }

    #[tokio::test]
    async fn a_warm_data_dir_launches_nothing_and_any_change_prepares_again() {
        let f = Fake::new(Some("env-blue"));
        f.prepare().await;
        let cold = f.calls();
        assert_eq!(
            cold,
            ["init -input=false", "workspace select", "workspace show"]
        );
        f.prepare().await;
        assert_eq!(f.calls(), Vec::<String>::new(), "warm: nothing launched");
        assert!(f.prepare_existing("").await, "verified: no listing either");
        assert!(f.calls().is_empty());

        // Another workspace selected in the data dir behind bluegreen's back.
        std::fs::write(f.stack.dirs.data_dir.join("environment"), "other").unwrap();
        f.prepare().await;
        assert_eq!(f.calls(), ["workspace select", "workspace show"]);

        // A changed root (a new module or provider) or backend setting: `init` again.
        std::fs::write(f.stack.dirs.root.join("extra.tf"), "# new\n").unwrap();
        f.prepare().await;
        assert_eq!(
            f.calls(),
            ["init -input=false", "workspace select", "workspace show"]
        );
        let mut other = f.stack.clone();
        other.backend_config[0].1.push_str(".moved");
        other.prepare(&mut |_| {}).await.unwrap();
        assert_eq!(
            f.calls(),
            ["init -input=false", "workspace select", "workspace show"]
        );
        // A data dir without Terraform's backend file is not initialised, whatever the marker.
        std::fs::remove_file(f.stack.dirs.data_dir.join("terraform.tfstate")).unwrap();
        other.prepare(&mut |_| {}).await.unwrap();
        assert_eq!(
            f.calls(),
            ["init -input=false", "workspace select", "workspace show"]
        );
    }

    #[tokio::test]
    async fn prepare_existing_lists_once_and_selects_only_when_needed() {
        let f = Fake::new(Some("env-green"));
        assert!(!f.prepare_existing("* default\n").await);
        assert_eq!(f.calls(), ["init -input=false", "workspace list"]);
        // Listed as the current one: no select, no show.
        // (Terraform marks the one the data dir's `environment` names.)
        std::fs::write(f.stack.dirs.data_dir.join("environment"), "env-green").unwrap();
        assert!(f.prepare_existing("  default\n* env-green\n").await);
        assert_eq!(f.calls(), ["workspace list"]);
        assert!(f.prepare_existing("").await);
        assert!(f.calls().is_empty());
    }

    #[test]
    fn a_local_backends_state_file_is_found_per_workspace() {
        let f = Fake::new(Some("env-blue"));
        let tf = f.dir.path().join("tf");
        assert_eq!(
            local_state_file(&f.stack),
            Some(tf.join("ws").join("env-blue").join("terraform.tfstate"))
        );
        assert_eq!(local_state_meta(&f.stack), Some(None), "no state yet");
        let file = tf.join("ws/env-blue/terraform.tfstate");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(
            &file,
            r#"{"version":4,"serial":7,"lineage":"abc","outputs":{}}"#,
        )
        .unwrap();
        let meta = local_state_meta(&f.stack).unwrap().unwrap();
        assert_eq!((meta.serial, meta.lineage.as_str()), (7, "abc"));
        let default = Fake::new(None);
        assert_eq!(
            local_state_file(&default.stack),
            Some(default.dir.path().join("tf/s.tfstate"))
        );
    }
}
