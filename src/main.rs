//! Thin binary: parse the command line, start logging, run, map the outcome to an exit code.

use clap::Parser;

fn main() {
    let cli = bluegreen::cli::Cli::parse();
    let filter = match cli.verbose {
        0 => "warn",
        1 => "bluegreen=info",
        _ => "bluegreen=debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BLUEGREEN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    let code = bluegreen::run(cli);
    std::process::exit(code);
}
