//! Finding the OpenTofu or Terraform binary.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

use super::error::IacError;

/// Which binary the operator wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IacPreference {
    /// `tofu` on PATH, else `terraform` on PATH.
    Auto,
    /// `tofu` on PATH.
    Tofu,
    /// `terraform` on PATH.
    Terraform,
    /// This file, or — for a bare name without a `/` — that name on PATH.
    Path(PathBuf),
}

/// The two tools get identical flags; the kind only names the tool in
/// messages and says which field of the `-json` version message to expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IacKind {
    Tofu,
    Terraform,
}

impl IacKind {
    pub fn name(self) -> &'static str {
        match self {
            IacKind::Tofu => "OpenTofu",
            IacKind::Terraform => "Terraform",
        }
    }

    /// The kind a binary's file name suggests (`tofu`, `opentofu`, … → Tofu).
    pub fn from_program(program: &Path) -> IacKind {
        let name = program
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if name.contains("tofu") {
            IacKind::Tofu
        } else {
            IacKind::Terraform
        }
    }
}

impl fmt::Display for IacKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IacTool {
    pub program: PathBuf,
    pub kind: IacKind,
}

/// Finds the binary the preference names on this process's PATH.
pub fn discover(pref: &IacPreference) -> Result<IacTool, IacError> {
    discover_in(pref, std::env::var_os("PATH").as_deref())
}

/// [`discover`] with an explicit PATH value (so tests need not touch the
/// process environment).
pub fn discover_in(pref: &IacPreference, path_var: Option<&OsStr>) -> Result<IacTool, IacError> {
    let names: &[&str] = match pref {
        IacPreference::Auto => &["tofu", "terraform"],
        IacPreference::Tofu => &["tofu"],
        IacPreference::Terraform => &["terraform"],
        IacPreference::Path(path) => return explicit(path, path_var),
    };
    for name in names {
        if let Some(program) = search_path(name, path_var) {
            return Ok(IacTool {
                kind: IacKind::from_program(Path::new(name)),
                program,
            });
        }
    }
    Err(IacError::NotFound {
        searched: format!(
            "looked for {} on PATH={}",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" then "),
            path_var.map(|p| p.to_string_lossy()).unwrap_or_default()
        ),
    })
}

fn explicit(path: &Path, path_var: Option<&OsStr>) -> Result<IacTool, IacError> {
    let bare_name = path.components().count() == 1 && !path.is_absolute();
    let found = if bare_name {
        search_path(&path.to_string_lossy(), path_var)
    } else {
        is_executable(path).then(|| path.to_path_buf())
    };
    match found {
        Some(program) => Ok(IacTool {
            kind: IacKind::from_program(&program),
            program,
        }),
        None if bare_name => Err(IacError::NotFound {
            searched: format!(
                "`{}` is not on PATH={}",
                path.display(),
                path_var.map(|p| p.to_string_lossy()).unwrap_or_default()
            ),
        }),
        None => Err(IacError::NotFound {
            searched: format!(
                "the configured binary {} does not exist or is not executable",
                path.display()
            ),
        }),
    }
}

fn search_path(name: &str, path_var: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path_var?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::os::unix::fs::PermissionsExt;

    fn bin(dir: &Path, name: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn path_of(dirs: &[&Path]) -> OsString {
        std::env::join_paths(dirs).unwrap()
    }

    #[test]
    fn auto_prefers_tofu_over_terraform() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        bin(a.path(), "terraform", 0o755);
        let tofu = bin(b.path(), "tofu", 0o755);
        let path = path_of(&[a.path(), b.path()]);
        let tool = discover_in(&IacPreference::Auto, Some(&path)).unwrap();
        assert_eq!(
            tool,
            IacTool {
                program: tofu,
                kind: IacKind::Tofu
            }
        );
    }

    #[test]
    fn auto_falls_back_to_terraform_and_skips_non_executables() {
        let a = tempfile::tempdir().unwrap();
        bin(a.path(), "tofu", 0o644);
        let terraform = bin(a.path(), "terraform", 0o755);
        let path = path_of(&[a.path()]);
        let tool = discover_in(&IacPreference::Auto, Some(&path)).unwrap();
        assert_eq!(
            tool,
            IacTool {
                program: terraform,
                kind: IacKind::Terraform
            }
        );
    }

    #[test]
    fn explicit_preference_does_not_fall_back() {
        let a = tempfile::tempdir().unwrap();
        bin(a.path(), "terraform", 0o755);
        let path = path_of(&[a.path()]);
        let err = discover_in(&IacPreference::Tofu, Some(&path)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("looked for `tofu` on PATH"), "{text}");
        assert!(!text.contains("then `terraform`"), "{text}");
        assert!(text.contains(&a.path().display().to_string()), "{text}");
    }

    #[test]
    fn nothing_found_says_what_was_searched_and_how_to_fix() {
        let a = tempfile::tempdir().unwrap();
        let path = path_of(&[a.path()]);
        let text = discover_in(&IacPreference::Auto, Some(&path))
            .unwrap_err()
            .to_string();
        assert!(text.contains("`tofu` then `terraform`"), "{text}");
        assert!(text.contains("Install OpenTofu"), "{text}");
    }

    #[test]
    fn explicit_path_is_checked_and_kind_comes_from_the_name() {
        let a = tempfile::tempdir().unwrap();
        let program = bin(a.path(), "tofu-1.8", 0o755);
        let tool = discover_in(&IacPreference::Path(program.clone()), None).unwrap();
        assert_eq!(
            tool,
            IacTool {
                program,
                kind: IacKind::Tofu
            }
        );

        let missing = a.path().join("terraform");
        let text = discover_in(&IacPreference::Path(missing.clone()), None)
            .unwrap_err()
            .to_string();
        assert!(text.contains(&missing.display().to_string()), "{text}");
    }

    #[test]
    fn bare_name_is_looked_up_on_path() {
        let a = tempfile::tempdir().unwrap();
        let program = bin(a.path(), "terraform1.11", 0o755);
        let path = path_of(&[a.path()]);
        let tool = discover_in(&IacPreference::Path("terraform1.11".into()), Some(&path)).unwrap();
        assert_eq!(
            tool,
            IacTool {
                program,
                kind: IacKind::Terraform
            }
        );
    }
}
