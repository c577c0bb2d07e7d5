//! The `ringbar` command: the node's command-line entry point.
//!
//! Exit codes: 0 done, 1 the node could not run (a port in use, a node
//! already running, a file that cannot be written), 2 a bad command line
//! or config, 3 (`stop`, `status`) no node runs from the directory.

mod check;
mod cli;
mod config;
mod control;
mod convert;
mod init;
mod key;
mod keys;
mod logging;
mod managed;
mod management;
mod metrics;
mod pair;
mod pidfile;
mod reconfigure;
mod session_thread;
mod start;
mod status;
mod stop;
mod uplink;
mod workers;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, SqlCommand};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The exit code when the node could not do its work.
pub(crate) const EXIT_FAILURE: u8 = 1;
/// The exit code for an invalid config (clap also uses 2 for usage errors).
pub(crate) const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.loglevel);
    match cli.command {
        Command::Version => {
            println!(
                "ringbar {} ({})",
                env!("CARGO_PKG_VERSION"),
                ringbar_engine::WAMP_VERSION
            );
            ExitCode::SUCCESS
        }
        Command::Init {
            dir,
            management,
            management_key,
            management_ca,
        } => match init::init(
            &dir,
            management.as_deref().map(|url| init::UplinkSetup {
                url,
                key: management_key,
                ca: management_ca.as_deref(),
            }),
        ) {
            Ok(()) => {
                match &management {
                    Some(url) => println!(
                        "Start it with `ringbar start {}`: it shows an activation code; pair it with `ringbar pair CODE --management {url} --user NAME`, and its management service configures it.",
                        dir.display()
                    ),
                    None => println!(
                        "Start it with `ringbar start {}`; clients connect to ws://127.0.0.1:8080/ws or rawsocket 127.0.0.1:8081, realm \"realm1\".",
                        dir.display()
                    ),
                }
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("ringbar: cannot initialise {}: {error}", dir.display());
                ExitCode::from(EXIT_FAILURE)
            }
        },
        Command::Start { node, config, run } => {
            let dir = node.path();
            start::run(&dir, config.path(&dir).as_deref(), run.overrides())
        }
        Command::Stop { node, timeout } => {
            stop::run(&node.path(), std::time::Duration::from_secs(timeout))
        }
        Command::Status { node, json } => status::run(&node.path(), json),
        Command::Check { node, config } => {
            let dir = node.path();
            check::run(&dir, config.path(&dir).as_deref())
        }
        Command::Keys { node, private } => keys::run(&node.path(), private),
        Command::Convert { node, config } => {
            let dir = node.path();
            convert::run(&dir, config.path(&dir).as_deref())
        }
        Command::Management { command } => management::run(command),
        Command::Sql {
            command: SqlCommand::Schema,
        } => {
            print!("{}", ringbar_bridges::postgresql::schema_sql());
            ExitCode::SUCCESS
        }
        Command::Pair {
            code,
            management,
            management_ca,
            allow_plain_ws,
            user,
            name,
            password_file,
        } => pair::run(&pair::Pairing {
            code: &code,
            management: &management,
            management_ca: management_ca.as_deref(),
            allow_plain_ws,
            user: &user,
            name: name.as_deref(),
            password_file: password_file.as_deref(),
        }),
    }
}
