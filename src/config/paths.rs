//! Finding the environment directory, and resolving the paths written in the file (relative to
//! the environment directory) to absolute ones that exist.

use super::error::ConfigError;
use super::source::Span;
use super::value::Value;
use super::ENV_FILE;
use std::fs;
use std::path::{Component, Path, PathBuf, MAIN_SEPARATOR};

/// ENV is either a name under `environments_dir` or a path to an environment directory
/// (anything containing a path separator, or starting with '.', is a path); a path to the
/// environment file itself (`…/bluegreen.hcl`) means its directory. Returns the env directory,
/// absolute but not canonicalized: a symlinked environment keeps its own name.
pub fn resolve_env(env: &str, environments_dir: &Path) -> Result<PathBuf, ConfigError> {
    let is_path = env_is_path(env);
    if !is_path {
        check_env_name(env, None)?;
    }
    let mut dir = if is_path {
        PathBuf::from(env)
    } else {
        environments_dir.join(env)
    };
    if is_path && dir.file_name().is_some_and(|n| n == ENV_FILE) && !dir.is_dir() {
        dir = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
    }
    let file = dir.join(ENV_FILE);
    match fs::metadata(&file) {
        // A FIFO, a device or too large: refused with what it is (never opened here).
        Ok(_) => {
            crate::input::check(&file, crate::input::ENV_FILE_MAX)
                .map_err(|source| ConfigError::EnvFile { source })?;
        }
        Err(_) if is_path && dir.is_file() => return Err(ConfigError::EnvIsAFile { path: dir }),
        Err(_) if is_path => {
            return Err(ConfigError::NotAnEnvDir {
                is_dir_missing: !dir.is_dir(),
                path: dir,
            })
        }
        Err(_) => {
            return Err(ConfigError::UnknownEnv {
                name: env.to_owned(),
                environments_dir: environments_dir.to_owned(),
                available: available_envs(environments_dir),
            })
        }
    }
    Ok(lexical_absolute(&dir))
}

/// Whether ENV names a path (it contains a path separator or starts with '.') rather than an
/// environment under the environments directory.
pub fn env_is_path(env: &str) -> bool {
    env.contains('/') || env.contains(MAIN_SEPARATOR) || env.starts_with('.')
}

/// Refuses a name outside [`super::ENV_NAME_RULE`]; `dir` is the directory it came from.
pub(crate) fn check_env_name(name: &str, dir: Option<&Path>) -> Result<(), ConfigError> {
    if is_env_name(name) {
        return Ok(());
    }
    Err(ConfigError::BadEnvName {
        name: name.to_owned(),
        dir: dir.map(Path::to_owned),
    })
}

fn is_env_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// An allowed name close to `name`, for the fix.
pub(crate) fn suggest_env_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let clean = clean.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    let clean: String = clean.chars().take(64).collect();
    if clean.is_empty() {
        "staging".to_owned()
    } else {
        clean
    }
}

/// Names of the directories under `environments_dir` that hold a `bluegreen.hcl`, sorted.
pub(crate) fn available_envs(environments_dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(environments_dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join(ENV_FILE).is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// Absolute form of a directory: canonical when it exists, else made absolute lexically.
pub(crate) fn absolute_dir(dir: &Path) -> PathBuf {
    dir.canonicalize().unwrap_or_else(|_| lexical_absolute(dir))
}

/// Absolute, without `.` and `..`, symlinks left alone.
pub(crate) fn lexical_absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).map_or_else(|_| path.to_owned(), |p| normalize(&p))
}

/// Removes `.` and resolves `..` without touching the file system, so a path that does not
/// exist can still be shown in its absolute, readable form.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else if !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// What a path attribute must name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    /// A directory holding at least one `.tf` (or `.tf.json`) file.
    RootModule,
    /// A regular file of at most [`crate::input::VAR_FILE_MAX`] bytes (a var file); the
    /// result is canonicalized.
    File,
    /// A regular file; the result keeps its name (an executable reached through a symlink
    /// should be run by the name it was given).
    Executable,
}

/// Resolves `raw` (from the value `v`, at `span`) against `dir` and checks it is what `want`s.
pub(crate) fn resolve(
    v: &Value<'_>,
    raw: &str,
    span: &Span,
    dir: &Path,
    want: Want,
) -> Result<PathBuf, ConfigError> {
    let name = &v.name;
    if raw.trim().is_empty() {
        return Err(v.error(
            span,
            format!("`{name}` is empty"),
            format!("write e.g. `{}`", v.example),
        ));
    }
    let path = normalize(&dir.join(raw));
    let where_from = format!(
        "relative paths start at the environment directory {}",
        dir.display()
    );
    let Ok(meta) = fs::metadata(&path) else {
        return Err(v.error(
            span,
            format!("`{name}`: {} does not exist", path.display()),
            format!("create it or correct the path ({where_from})"),
        ));
    };
    let expected = match want {
        Want::RootModule => "a directory",
        Want::File | Want::Executable => "a regular file",
    };
    let fits = match want {
        Want::RootModule => meta.is_dir(),
        Want::File | Want::Executable => meta.is_file(),
    };
    if !fits {
        let kind = crate::input::kind_of(&meta);
        return Err(v.error(
            span,
            format!("`{name}`: {} is {kind}, not {expected}", path.display()),
            format!("point `{name}` at {expected} ({where_from})"),
        ));
    }
    if want == Want::File {
        // Terraform reads a var file whole, so its size is bounded here, before any run.
        crate::input::check(&path, crate::input::VAR_FILE_MAX)
            .map_err(|e| v.error(span, format!("`{name}`: {e}"), e.fix("a var file")))?;
    }
    if want == Want::Executable {
        return Ok(path);
    }
    let canonical = path.canonicalize().map_err(|e| {
        v.error(
            span,
            format!("`{name}`: cannot resolve {}: {e}", path.display()),
            "check the path's permissions",
        )
    })?;
    if want == Want::RootModule && !has_tf_files(&canonical) {
        return Err(v.error(
            span,
            format!(
                "`{name}`: {} contains no .tf files, so it is not a root module",
                canonical.display()
            ),
            format!("point `{name}` at the directory that holds the module's .tf files"),
        ));
    }
    Ok(canonical)
}

fn has_tf_files(dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(Result::ok).any(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        (name.ends_with(".tf") || name.ends_with(".tf.json")) && e.path().is_file()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, "").unwrap();
    }

    #[test]
    fn normalize_is_lexical() {
        assert_eq!(
            normalize(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
        assert_eq!(normalize(Path::new("/a/../../b")), PathBuf::from("/b"));
        assert_eq!(normalize(Path::new("a/../../b")), PathBuf::from("../b"));
    }

    #[test]
    fn env_names_resolve_under_environments_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let envs = tmp.path().join("environments");
        touch(&envs.join("local").join(ENV_FILE));
        touch(&envs.join("staging").join(ENV_FILE));
        fs::create_dir_all(envs.join("notes")).unwrap();

        let dir = resolve_env("local", &envs).unwrap();
        assert_eq!(dir, envs.join("local"));

        let err = resolve_env("prod", &envs).unwrap_err();
        match &err {
            ConfigError::UnknownEnv {
                name, available, ..
            } => {
                assert_eq!(name, "prod");
                assert_eq!(available, &["local", "staging"]);
            }
            other => panic!("expected UnknownEnv, got {other:?}"),
        }
        assert!(
            err.to_string().contains("fix: pass one of those names"),
            "{err}"
        );
    }

    #[test]
    fn paths_are_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let env = tmp.path().join("somewhere").join("qa");
        touch(&env.join(ENV_FILE));
        let no_envs = tmp.path().join("environments");

        let arg = env.to_str().unwrap();
        assert_eq!(resolve_env(arg, &no_envs).unwrap(), env);

        let err = resolve_env(tmp.path().join("nope").to_str().unwrap(), &no_envs).unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::NotAnEnvDir {
                    is_dir_missing: true,
                    ..
                }
            ),
            "{err:?}"
        );

        let err = resolve_env(tmp.path().to_str().unwrap(), &no_envs).unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::NotAnEnvDir {
                    is_dir_missing: false,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("it has no bluegreen.hcl"), "{err}");

        // A leading '.' makes it a path even without a separator: not looked up by name.
        let err = resolve_env(".hidden", &no_envs).unwrap_err();
        assert!(matches!(err, ConfigError::NotAnEnvDir { .. }), "{err:?}");
    }

    #[test]
    fn the_env_file_itself_means_its_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let env = tmp.path().join("qa");
        touch(&env.join(ENV_FILE));
        let no_envs = tmp.path().join("environments");
        let file = env.join(ENV_FILE);
        assert_eq!(resolve_env(file.to_str().unwrap(), &no_envs).unwrap(), env);

        // Another file is explained as a file, not as missing.
        touch(&env.join("notes.txt"));
        let err = resolve_env(env.join("notes.txt").to_str().unwrap(), &no_envs).unwrap_err();
        assert!(matches!(err, ConfigError::EnvIsAFile { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains("that is a file, not an environment directory"),
            "{err}"
        );

        // A missing environment file stays "does not exist".
        let gone = tmp.path().join("gone").join(ENV_FILE);
        let err = resolve_env(gone.to_str().unwrap(), &no_envs).unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::NotAnEnvDir {
                    is_dir_missing: true,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn an_env_file_that_is_a_fifo_is_refused_unopened() {
        let tmp = tempfile::tempdir().unwrap();
        let env = tmp.path().join("qa");
        fs::create_dir_all(&env).unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(env.join(ENV_FILE))
            .status()
            .unwrap();
        assert!(status.success());
        let err = resolve_env(env.to_str().unwrap(), &tmp.path().join("e")).unwrap_err();
        assert!(matches!(err, ConfigError::EnvFile { .. }), "{err:?}");
        assert!(
            err.to_string().starts_with("--env: the environment file "),
            "{err}"
        );
        assert!(err.to_string().contains("FIFO"), "{err}");
    }

    #[test]
    fn env_names_follow_the_rule() {
        for ok in [
            "local",
            "staging",
            "qa.eu",
            "prod_2-b",
            "1st",
            &"a".repeat(64),
        ] {
            assert!(is_env_name(ok), "{ok}");
        }
        for bad in [
            "",
            "-x",
            ".x",
            "_x",
            "my env",
            "a\nb",
            "a\tb",
            "ü",
            "a/b",
            &"a".repeat(65),
        ] {
            assert!(!is_env_name(bad), "{bad:?}");
        }
        assert_eq!(suggest_env_name("bad\nname"), "bad-name");
        assert_eq!(suggest_env_name("--x y"), "x-y");
        assert_eq!(suggest_env_name("\n"), "staging");

        let tmp = tempfile::tempdir().unwrap();
        let err = resolve_env("local\n", tmp.path()).unwrap_err();
        assert!(matches!(err, ConfigError::BadEnvName { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with("environment name \"local\\n\" is not allowed: "),
            "{text}"
        );
        assert_eq!(text.lines().count(), 2, "{text}");
    }

    #[test]
    fn no_environments_dir_means_none_available() {
        let tmp = tempfile::tempdir().unwrap();
        let err = resolve_env("local", &tmp.path().join("missing")).unwrap_err();
        assert!(err.to_string().contains("available: none"), "{err}");
    }
}
