//! The `reprise` binary: parses configuration and wires the stages together. Nothing else lives here.

mod cli;
mod commands;
mod config;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let flags = config::FlagOverrides {
        data_dir: cli.global.data_dir.clone(),
        listen: cli.global.listen,
        log_json: cli.global.log_json,
    };
    let config = match config::load(cli.global.config.as_deref(), std::env::vars(), &flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("reprise: invalid configuration: {e:#}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&config.log);
    match commands::dispatch(cli.command, config) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("reprise: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(log: &config::LogConfig) {
    let filter = tracing_subscriber::EnvFilter::new(&log.level);
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match log.format {
        config::LogFormat::Json => builder.json().init(),
        config::LogFormat::Text => builder.init(),
    }
}
