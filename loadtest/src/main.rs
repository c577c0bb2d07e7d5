//! `loadtest`: drives a WAMP router from the outside and reports what it saw.
//!
//! Today it runs the `fanout` scenario over WebSocket; the other scenarios
//! of the loadtest issue come next.

mod client;
mod fanout;
mod proc_stat;

use std::process::ExitCode;
use std::time::Duration;

use ringbar_protocol::codec::Serializer;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: loadtest fanout [--url ws://127.0.0.1:8080/ws] [--realm realm1] \
[--serializer json|msgpack|cbor] [--subscribers 100] [--payload 64] [--rate N|max] \
[--duration 10] [--router-pid PID] [--threads N]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args) {
        Ok((scenario, threads)) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .enable_all()
                .build();
            let result = match runtime {
                Ok(rt) => rt.block_on(fanout::run(scenario)),
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("loadtest: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("loadtest: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn parse(args: &[String]) -> Result<(fanout::Fanout, usize), String> {
    let Some((scenario, rest)) = args.split_first() else {
        return Err("no scenario given".into());
    };
    if scenario != "fanout" {
        return Err(format!("unknown scenario '{scenario}'"));
    }
    let mut url = "ws://127.0.0.1:8080/ws".to_owned();
    let mut realm = "realm1".to_owned();
    let mut serializer = Serializer::Json;
    let mut subscribers = 100;
    let mut payload_bytes = 64;
    let mut rate = None;
    let mut duration = Duration::from_secs(10);
    let mut router_pid = None;
    let mut threads = 1;
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: '{value}' is not a number"))
        };
        match flag.as_str() {
            "--url" => url = value.clone(),
            "--realm" => realm = value.clone(),
            "--serializer" => {
                serializer = Serializer::from_name(value).ok_or_else(|| {
                    format!("--serializer: '{value}' is not json, msgpack or cbor")
                })?
            }
            "--subscribers" => subscribers = number()? as usize,
            "--payload" => payload_bytes = number()? as usize,
            "--rate" if value == "max" => rate = None,
            "--rate" => rate = Some(number()?),
            "--duration" => duration = Duration::from_secs(number()?),
            "--router-pid" => router_pid = Some(number()? as u32),
            "--threads" => threads = number()?.max(1) as usize,
            other => return Err(format!("unknown option {other}")),
        }
    }
    let target = client::Target::parse(&url, &realm, serializer)?;
    Ok((
        fanout::Fanout {
            target,
            subscribers,
            payload_bytes,
            rate,
            duration,
            router_pid,
        },
        threads,
    ))
}
