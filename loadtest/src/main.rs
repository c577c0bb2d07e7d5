//! `loadtest`: drives any WAMP router from the outside and reports what it
//! saw. Scenarios: `fanout`, `churn`, `rpc`, `conns`, `http`; `compare` runs one
//! against two routers in turn; `reference-server` is the bare router they
//! are compared to. See `loadtest/README.md`.

mod churn;
mod cli;
mod compare;
mod conn;
mod conns;
mod fanout;
mod http;
mod meter;
mod plot;
mod pool;
mod proc_stat;
mod progress;
mod reference;
mod report;
mod router;
mod rpc;
mod run;
mod sniff;
mod stamp;
mod stream;
mod target;
mod wamp;

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Compare(args) => compare::run(&args),
        cli::Command::ReferenceServer(args) => reference::run(&args),
        scenario => cli::run_and_report(scenario),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadtest: {e}");
            ExitCode::FAILURE
        }
    }
}
