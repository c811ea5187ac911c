//! `helios`: the Helios command line.

#![forbid(unsafe_code)]

mod decode;
mod sim;

use clap::{Parser, Subcommand};

/// Helios: network flow and telemetry observability.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Decode(decode::Args),
    Sim(sim::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode(args) => decode::run(&args),
        Command::Sim(args) => sim::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("helios: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
