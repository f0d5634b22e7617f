//! Command-line definitions. Raw arguments become a validated request before any work starts.

use crate::domain::color::Color;
use crate::report::Format;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "bluegreen",
    version,
    about = "Blue/green deployments of ECS services behind an ALB, driven by Terraform/OpenTofu",
    propagate_version = true
)]
pub struct Cli {
    /// Root of the work directories (Terraform data, local state, plans); the environment's
    /// files go in `<DIR>/<env>`.
    #[arg(long, global = true, env = "BLUEGREEN_WORK_DIR", value_name = "DIR")]
    pub work_dir: Option<PathBuf>,

    /// Where environment names are looked up.
    #[arg(
        long,
        global = true,
        env = "BLUEGREEN_ENVIRONMENTS_DIR",
        default_value = "environments",
        value_name = "DIR"
    )]
    pub environments_dir: PathBuf,

    /// More detail in logs (repeat for more); logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct EnvArg {
    /// Environment: a name under the environments directory, or a path to an environment
    /// directory.
    #[arg(long = "env", value_name = "ENV")]
    pub env: String,

    /// Output for people (default) or JSON for pipelines.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub output: Format,
}

/// How long to wait for the environment lock.
#[derive(Debug, Args, Clone)]
pub struct LockArg {
    /// Wait this long for the environment lock when another command holds it (e.g. `10m`);
    /// by default fail at once with exit code 8 (LOCKED), naming the holder.
    #[arg(long, value_name = "DURATION", value_parser = parse_lock_timeout, default_value = "0s")]
    pub lock_timeout: std::time::Duration,
}

/// Where a deployment stops, unfinished, with exit code 0 (`resume` continues it).
#[derive(Debug, Args, Clone)]
pub struct UntilArg {
    /// Stop at a checkpoint and exit 0: `test-traffic` (the new color passed every signal
    /// with test traffic only) or `weight:N` (the step at N % was verified and baked).
    /// `bluegreen resume` continues.
    #[arg(long, value_name = "STAGE")]
    pub until: Option<String>,
}

/// What to do about plan-safety findings.
#[derive(Debug, Args, Clone)]
pub struct SafetyArg {
    /// Apply a plan of the idle color even though it destroys or replaces a protected resource
    /// or touches an object of the live color or the shared stack. Each finding let through is
    /// recorded (in the plan artifact and the journal).
    #[arg(long)]
    pub allow_unsafe_plan: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Provision the idle color with the image, verify it, and move traffic to it with the
    /// environment's strategy, watching every health signal. Plan + apply in one step.
    Deploy {
        #[command(flatten)]
        env: EnvArg,
        /// Container image: `[registry/]repository[:tag][@sha256:…]`; an ECR tag is resolved
        /// to its digest and deployed by digest.
        #[arg(long, value_name = "IMAGE")]
        image: String,
        /// Deploy even when the live color already runs this image.
        #[arg(long)]
        force: bool,
        /// Override the environment's strategy for this run: `all-at-once`,
        /// `canary:PERCENT:BAKE`, `linear:STEP:INTERVAL` or `steps:W@BAKE,pause,…,100`.
        #[arg(long, value_name = "SPEC")]
        strategy: Option<String>,
        #[command(flatten)]
        until: UntilArg,
        #[command(flatten)]
        safety: SafetyArg,
        #[command(flatten)]
        lock: LockArg,
    },
    /// Write a reviewable plan artifact: the image digest, the idle color's Terraform plan,
    /// the live weights and state it was made against, the schedule and the gates. Changes
    /// nothing. `bluegreen apply FILE` carries it out.
    Plan {
        #[command(flatten)]
        env: EnvArg,
        /// Container image, as for `deploy`.
        #[arg(long, value_name = "IMAGE")]
        image: String,
        /// Where to write the artifact.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Override the environment's strategy (recorded in the plan).
        #[arg(long, value_name = "SPEC")]
        strategy: Option<String>,
        #[command(flatten)]
        safety: SafetyArg,
    },
    /// Carry out a plan artifact exactly: refuses a modified one, or one the world moved past
    /// (live weights, Terraform state, image, another deployment, the environment file).
    Apply {
        /// The artifact `bluegreen plan --out` wrote.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The environment (default: the one recorded in the artifact).
        #[arg(long = "env", value_name = "ENV")]
        env: Option<String>,
        /// Output for people (default) or JSON for pipelines.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        output: Format,
        #[command(flatten)]
        until: UntilArg,
        #[command(flatten)]
        lock: LockArg,
    },
    /// Approve production traffic for the deployment waiting at its approval gate; recorded
    /// in its journal with who (STS caller identity, or --by), when and why.
    Approve {
        #[command(flatten)]
        env: EnvArg,
        /// Why (kept in the deployment's history).
        #[arg(long, value_name = "TEXT")]
        comment: Option<String>,
        /// Who approves, when the STS caller identity is not available (recorded as
        /// unverified) or to name the person behind a shared role.
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        #[command(flatten)]
        lock: LockArg,
    },
    /// Continue an interrupted, stopped (`--until`) or approved deployment from its last
    /// verified step, if the live weights still match what its journal says.
    Resume {
        #[command(flatten)]
        env: EnvArg,
        #[command(flatten)]
        until: UntilArg,
        #[command(flatten)]
        lock: LockArg,
    },
    /// Continue a deploy that is waiting at a pause step.
    Promote {
        #[command(flatten)]
        env: EnvArg,
    },
    /// Show the live color and the weights, read from the load balancer.
    Status {
        #[command(flatten)]
        env: EnvArg,
    },
    /// Put all traffic back on the other color (it must still be running and pass every signal).
    Rollback {
        #[command(flatten)]
        env: EnvArg,
        /// The color to put traffic on (default: the one that is not live).
        #[arg(long, value_name = "COLOR", value_parser = parse_color)]
        to: Option<Color>,
        /// Move traffic even when the target color fails a configured signal (an alarm in
        /// ALARM, an HTTP check, …); the failing signals are journaled and shown by `history`.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        lock: LockArg,
    },
    /// Destroy and re-create the idle color's stack from HCL with the live image, verify it at
    /// zero production traffic, and scale it back to its idle size — or, with --swap, move
    /// traffic to it with the environment's strategy.
    Rebuild {
        #[command(flatten)]
        env: EnvArg,
        /// After verifying the rebuilt color, shift production traffic to it.
        #[arg(long)]
        swap: bool,
        /// Image for the rebuilt color (default: the image the live color runs).
        #[arg(long, value_name = "IMAGE")]
        image: Option<String>,
        #[command(flatten)]
        lock: LockArg,
    },
    /// Report drift: `plan -detailed-exitcode` of the shared stack and both colors (never
    /// applied), and what AWS says now against what the journal recorded. Exit 9 on drift.
    Drift {
        #[command(flatten)]
        env: EnvArg,
    },
    /// List past deployments from the journal: who, what, outcome, duration, failing signal.
    History {
        #[command(flatten)]
        env: EnvArg,
        /// Show at most this many (newest first).
        #[arg(long, value_name = "N", default_value_t = 20)]
        limit: usize,
    },
    /// Remove the environment lock by hand (recorded in the holder's journal).
    Unlock {
        #[command(flatten)]
        env: EnvArg,
        /// Required: removing a live holder's lock lets two commands move traffic at once.
        #[arg(long)]
        force: bool,
    },
    /// Journal maintenance.
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
    /// Check the environment file and the modules' contract. No AWS calls, no state changes.
    Validate {
        #[command(flatten)]
        env: EnvArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Keep the records of a damaged journal up to the first damaged one; save the original
    /// aside (docs/operations.md).
    Repair {
        #[command(flatten)]
        env: EnvArg,
        /// The deployment id (from the error message or `bluegreen history`).
        #[arg(long, value_name = "ID")]
        deployment: String,
    },
}

/// `--lock-timeout`: a duration up to its limit (docs/configuration.md, "Limits").
fn parse_lock_timeout(s: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration ({e}); write e.g. `30s` or `10m`"))?;
    crate::config::check_flag_duration("--lock-timeout", s, d)?;
    Ok(d)
}

fn parse_color(s: &str) -> Result<Color, String> {
    Color::parse(s).ok_or_else(|| format!("`{s}` is not a color; use `blue` or `green`"))
}

/// The environment as a command line the user can paste names it, for printed hints
/// (`bluegreen resume --env …`): the `--env` argument as given (a path stays a path, so the hint
/// never names a different environment that happens to share the directory's name), then
/// `--environments-dir` and `--work-dir` when they came as flags rather than from the
/// environment variables or the defaults; each value shell-quoted.
pub fn env_for_hints(cli: &Cli, env: &EnvArg) -> String {
    let quote = |s: &str| -> String {
        shlex::try_quote(s).map_or_else(|_| format!("{s:?}"), |q| q.into_owned())
    };
    let mut out = quote(&env.env);
    let is_path = crate::config::env_is_path(&env.env);
    let dir_from_flag = std::env::var_os("BLUEGREEN_ENVIRONMENTS_DIR").is_none()
        && cli.environments_dir != std::path::Path::new("environments");
    if !is_path && dir_from_flag {
        out.push_str(" --environments-dir ");
        out.push_str(&quote(&cli.environments_dir.to_string_lossy()));
    }
    if let Some(work) = cli.work_dir.as_deref() {
        if std::env::var_os("BLUEGREEN_WORK_DIR").is_none() {
            out.push_str(" --work-dir ");
            out.push_str(&quote(&work.to_string_lossy()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn deploy_requires_env_and_image() {
        assert!(Cli::try_parse_from(["bluegreen", "deploy", "--env", "local"]).is_err());
        let c = Cli::try_parse_from([
            "bluegreen",
            "deploy",
            "--env",
            "local",
            "--image",
            "nginx:1",
        ])
        .unwrap();
        assert!(matches!(c.command, Command::Deploy { .. }));
    }

    #[test]
    fn lock_timeout_has_a_limit() {
        let parse = |t: &str| {
            Cli::try_parse_from(["bluegreen", "rollback", "--env", "x", "--lock-timeout", t])
        };
        assert!(parse("24h").is_ok());
        let err = parse("100000000000d").unwrap_err().to_string();
        assert!(
            err.contains("--lock-timeout \"100000000000d\" is longer than its limit of 24h"),
            "{err}"
        );
    }

    #[test]
    fn rollback_color_is_validated() {
        assert!(
            Cli::try_parse_from(["bluegreen", "rollback", "--env", "x", "--to", "red"]).is_err()
        );
    }
}
