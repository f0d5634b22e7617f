//! One module per subcommand; [`run`] dispatches and maps the outcome to an exit code.

mod context;
mod deploy;
mod drift;
mod history;
mod lock;
mod promote;
mod rebuild;
mod resume;
mod rollback;
mod shift;
mod signals;
mod status;
mod validate;
mod wait;

pub use context::Ctx;

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
            lock,
        } => {
            // Everything the user typed is validated before any work starts.
            let image = crate::image::ImageRef::parse(image)?;
            let strategy = strategy
                .as_deref()
                .map(crate::config::parse_strategy_spec)
                .transpose()
                .map_err(|e| {
                    Error::bad_input(e, "see `bluegreen deploy --help` or docs/strategies.md")
                })?;
            let ctx = Ctx::load(cli, env)?;
            deploy::run(&ctx, &image, *force, strategy, lock.lock_timeout).await
        }
        Command::Promote { env } => promote::run(&Ctx::load(cli, env)?).await,
        Command::Status { env } => status::run(&Ctx::load(cli, env)?).await,
        Command::Rollback { env, to, lock } => {
            rollback::run(&Ctx::load(cli, env)?, *to, lock.lock_timeout).await
        }
        Command::Resume { env, lock } => {
            resume::run(&Ctx::load(cli, env)?, lock.lock_timeout).await
        }
        Command::Rebuild {
            env,
            swap,
            image,
            lock,
        } => {
            let image = image
                .as_deref()
                .map(crate::image::ImageRef::parse)
                .transpose()?;
            let ctx = Ctx::load(cli, env)?;
            rebuild::run(&ctx, *swap, image.as_ref(), lock.lock_timeout).await
        }
        Command::Drift { env } => drift::run(&Ctx::load(cli, env)?).await,
        Command::History { env, limit } => history::history(&Ctx::load(cli, env)?, *limit).await,
        Command::Unlock { env, force } => history::unlock(&Ctx::load(cli, env)?, *force).await,
        Command::Journal {
            command: JournalCommand::Repair { env, deployment },
        } => history::repair(&Ctx::load(cli, env)?, deployment).await,
        Command::Validate { env } => validate::run(&Ctx::load(cli, env)?),
    }
}

fn print_error(e: &Error) {
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
