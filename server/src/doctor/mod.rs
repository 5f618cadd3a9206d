//! `liaison doctor`: checks a configuration the way `serve` would meet it (the settings, the built
//! site, the catalogue, `public_url` against the cookie and embed settings, where `/metrics`
//! listens, the database and its migrations, the key file and the secrets it opens, outbound DNS)
//! without changing anything, and prints one line per check: `ok`, `warn` or `FAIL`, what was
//! checked and what to do. Any `FAIL` makes the exit status 1. No line ever carries a secret: the
//! database URL is shown without its password, keys and tokens only as "set".

mod checks;
mod database;

use crate::config::Config;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

pub use checks::{embedding, key_file_mode, metrics_listen, public_url, site};
pub use database::compare_migrations;

/// How long the database and the DNS lookup may take before the check says they did not answer.
pub const TIME_LIMIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub level: Level,
    /// What was checked, in a word or two.
    pub check: &'static str,
    /// What was found, and what to do about it when it is not `ok`.
    pub message: String,
}

impl Line {
    pub fn ok(check: &'static str, message: impl Into<String>) -> Line {
        Line { level: Level::Ok, check, message: message.into() }
    }
    pub fn warn(check: &'static str, message: impl Into<String>) -> Line {
        Line { level: Level::Warn, check, message: message.into() }
    }
    pub fn fail(check: &'static str, message: impl Into<String>) -> Line {
        Line { level: Level::Fail, check, message: message.into() }
    }
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.level {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        write!(f, "{level:<4}  {}: {}", self.check, self.message)
    }
}

/// `liaison doctor`: runs every check, prints each line as it is known, exits 1 on a failure.
pub fn main(config_file: Option<&Path>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("liaison: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut failed = false;
    runtime.block_on(run(config_file, &mut |line| {
        failed |= line.level == Level::Fail;
        println!("{line}");
    }));
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Every check, in order, each line handed to `out` as soon as it is known.
pub async fn run(config_file: Option<&Path>, out: &mut dyn FnMut(Line)) {
    let config = match Config::load(config_file) {
        Ok(config) => {
            let from = config_file
                .map(|f| format!("the file {} and the LIAISON_* environment variables", f.display()))
                .unwrap_or_else(|| "the LIAISON_* environment variables (no --config file)".into());
            out(Line::ok("configuration", format!("read from {from}")));
            config
        }
        Err(e) => {
            out(Line::fail("configuration", format!("{e}. Fix it; the other checks need a configuration that loads")));
            return;
        }
    };
    out(site(&config.site_root));
    let catalogue = checks::catalogue(&config);
    let dns_name = catalogue.as_ref().ok().and_then(|c| checks::dns_name(&config, c));
    out(match catalogue {
        Ok(c) => checks::operator_clients(&config, &c),
        Err(line) => line,
    });
    out(public_url(&config));
    out(embedding(&config));
    out(checks::metrics_listen(&config));
    // Each step has its own time limit; a database that accepts and then stalls has this one.
    match tokio::time::timeout(TIME_LIMIT * 4, database::check(&config)).await {
        Ok(lines) => {
            for line in lines {
                out(line);
            }
        }
        Err(_) => out(Line::fail(
            "database",
            format!("no answer within {} s. Check that it runs and is not overloaded", (TIME_LIMIT * 4).as_secs()),
        )),
    }
    out(checks::dns(dns_name).await);
}

#[cfg(test)]
mod tests;
