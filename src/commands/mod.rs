//! One module per subcommand; [`run`] dispatches and maps the outcome to an exit code.

mod apply;
mod approve;
mod deploy;
mod drift;
mod history;
mod plan;
mod promote;
mod rebuild;
mod repair;
mod resume;
mod rollback;
mod status;
mod unlock;
mod validate;

pub use crate::flow::context::Ctx;

use crate::cli::{Cli, Command, JournalCommand};
use crate::error::Error;
use crate::exit;

/// Runs a parsed command line and returns the process exit code. Errors are printed to stderr
/// with their cause chain.
pub fn run(cli: Cli) -> i32 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::INTERNAL;
        }
    };
    match rt.block_on(dispatch(&cli)) {
        Ok(()) => exit::SUCCESS,
        Err(e) => {
            print_error(&e);
            e.exit_code()
        }
    }
}

async fn dispatch(cli: &Cli) -> Result<(), Error> {
    match &cli.command {
        Command::Deploy {
            env,
            image,
            force,
            strategy,
            until,
            safety,
            lock,
        } => {
            // Everything the user typed is validated before any work starts.
            let args = deploy::DeployArgs {
                image: crate::domain::image::ImageRef::parse(image)?,
                force: *force,
                strategy: parse_strategy(strategy.as_deref(), "deploy")?,
                until: parse_until(&until.until)?,
                allow_unsafe: safety.allow_unsafe_plan,
                lock_wait: lock.lock_timeout,
            };
            let ctx = Ctx::load_for_aws(cli, env)?;
            deploy::run(&ctx, args).await
        }
        Command::Plan {
            env,
            image,
            out,
            strategy,
            safety,
        } => {
            let image = crate::domain::image::ImageRef::parse(image)?;
            let strategy = parse_strategy(strategy.as_deref(), "plan")?;
            let ctx = Ctx::load_for_aws(cli, env)?;
            plan::run(
                &ctx,
                &env.env,
                &image,
                strategy,
                out,
                safety.allow_unsafe_plan,
            )
            .await
        }
        Command::Apply {
            file,
            env,
            output,
            until,
            lock,
        } => {
            let until = parse_until(&until.until)?;
            let artifact = apply::read(file)?;
            let env = crate::cli::EnvArg {
                env: env.clone().unwrap_or_else(|| artifact.body.env_arg.clone()),
                output: *output,
            };
            let ctx = Ctx::load_for_aws(cli, &env)?;
            apply::run(&ctx, file, artifact, until, lock.lock_timeout).await
        }
        Command::Rebuild {
            env,
            swap,
            image,
            lock,
        } => {
            let image = image
                .as_deref()
                .map(crate::domain::image::ImageRef::parse)
                .transpose()?;
            let ctx = Ctx::load_for_aws(cli, env)?;
            rebuild::run(&ctx, *swap, image.as_ref(), lock.lock_timeout).await
        }
        Command::Validate { env } => validate::run(&Ctx::load(cli, env)?),
        _ => dispatch_other(cli).await,
    }
}

/// The commands that read or answer the state of an environment rather than start a
/// deployment.
async fn dispatch_other(cli: &Cli) -> Result<(), Error> {
    match &cli.command {
        Command::Approve {
            env,
            comment,
            by,
            lock,
        } => {
            approve::run(
                &Ctx::load_for_aws(cli, env)?,
                by.as_deref(),
                comment.as_deref(),
                lock.lock_timeout,
            )
            .await
        }
        Command::Promote { env } => promote::run(&Ctx::load_for_aws(cli, env)?).await,
        Command::Status { env } => status::run(&Ctx::load_for_aws(cli, env)?).await,
        Command::Rollback {
            env,
            to,
            force,
            lock,
        } => {
            rollback::run(
                &Ctx::load_for_aws(cli, env)?,
                *to,
                *force,
                lock.lock_timeout,
            )
            .await
        }
        Command::Resume { env, until, lock } => {
            let until = parse_until(&until.until)?;
            resume::run(&Ctx::load_for_aws(cli, env)?, until, lock.lock_timeout).await
        }
        Command::Drift { env } => drift::run(&Ctx::load_for_aws(cli, env)?).await,
        Command::History { env, limit } => {
            history::history(&Ctx::load_for_aws(cli, env)?, *limit).await
        }
        Command::Unlock { env, force } => {
            unlock::unlock(&Ctx::load_for_aws(cli, env)?, *force).await
        }
        Command::Journal {
            command: JournalCommand::Repair { env, deployment },
        } => repair::repair(&Ctx::load_for_aws(cli, env)?, deployment).await,
        _ => unreachable!("dispatch handles every other command"),
    }
}

fn parse_strategy(
    spec: Option<&str>,
    command: &str,
) -> Result<Option<crate::domain::Strategy>, Error> {
    spec.map(crate::config::parse_strategy_spec)
        .transpose()
        .map_err(|e| {
            Error::bad_input(
                e,
                format!("see `bluegreen {command} --help` or docs/strategies.md"),
            )
        })
}

fn parse_until(until: &Option<String>) -> Result<Option<crate::domain::Until>, Error> {
    until
        .as_deref()
        .map(crate::domain::Until::parse)
        .transpose()
        .map_err(|e| {
            Error::bad_input(
                format!("--until: {e}"),
                "pass `--until test-traffic` or `--until weight:N` (a weight of the schedule)",
            )
        })
}

fn print_error(e: &Error) {
    if let Error::AwaitingApproval { .. } = e {
        // Not an error: a stop the environment asked for.
        eprintln!("awaiting approval: {e}");
        return;
    }
    let mut msg = format!("error: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(&format!("\n  caused by: {text}"));
        }
        source = s.source();
    }
    eprintln!("{msg}");
}
