//! The `liaison` command line: `serve` (the default), `migrate`, `admin create`, `keys rotate`,
//! `catalog validate`, `backup`, `restore`, `doctor`.

use app::model::{check_new_password, DisplayName, EmailAddress, Password, Role};
use clap::{Parser, Subcommand};
use server::config::Config;
use server::error::{Error, Result};
use server::store::{orgs, users, Store};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "liaison", version, about = "Liaison: a self-hosted connections manager.")]
struct Cli {
    /// A TOML configuration file (settings in the README).
    #[arg(long, env = "LIAISON_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (the default).
    Serve,
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Manage users from the command line.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The vault's keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The catalogue of predefined services.
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// Copy the SQLite database to FILE (a new file), consistent, while Liaison serves. The keys
    /// are not in it: keep the key file (or master_key) with it. PostgreSQL: use pg_dump.
    Backup { file: PathBuf },
    /// Put the SQLite database FILE (made by `backup`) into the data directory, which must have no
    /// database yet and must have the key file of the Liaison the backup comes from.
    Restore { file: PathBuf },
    /// Check the configuration, the site, the catalogue, the database and its migrations, the keys
    /// and outbound DNS; one line per check (ok, warn, FAIL) with what to do. Exits 1 on a FAIL.
    Doctor,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Re-seal every secret under a new key and retire the old one, while servers run (they
    /// follow within a second). With the key file, a new key is made; with master_key, add the new
    /// key first to every server's master_key, restart them, then run this. Resumable.
    Rotate,
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Check the shipped catalogue and an operator's file (FILE, or the configured catalog_file).
    Validate { file: Option<PathBuf> },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Add a user. The password is read from --password-file, or else from the first line of
    /// standard input (never from the command line, where other users could see it).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// The organisation to add the user to; created if it does not exist.
        #[arg(long)]
        org: String,
        /// admin or member.
        #[arg(long, default_value = "admin")]
        role: String,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Some(Command::Doctor)) {
        return server::doctor::main(cli.config.as_deref());
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("liaison: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    server::init_logging(&config);
    server::auth::password::return_large_blocks();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("liaison: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => server::serve(config).await,
            Command::Migrate => migrate(&config).await,
            Command::Admin { command } => admin(&config, command).await,
            Command::Keys { command: KeysCommand::Rotate } => rotate_keys(&config).await,
            Command::Catalog { command: CatalogCommand::Validate { file } } => {
                validate_catalog(file.as_deref().or(config.catalog_file.as_deref()))
            }
            Command::Backup { file } => server::backup::backup(&config, &file).await.map(|bytes| {
                println!(
                    "backed up to {} ({bytes} bytes); the keys are not in it: keep a copy of the key file (or master_key) with it",
                    file.display()
                )
            }),
            Command::Doctor => Ok(()),
            Command::Restore { file } => server::backup::restore(&config, &file).await.map(|()| {
                println!(
                    "restored {} into {}; start Liaison with this same configuration",
                    file.display(),
                    server::backup::absolute(&config.data_dir).display()
                )
            }),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ Error::Config(_)) => {
            eprintln!("liaison: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("liaison: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(config: &Config) -> Result<()> {
    let store = Store::open(config).await?;
    store.migrate().await?;
    println!("database schema is up to date ({:?})", store.kind);
    Ok(())
}

async fn admin(config: &Config, command: AdminCommand) -> Result<()> {
    let AdminCommand::Create { email, name, org, role, password_file } = command;
    let email = EmailAddress::parse(&email).map_err(|m| Error::Invalid(format!("--email: {m}")))?;
    let name = DisplayName::parse(&name, "a name").map_err(|m| Error::Invalid(format!("--name: {m}")))?;
    let org = DisplayName::parse(&org, "an organisation name").map_err(|m| Error::Invalid(format!("--org: {m}")))?;
    let role = Role::parse(&role).ok_or_else(|| Error::Invalid("--role: use admin or member.".into()))?;
    let password = read_password(password_file)?;
    check_new_password(&password).map_err(|m| Error::Invalid(format!("password: {m}")))?;

    let store = Store::open(config).await?;
    store.migrate().await?;
    let hash = server::auth::password::hash(password.expose().to_string()).await?;
    let now = server::clock::from_config(config).now_ms();
    let mut tx = store.begin().await?;
    let org_id = match orgs::id_by_name(&mut *tx, org.as_str()).await? {
        Some(id) => id,
        None => orgs::create(&mut *tx, org.as_str(), now).await?,
    };
    let user = users::NewUser { org_id, email: email.as_str(), name: name.as_str(), role, password_hash: &hash };
    let user_id = users::create(&mut *tx, user, now).await?;
    // Added back by an admin: a console may bring them again.
    let readded = server::store::members::clear_removed(&mut *tx, org_id, email.as_str()).await?;
    tx.commit().await?;
    println!(
        "created {} {} (user {user_id}) in {} (organisation {org_id}){}",
        role.as_str(),
        email.as_str(),
        org.as_str(),
        if readded { ", lifting an earlier removal" } else { "" }
    );
    Ok(())
}

async fn rotate_keys(config: &Config) -> Result<()> {
    let store = Store::open(config).await?;
    store.migrate().await?;
    let r = server::keys::rotate(config, &store, server::clock::from_config(config).now_ms()).await?;
    println!("active key {}: {} secret(s) re-sealed", r.active, r.resealed);
    if r.unreadable > 0 {
        return Err(Error::Invalid(format!(
            "{} secret(s) could not be opened with the keys given, so no key was retired; restore the missing key and run this again",
            r.unreadable
        )));
    }
    if r.retired.is_empty() {
        println!("no old key left to retire");
    } else if config.master_key.is_some() {
        println!(
            "no secret uses key(s) {} any more: remove them from every server's master_key and restart them",
            r.retired.join(", ")
        );
    } else {
        println!("retired key(s) {} from {}", r.retired.join(", "), config.key_file.display());
    }
    println!("running Liaison servers seal under key {} from now on, without a restart", r.active);
    Ok(())
}

fn validate_catalog(file: Option<&std::path::Path>) -> Result<()> {
    match server::catalog::Catalog::load(file) {
        Ok(catalog) => {
            let from = file.map(|f| format!(", including {}", f.display())).unwrap_or_default();
            println!("catalogue OK: {} services{from}", catalog.services().len());
            Ok(())
        }
        Err(problems) => Err(Error::Invalid(format!(
            "the catalogue has {} problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        ))),
    }
}

fn read_password(file: Option<PathBuf>) -> Result<Password> {
    let raw = match file {
        Some(path) => std::fs::read_to_string(&path)
            .map_err(|e| Error::Invalid(format!("cannot read --password-file {}: {e}", path.display())))?,
        None => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line
        }
    };
    Ok(Password::new(raw.trim_end_matches(['\r', '\n'])))
}
