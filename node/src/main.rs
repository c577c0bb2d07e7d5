//! The `ringbar` command: the node's command-line entry point.

use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("version") | Some("--version") => {
            println!(
                "ringbar {} ({})",
                env!("CARGO_PKG_VERSION"),
                ringbar_engine::WAMP_VERSION
            );
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: ringbar version");
            eprintln!("(the router commands `init` and `start` are not built yet)");
            ExitCode::from(2)
        }
    }
}
