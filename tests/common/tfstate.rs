//! Terraform state as bytes, for "state unchanged" assertions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every `*.tfstate` file under `work_dir` (workspaces included), keyed by its path relative
/// to `work_dir`. A missing `work_dir` gives an empty map. Compare two snapshots with
/// `assert_eq!`; any write (even a serial bump) shows.
pub fn state_snapshot(work_dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    collect(work_dir, work_dir, &mut out);
    out
}

fn collect(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => panic!("cannot read {}: {e}", dir.display()),
    };
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        let path = entry.path();
        let file_type = entry
            .file_type()
            .unwrap_or_else(|e| panic!("cannot stat {}: {e}", path.display()));
        if file_type.is_dir() {
            collect(root, &path, out);
        } else if file_type.is_file() && path.extension().is_some_and(|e| e == "tfstate") {
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let relative = path.strip_prefix(root).unwrap_or(&path).to_owned();
            out.insert(relative, bytes);
        }
    }
}
