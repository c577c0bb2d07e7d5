//! `loadtest`: drives a WAMP router from the outside and reports what it saw.

use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    eprintln!("usage: loadtest <scenario> (scenarios are not built yet)");
    ExitCode::from(2)
}
