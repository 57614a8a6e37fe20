//! `reprise lexicon validate` and `reprise lexicon check`: exit 0 valid, 1 invalid, 2 could not run.
//! Warnings (an id that does not match its path, a reference that does not resolve) go to stderr and
//! leave the exit code alone.

use std::process::ExitCode;

use reprise_lexicons::{Catalog, FileOutcome, LexiconError, LexiconWarning, check_dir, validate_file};

use crate::cli::LexiconCommand;

pub fn dispatch(command: LexiconCommand) -> ExitCode {
    match command {
        LexiconCommand::Validate { lexicons, nsid, rkey, file } => {
            let catalog = match lexicons {
                None => Catalog::builtin(),
                Some(dir) => match Catalog::load_dir(&dir) {
                    Ok(c) => {
                        c.warnings().iter().for_each(warn);
                        c
                    }
                    Err(e) => return could_not_run(&e.to_string()),
                },
            };
            let outcome = validate_file(&catalog, &nsid, &file, rkey.as_deref());
            match &outcome {
                FileOutcome::Valid => println!("{}: valid {nsid}", file.display()),
                FileOutcome::Invalid(errors) => {
                    for e in errors {
                        println!("{e}");
                    }
                }
                FileOutcome::CouldNotRun(reason) => eprintln!("reprise: {reason}"),
            }
            ExitCode::from(outcome.exit_code() as u8)
        }
        LexiconCommand::Check { dir } => match check_dir(&dir) {
            Ok(report) => {
                report.warnings.iter().for_each(warn);
                for nsid in report.nsids {
                    println!("{nsid}");
                }
                ExitCode::SUCCESS
            }
            Err(e @ LexiconError::Io { .. }) => could_not_run(&e.to_string()),
            Err(e) => {
                eprintln!("reprise: {e}");
                ExitCode::from(1)
            }
        },
    }
}

fn warn(warning: &LexiconWarning) {
    eprintln!("reprise: warning: {warning}");
}

fn could_not_run(reason: &str) -> ExitCode {
    eprintln!("reprise: {reason}");
    ExitCode::from(2)
}
