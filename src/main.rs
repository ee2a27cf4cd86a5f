//! `guichet`: the command line. Parsing only; the work is in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use guichet::commands;
use guichet::domain::State;

/// guichet — an e-mail intake desk for DA-100 delegation requests.
///
/// Applicants e-mail signed DA-100 forms as PDFs; guichet reads each form,
/// answers the applicant, and queues valid requests, oldest first, for staff
/// to approve or refuse by replying to an e-mail.
///
/// Without --config it runs on local folders: ./var/inbox (a Maildir),
/// ./var/outbox (.eml files) and ./var/db (the store).
#[derive(Parser)]
#[command(name = "guichet", version, propagate_version = true)]
struct Cli {
    /// Configuration file (TOML). Default: /etc/guichet/guichet.toml when it
    /// exists, else the built-in local-folder set-up. Every key can also be
    /// set as GUICHET__SECTION__KEY.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the desk: take new mail, answer it, send approval requests.
    Run {
        /// Handle everything waiting (mailbox, outbox, approvals), then exit.
        #[arg(long)]
        once: bool,
    },
    /// Analyse PDF or .eml files, or a Maildir folder, as the daemon would,
    /// without changing any state.
    Check {
        /// Print JSON (the contract's format) instead of a summary.
        #[arg(long)]
        json: bool,
        /// .pdf or .eml files, or Maildir folders.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Look at the queue of requests, oldest reception first.
    Queue {
        #[command(subcommand)]
        command: QueueCommand,
    },
    /// Processing date, requests per state, outbox, last poll.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Print every request as one JSON object a line, oldest first.
    Export,
    /// Copy the whole store to a file; safe while the daemon runs.
    Backup {
        /// The file to write (replaced whole, never left half-written).
        path: PathBuf,
    },
    /// Replace the store's content with a backup's; safe while the daemon
    /// runs. The file is checked in full before anything changes.
    Restore { path: PathBuf },
    /// Write the manual pages (guichet.1 and one per command) into DIR.
    #[command(hide = true)]
    Man { dir: PathBuf },
    /// Queue today's digest for staff (queue depth, processing date, oldest
    /// requests), unless it went out today; the daemon sends it.
    Digest,
    /// Accounts created by staff approvals.
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
    },
    /// Apply [retention] now: erase every copy of the personal data of
    /// requests settled more than `days` ago (the daemon does it daily).
    Purge,
    /// A person's data: what is held about an address, or its erasure.
    Person {
        #[command(subcommand)]
        command: PersonCommand,
    },
}

#[derive(Subcommand)]
enum PersonCommand {
    /// Print as JSON everything held about the person with this address:
    /// requests, fields, history, accounts, replies, e-mails kept.
    Export { address: String },
    /// Erase now everything held about the person with this address,
    /// unless one of their requests is still waiting (then nothing changes
    /// and the exit status is non-zero). The erasure is recorded with a
    /// digest of the address, never the address.
    Forget {
        address: String,
        /// Why, for the record (e.g. the reference of the person's request).
        #[arg(long, required = true)]
        reason: String,
    },
}

#[derive(Subcommand)]
enum AccountsCommand {
    /// List accounts: username, request, state, hand-off result.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Close an account, e.g. when its credentials are used by someone else.
    Deactivate {
        username: String,
        /// Why, for the record.
        #[arg(long, required = true)]
        reason: String,
    },
}

#[derive(Subcommand)]
enum QueueCommand {
    /// List requests, oldest reception first.
    List {
        #[arg(long)]
        json: bool,
        /// Only requests in this state (queued, review, correction,
        /// rejected, approved, refused).
        #[arg(long, value_name = "S")]
        state: Option<State>,
    },
    /// Show one request and its history.
    Show {
        /// The request number, e.g. DA-2024-000123.
        id: String,
        #[arg(long)]
        json: bool,
    },
}

/// The manual pages, generated from the command line's own definition so
/// that they never drift from it (`make deb` ships them).
fn man_pages(dir: &std::path::Path) -> anyhow::Result<()> {
    use clap::CommandFactory;
    std::fs::create_dir_all(dir)?;
    let cli = Cli::command();
    clap_mangen::generate_to(cli, dir)?;
    Ok(())
}

fn main() -> ExitCode {
    // Tesseract's OpenMP threads must be capped before the library loads.
    if let Err(e) = guichet::reader::reexec_with_single_thread_ocr() {
        eprintln!("guichet: cannot restart with OMP_THREAD_LIMIT=1: {e}");
        return ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { once } => commands::run(cli.config.as_deref(), once),
        Command::Check { json, files } => commands::check(cli.config.as_deref(), &files, json),
        Command::Queue {
            command: QueueCommand::List { json, state },
        } => commands::queue_list(cli.config.as_deref(), state, json),
        Command::Queue {
            command: QueueCommand::Show { id, json },
        } => commands::queue_show(cli.config.as_deref(), &id, json),
        Command::Status { json } => commands::status(cli.config.as_deref(), json),
        Command::Digest => commands::digest(cli.config.as_deref()),
        Command::Accounts {
            command: AccountsCommand::List { json },
        } => commands::accounts_list(cli.config.as_deref(), json),
        Command::Accounts {
            command: AccountsCommand::Deactivate { username, reason },
        } => commands::accounts_deactivate(cli.config.as_deref(), &username, &reason),
        Command::Export => commands::export(cli.config.as_deref()),
        Command::Purge => commands::purge(cli.config.as_deref()),
        Command::Person {
            command: PersonCommand::Export { address },
        } => commands::person_export(cli.config.as_deref(), &address),
        Command::Person {
            command: PersonCommand::Forget { address, reason },
        } => commands::person_forget(cli.config.as_deref(), &address, &reason),
        Command::Backup { path } => commands::backup(cli.config.as_deref(), &path),
        Command::Restore { path } => commands::restore(cli.config.as_deref(), &path),
        Command::Man { dir } => man_pages(&dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("guichet: {e:#}");
            ExitCode::FAILURE
        }
    }
}
