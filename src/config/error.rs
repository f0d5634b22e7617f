//! The one error type of the config layer. Every variant names the file (and, where there is one,
//! the line and column) and says what to do next.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why an environment could not be found, read or validated.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value, attribute or block is wrong; `line:column` point at it.
    #[error("{}:{line}:{column}: {message}\n  fix: {fix}", file.display())]
    Invalid {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
        fix: String,
    },

    /// The file is not valid HCL.
    #[error(
        "{}:{line}:{column}: HCL syntax error: {message}\n  fix: correct the HCL syntax at line {line}, column {column} (the format is in docs/configuration.md)",
        file.display()
    )]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    /// A required top-level attribute or block is absent, so there is no line to point at.
    /// (A required attribute missing from a block that exists is `Invalid`, at the block.)
    #[error("{}: {message}\n  fix: {fix}", file.display())]
    Missing {
        file: PathBuf,
        message: String,
        fix: String,
    },

    /// A file or directory could not be read; the cause is the `source`.
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `ENV` was a name, and `environments/<name>/bluegreen.hcl` does not exist.
    #[error(
        "unknown environment `{name}`: no {}; available: {}\n  fix: pass one of those names or a path to an environment directory",
        environments_dir.join(name).join(super::ENV_FILE).display(),
        Available(available)
    )]
    UnknownEnv {
        name: String,
        environments_dir: PathBuf,
        available: Vec<String>,
    },

    /// `ENV` was a path, and it is not a directory holding a `bluegreen.hcl`.
    #[error(
        "{} is not an environment directory: {}\n  fix: pass a directory that contains {}, or the name of an environment under environments/",
        path.display(),
        reason(.is_dir_missing),
        super::ENV_FILE
    )]
    NotAnEnvDir { path: PathBuf, is_dir_missing: bool },

    /// `ENV` was a path to a file other than an environment file.
    #[error(
        "--env {}: that is a file, not an environment directory\n  fix: pass the directory that contains {}, or the name of an environment under environments/",
        path.display(),
        super::ENV_FILE
    )]
    EnvIsAFile { path: PathBuf },

    /// The environment file is a FIFO, a device, too large, … (never read, or read only up to
    /// its limit).
    #[error("--env: the environment file {source}\n  fix: {}", source.fix("the environment file"))]
    EnvFile {
        #[source]
        source: crate::input::InputError,
    },

    /// The environment's name (its directory's name, or the name given) is not allowed.
    #[error(
        "environment name \"{}\" is not allowed{}: {}\n  fix: {}",
        name.escape_debug(),
        from_dir(dir.as_deref()),
        super::ENV_NAME_RULE,
        name_fix(name, dir.as_deref())
    )]
    BadEnvName {
        name: String,
        /// The directory it is the name of, when `ENV` was a path.
        dir: Option<PathBuf>,
    },
}

impl ConfigError {
    /// The file the error is about.
    pub fn file(&self) -> Option<&Path> {
        match self {
            ConfigError::Invalid { file, .. }
            | ConfigError::Syntax { file, .. }
            | ConfigError::Missing { file, .. } => Some(file),
            ConfigError::Io { path, .. }
            | ConfigError::NotAnEnvDir { path, .. }
            | ConfigError::EnvIsAFile { path } => Some(path),
            ConfigError::EnvFile { source } => Some(source.path()),
            ConfigError::BadEnvName { dir, .. } => dir.as_deref(),
            ConfigError::UnknownEnv { .. } => None,
        }
    }

    /// `(line, column)`, 1-based, when the error points into the file.
    pub fn location(&self) -> Option<(usize, usize)> {
        match self {
            ConfigError::Invalid { line, column, .. }
            | ConfigError::Syntax { line, column, .. } => Some((*line, *column)),
            _ => None,
        }
    }
}

/// Keeps the error that comes first in the file; errors without a position come last. Parsers
/// check every part and keep the first error, so the one reported is the one nearest the top.
#[derive(Default)]
pub(crate) struct FirstError(Option<ConfigError>);

impl FirstError {
    pub(crate) fn keep<T>(&mut self, result: Result<T, ConfigError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(err) => {
                let key = |e: &ConfigError| e.location().unwrap_or((usize::MAX, usize::MAX));
                if self.0.as_ref().is_none_or(|kept| key(&err) < key(kept)) {
                    self.0 = Some(err);
                }
                None
            }
        }
    }

    /// `Err` with the first error, if any was kept.
    pub(crate) fn check(self) -> Result<(), ConfigError> {
        self.0.map_or(Ok(()), Err)
    }
}

fn reason(is_dir_missing: &bool) -> String {
    if *is_dir_missing {
        "it does not exist".to_owned()
    } else {
        format!("it has no {}", super::ENV_FILE)
    }
}

/// " (the name of the directory …)", escaped: the path ends in the offending name.
fn from_dir(dir: Option<&Path>) -> String {
    dir.map_or_else(String::new, |d| {
        format!(
            " (the name of the directory \"{}\")",
            d.display().to_string().escape_debug()
        )
    })
}

fn name_fix(name: &str, dir: Option<&Path>) -> String {
    let suggestion = super::paths::suggest_env_name(name);
    match dir {
        Some(_) => format!(
            "rename the environment directory, e.g. to `{suggestion}`, or point --env at one with an allowed name"
        ),
        None => format!(
            "pass the name of an environment directory under environments/, e.g. `{suggestion}`"
        ),
    }
}

struct Available<'a>(&'a [String]);

impl fmt::Display for Available<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&self.0.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_is_file_line_column_message_and_fix() {
        let err = ConfigError::Invalid {
            file: PathBuf::from("environments/local/bluegreen.hcl"),
            line: 3,
            column: 7,
            message: "`region` must be a string, found a number".into(),
            fix: "write e.g. `region = \"us-east-1\"`".into(),
        };
        assert_eq!(
            err.to_string(),
            "environments/local/bluegreen.hcl:3:7: `region` must be a string, found a number\n  fix: write e.g. `region = \"us-east-1\"`"
        );
        assert_eq!(err.location(), Some((3, 7)));
    }

    #[test]
    fn unknown_env_lists_what_exists() {
        let err = ConfigError::UnknownEnv {
            name: "prod".into(),
            environments_dir: PathBuf::from("environments"),
            available: vec!["local".into(), "staging".into()],
        };
        assert_eq!(
            err.to_string(),
            "unknown environment `prod`: no environments/prod/bluegreen.hcl; available: local, staging\n  fix: pass one of those names or a path to an environment directory"
        );
        let none = ConfigError::UnknownEnv {
            name: "prod".into(),
            environments_dir: PathBuf::from("environments"),
            available: vec![],
        };
        assert!(none.to_string().contains("available: none"), "{none}");
    }

    #[test]
    fn io_keeps_the_cause_as_source() {
        let err = ConfigError::Io {
            path: PathBuf::from("/x/bluegreen.hcl"),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        };
        assert_eq!(err.to_string(), "cannot read /x/bluegreen.hcl");
        let source = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("gone"));
    }
}
