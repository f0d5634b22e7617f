//! Command-line definitions. Raw arguments become a validated request before any work starts.

use crate::color::Color;
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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Provision the idle color with the image, verify it, and move traffic to it with the
    /// environment's strategy, watching every health signal.
    Deploy {
        #[command(flatten)]
        env: EnvArg,
        /// Container image: `[registry/]repository[:tag][@sha256:…]`.
        #[arg(long, value_name = "IMAGE")]
        image: String,
        /// Deploy even when the live color already runs this image.
        #[arg(long)]
        force: bool,
        /// Override the environment's strategy for this run: `all-at-once`,
        /// `canary:PERCENT:BAKE`, `linear:STEP:INTERVAL` or `steps:W@BAKE,pause,…,100`.
        #[arg(long, value_name = "SPEC")]
        strategy: Option<String>,
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
    /// Put all traffic back on the other color (it must still be running and healthy).
    Rollback {
        #[command(flatten)]
        env: EnvArg,
        /// The color to put traffic on (default: the one that is not live).
        #[arg(long, value_name = "COLOR", value_parser = parse_color)]
        to: Option<Color>,
    },
    /// Check the environment file and the modules' contract. No AWS calls, no state changes.
    Validate {
        #[command(flatten)]
        env: EnvArg,
    },
}

fn parse_color(s: &str) -> Result<Color, String> {
    Color::parse(s).ok_or_else(|| format!("`{s}` is not a color; use `blue` or `green`"))
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
    fn rollback_color_is_validated() {
        assert!(
            Cli::try_parse_from(["bluegreen", "rollback", "--env", "x", "--to", "red"]).is_err()
        );
    }
}
