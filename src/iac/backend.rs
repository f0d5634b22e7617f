//! The backend a root module declares, read from its HCL.

use std::path::{Path, PathBuf};

use super::error::IacError;

/// The backend type of `terraform { backend "X" {} }` in the root module's
/// `*.tf` files, or `None` when there is none.
///
/// Like Terraform, a backend in an override file (`override.tf`,
/// `*_override.tf`) replaces the one in the primary files; two primary files
/// declaring one is an error. Not read: `*.tf.json` files, and `cloud {}`
/// blocks (HCP Terraform), which are not a backend — a root relying on
/// either reads as having none.
pub fn declared_backend(root: &Path) -> Result<Option<String>, IacError> {
    let mut files = tf_files(root)?;
    // Primary files first, then overrides, each in lexical order (Terraform's order).
    files.sort_by_key(|path| (is_override(path), path.clone()));
    let mut primary: Option<(PathBuf, String)> = None;
    let mut overridden: Option<String> = None;
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|source| IacError::Io {
            action: "read",
            path: path.clone(),
            source,
        })?;
        let body = hcl::parse(&text).map_err(|err| IacError::Hcl {
            path: path.clone(),
            message: err.to_string(),
        })?;
        for backend in backends(&body) {
            if is_override(&path) {
                overridden = Some(backend);
            } else if let Some((first, _)) = &primary {
                return Err(IacError::Hcl {
                    path,
                    message: format!(
                        "a second backend block (the first is in {}); a root module has one",
                        first.display()
                    ),
                });
            } else {
                primary = Some((path.clone(), backend));
            }
        }
    }
    Ok(overridden.or(primary.map(|(_, backend)| backend)))
}

fn backends(body: &hcl::Body) -> Vec<String> {
    body.blocks()
        .filter(|block| block.identifier() == "terraform")
        .flat_map(|terraform| terraform.body().blocks())
        .filter(|block| block.identifier() == "backend")
        .filter_map(|backend| backend.labels().first().map(|l| l.as_str().to_owned()))
        .collect()
}

fn tf_files(root: &Path) -> Result<Vec<PathBuf>, IacError> {
    let io = |source| IacError::Io {
        action: "list the root module",
        path: root.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "tf") && path.is_file() {
            files.push(path);
        }
    }
    Ok(files)
}

fn is_override(path: &Path) -> bool {
    path.file_stem()
        .map(|s| s.to_string_lossy())
        .is_some_and(|s| s == "override" || s.ends_with("_override"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn finds_the_backend_in_any_file() {
        let dir = root(&[
            ("main.tf", "resource \"terraform_data\" \"x\" {}\n"),
            ("versions.tf", "terraform {\n  required_version = \">= 1.4\"\n  backend \"s3\" {\n    key = \"k\"\n  }\n}\n"),
            ("notes.txt", "terraform { backend \"local\" {} }"),
        ]);
        assert_eq!(declared_backend(dir.path()).unwrap().as_deref(), Some("s3"));
    }

    #[test]
    fn none_without_a_backend_block() {
        let dir = root(&[
            (
                "main.tf",
                "terraform {\n  required_version = \">= 1.4\"\n}\n",
            ),
            (
                "cloud.tf",
                "terraform {\n  cloud {\n    organization = \"o\"\n  }\n}\n",
            ),
        ]);
        assert_eq!(declared_backend(dir.path()).unwrap(), None);
    }

    #[test]
    fn override_files_win_and_duplicates_are_errors() {
        let dir = root(&[
            ("a.tf", "terraform {\n  backend \"local\" {}\n}\n"),
            (
                "backend_override.tf",
                "terraform {\n  backend \"s3\" {}\n}\n",
            ),
        ]);
        assert_eq!(declared_backend(dir.path()).unwrap().as_deref(), Some("s3"));

        let dir = root(&[
            ("a.tf", "terraform {\n  backend \"local\" {}\n}\n"),
            ("b.tf", "terraform {\n  backend \"s3\" {}\n}\n"),
        ]);
        let err = declared_backend(dir.path()).unwrap_err().to_string();
        assert!(err.contains("b.tf") && err.contains("a.tf"), "{err}");
    }

    #[test]
    fn syntax_errors_name_the_file() {
        let dir = root(&[("broken.tf", "terraform {\n  backend \"local\" {\n")]);
        let err = declared_backend(dir.path()).unwrap_err().to_string();
        assert!(err.contains("broken.tf"), "{err}");
    }

    #[test]
    fn the_fixture_module_declares_local() {
        let module = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/modules/sensitive");
        assert_eq!(declared_backend(&module).unwrap().as_deref(), Some("local"));
    }
}
