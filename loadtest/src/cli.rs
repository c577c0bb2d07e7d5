//! The command line: the scenarios' options, and running one scenario with
//! everything around it (the spawned router, progress, outputs).

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use ringbar_protocol::codec::Serializer;

use crate::churn::Churn;
use crate::conns::Conns;
use crate::fanout::{Fanout, FindMax, MAX_RATE};
use crate::http::{Callee, Http, HttpRun, HttpUrl, Signing};
use crate::progress::Progress;
use crate::report::{self, Report};
use crate::router::SpawnedRouter;
use crate::rpc::Rpc;
use crate::run::Run;
use crate::target::{Target, Transport};
use crate::{conns, fanout, http, plot, pool, rpc};

/// The load generator's command line.
#[derive(Debug, Parser)]
#[command(
    name = "loadtest",
    version,
    about = "Measures any WAMP router from the outside: fan-out, RPC, idle sessions, churn"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// A scenario, or `compare`.
#[derive(Debug, Clone, Subcommand)]
pub(crate) enum Command {
    /// S subscribers on T topics, P publishers: events/s, loss, order, latency.
    Fanout {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        fanout: FanoutArgs,
    },
    /// A fan-out while sessions connect, subscribe, unsubscribe and leave.
    Churn {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        fanout: FanoutArgs,
        #[command(flatten)]
        churn: ChurnArgs,
    },
    /// C callees, N callers with W calls in flight each: calls/s, latency, errors.
    Rpc {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// N idle joined sessions: connect time and the router's memory per session.
    Conns {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        conns: ConnsArgs,
    },
    /// POSTs to a REST bridge path (--url http://host:port/path) over
    /// kept-alive connections, optionally signed: requests/s, latency.
    Http {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        http: HttpArgs,
    },
    /// One scenario against two routers, alternating A B A B: medians and A/B.
    Compare(crate::compare::CompareArgs),
    /// Serves the least a WAMP fan-out server can do (one thread, exact
    /// match, one callee per procedure, no auth, no limits) at --url: the
    /// reference router to start with --spawn and compare ringbar to.
    ReferenceServer(crate::reference::ReferenceArgs),
}

/// Options every scenario takes.
#[derive(Debug, Clone, Args)]
pub(crate) struct Common {
    /// The router: ws://host:port/path (WebSocket) or rs://host:port
    /// (RawSocket); wss:// or rss:// over TLS (with --tls-ca).
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws")]
    pub(crate) url: String,
    /// The PEM file of the CA the router's certificate chains to, for
    /// wss:// and rss:// URLs.
    #[arg(long)]
    pub(crate) tls_ca: Option<std::path::PathBuf>,
    /// The realm to join.
    #[arg(long, default_value = "realm1")]
    pub(crate) realm: String,
    /// Offer permessage-deflate (WebSocket): what the router compresses is
    /// inflated before it is counted; what the load sends goes uncompressed.
    #[arg(long)]
    pub(crate) deflate: bool,
    /// json, msgpack or cbor.
    #[arg(long, default_value = "json")]
    pub(crate) serializer: String,
    /// Seconds of measurement (for conns: of holding the sessions).
    #[arg(long, default_value_t = 10.0)]
    pub(crate) duration: f64,
    /// CPUs for the load generator, one pinned thread each (default: the last CPU).
    #[arg(long)]
    pub(crate) load_cores: Option<String>,
    /// Start the router under test with this shell command, wait for its
    /// port, measure it, stop it.
    #[arg(long)]
    pub(crate) spawn: Option<String>,
    /// CPUs to pin the spawned router to (taskset -c LIST).
    #[arg(long)]
    pub(crate) router_cores: Option<String>,
    /// The router's process id, for its CPU time and memory (without
    /// --spawn). Repeat it, or give a comma-separated list, for a router
    /// made of several processes (the nodes of a cluster and their NATS
    /// server): the router figures are then their sums, followed by each
    /// one's share.
    #[arg(long, value_delimiter = ',')]
    pub(crate) router_pid: Vec<u32>,
    /// Write every figure to this file as JSON.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// Write charts (SVG) into this directory.
    #[arg(long)]
    pub(crate) plot: Option<PathBuf>,
}

/// The fan-out's options.
#[derive(Debug, Clone, Args)]
pub(crate) struct FanoutArgs {
    /// Subscribers in all (subscriber i takes topic i mod T).
    #[arg(long, default_value_t = 100)]
    pub(crate) subscribers: usize,
    /// Topics.
    #[arg(long, default_value_t = 1)]
    pub(crate) topics: usize,
    /// Publishers (publisher p takes every P-th topic).
    #[arg(long, default_value_t = 1)]
    pub(crate) publishers: usize,
    /// Bytes of each event's one string argument (at least 40: the stamp).
    #[arg(long, default_value_t = 64)]
    pub(crate) payload: usize,
    /// Publications per second over all publishers, or `max`.
    #[arg(long, default_value = "1000")]
    pub(crate) rate: String,
    /// Search for the highest rate delivered without loss and with p99 under --max-p99-ms.
    #[arg(long)]
    pub(crate) find_max: bool,
    /// The p99 latency bound of --find-max, in milliseconds.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) max_p99_ms: f64,
    /// The first rate --find-max tries (publications/s).
    #[arg(long, default_value_t = 100)]
    pub(crate) start_rate: u64,
    /// The most rates --find-max tries.
    #[arg(long, default_value_t = 12)]
    pub(crate) probes: usize,
    /// Spread the subscribers round-robin over these routers (e.g. the
    /// other nodes of a cluster): subscriber i joins URL i mod N; the
    /// publishers (and churn sessions) stay on --url. Default: everyone on
    /// --url.
    #[arg(long, value_delimiter = ',', value_name = "URL[,URL...]")]
    pub(crate) subscriber_urls: Vec<String>,
    /// Make the first N subscribers read slowly (to see how the router handles slow consumers).
    #[arg(long, default_value_t = 0)]
    pub(crate) slow_subscribers: usize,
    /// How long a slow subscriber sleeps after each read, in milliseconds.
    #[arg(long, default_value_t = 50)]
    pub(crate) slow_delay_ms: u64,
}

/// The churn's options.
#[derive(Debug, Clone, Args)]
pub(crate) struct ChurnArgs {
    /// Churn sessions started per second.
    #[arg(long, default_value_t = 50.0)]
    pub(crate) churn_rate: f64,
    /// How long each churn session stays subscribed, in milliseconds.
    #[arg(long, default_value_t = 200)]
    pub(crate) churn_hold_ms: u64,
    /// At most this many churn sessions at once.
    #[arg(long, default_value_t = 1000)]
    pub(crate) churn_max_open: usize,
}

/// The RPC options.
#[derive(Debug, Clone, Args)]
pub(crate) struct RpcArgs {
    /// Callees (more than one share the registration, round-robin).
    #[arg(long, default_value_t = 1)]
    pub(crate) callees: usize,
    /// Callers.
    #[arg(long, default_value_t = 10)]
    pub(crate) callers: usize,
    /// Calls in flight per caller.
    #[arg(long, default_value_t = 10)]
    pub(crate) window: usize,
    /// Bytes of each call's one string argument (echoed back).
    #[arg(long, default_value_t = 64)]
    pub(crate) payload: usize,
    /// Call this procedure, which another client serves (e.g. a bridge's
    /// SQL function that returns its one text argument), instead of the
    /// loadtest's own echo: no callee of the loadtest's is started.
    #[arg(long)]
    pub(crate) procedure: Option<String>,
    /// Spread the callees round-robin over these routers (e.g. another
    /// node of a cluster): callee i joins URL i mod N; the callers stay on
    /// --url. Default: everyone on --url.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "URL[,URL...]",
        conflicts_with = "procedure"
    )]
    pub(crate) callee_urls: Vec<String>,
}

/// The idle-sessions options.
#[derive(Debug, Clone, Args)]
pub(crate) struct ConnsArgs {
    /// Sessions to open.
    #[arg(long, default_value_t = 1000)]
    pub(crate) sessions: usize,
    /// Sessions opened per second.
    #[arg(long, default_value_t = 1000.0)]
    pub(crate) connect_rate: f64,
}

/// The HTTP scenario's options.
#[derive(Debug, Clone, Args)]
pub(crate) struct HttpArgs {
    /// The JSON body of every request.
    #[arg(
        long,
        default_value = r#"{"topic": "com.ringbar.loadtest.http", "args": ["hello"]}"#
    )]
    pub(crate) body: String,
    /// Kept-alive connections in all.
    #[arg(long, default_value_t = 16)]
    pub(crate) connections: usize,
    /// Requests in flight per connection (1: no pipelining).
    #[arg(long, default_value_t = 1)]
    pub(crate) pipeline: usize,
    /// Sign every request with this key (the path's `options.key`; needs --secret).
    #[arg(long, requires = "secret")]
    pub(crate) key: Option<String>,
    /// The path's `options.secret`.
    #[arg(long, requires = "key")]
    pub(crate) secret: Option<String>,
    /// Also serve --callee-procedure (an echo) as a WAMP callee joined at
    /// this URL (ws://… or rs://…, realm --realm, --serializer), so that
    /// the router, not a slow callee, bounds the calls of a `caller` path.
    #[arg(long, requires = "callee_procedure")]
    pub(crate) callee_url: Option<String>,
    /// The procedure the callee of --callee-url registers.
    #[arg(long, requires = "callee_url")]
    pub(crate) callee_procedure: Option<String>,
}

/// Runs a scenario and prints, writes and plots its report.
pub(crate) fn run_and_report(command: Command) -> io::Result<()> {
    let common = common(&command)?.clone();
    let report = run_scenario(&command)?;
    report.print();
    if let Some(path) = &common.json {
        report::write_json(path, &report.to_json())?;
    }
    if let Some(dir) = &common.plot {
        plot::write(dir, "", &report)?;
    }
    Ok(())
}

/// The options every scenario takes, of a scenario command.
pub(crate) fn common(command: &Command) -> io::Result<&Common> {
    match command {
        Command::Fanout { common, .. }
        | Command::Churn { common, .. }
        | Command::Rpc { common, .. }
        | Command::Conns { common, .. }
        | Command::Http { common, .. } => Ok(common),
        Command::Compare(_) | Command::ReferenceServer(_) => Err(io::Error::other(
            "compare takes a scenario, not compare or reference-server",
        )),
    }
}

/// Runs a scenario (starting and stopping the router with --spawn).
pub(crate) fn run_scenario(command: &Command) -> io::Result<Report> {
    let common = common(command)?;
    let load_cores = match &common.load_cores {
        Some(list) => pool::parse_cpu_list(list)
            .map_err(|e| io::Error::other(format!("--load-cores: {e}")))?,
        None => vec![std::thread::available_parallelism().map_or(1, |n| n.get()) - 1],
    };
    if !(common.duration > 0.0 && common.duration < 1e6) {
        return Err(io::Error::other("--duration: give seconds, more than 0"));
    }
    let duration = Duration::from_secs_f64(common.duration);
    let serializer = Serializer::from_name(&common.serializer).ok_or_else(|| {
        io::Error::other(format!(
            "--serializer: '{}' is not json, msgpack or cbor",
            common.serializer
        ))
    })?;
    if let Command::Http { http, .. } = command {
        let url = HttpUrl::parse(&common.url).map_err(io::Error::other)?;
        let signing = http.key.clone().zip(http.secret.clone());
        let callee = match http.callee_url.clone().zip(http.callee_procedure.clone()) {
            Some((callee_url, procedure)) => Some(Callee {
                target: Target::parse(
                    &callee_url,
                    &common.realm,
                    serializer,
                    common.tls_ca.as_deref(),
                )
                .map_err(|e| io::Error::other(format!("--callee-url: {e}")))?,
                procedure,
            }),
            None => None,
        };
        let scenario = Http {
            body: http.body.clone().into_bytes(),
            signing: signing.map(|(key, secret)| Signing { key, secret }),
            connections: http.connections,
            pipeline: http.pipeline,
            callee,
            url,
        };
        return with_router(common, &scenario.url.authority, |router_pids| {
            let run = HttpRun {
                load_cores,
                router_pids,
                duration,
            };
            http::run(&run, &scenario, &Progress::new())
        });
    }
    let mut target = Target::parse(
        &common.url,
        &common.realm,
        serializer,
        common.tls_ca.as_deref(),
    )
    .map_err(io::Error::other)?;
    if common.deflate && target.transport != Transport::WebSocket {
        return Err(io::Error::other(
            "--deflate is for WebSocket URLs (ws://, wss://)",
        ));
    }
    target.deflate = common.deflate;
    let authority = target.authority();
    with_router(common, &authority, |router_pids| {
        let run = Run {
            target,
            load_cores,
            router_pids,
            duration,
        };
        run_wamp_scenario(command, common, &run)
    })
}

/// Runs `scenario` with the router's process ids: the one `--spawn` starts
/// (and stops after it, waiting first for `authority` to accept), or
/// those of `--router-pid`, which must be running.
fn with_router(
    common: &Common,
    authority: &str,
    scenario: impl FnOnce(Vec<u32>) -> io::Result<Report>,
) -> io::Result<Report> {
    if common.spawn.is_some() && !common.router_pid.is_empty() {
        return Err(io::Error::other(
            "--spawn measures the router it starts: leave out --router-pid",
        ));
    }
    if let Some(&gone) = common
        .router_pid
        .iter()
        .find(|&&pid| crate::proc_stat::tree(pid).is_none())
    {
        return Err(io::Error::other(format!(
            "--router-pid {gone}: no such process"
        )));
    }
    let router = match &common.spawn {
        Some(line) => Some(SpawnedRouter::start(
            line,
            common.router_cores.as_deref(),
            authority,
        )?),
        None => None,
    };
    let result = scenario(match &router {
        Some(router) => vec![router.pid()],
        None => common.router_pid.clone(),
    });
    if let Some(router) = router {
        router.stop()?;
    }
    result
}

/// Runs a scenario that speaks WAMP.
fn run_wamp_scenario(command: &Command, common: &Common, run: &Run) -> io::Result<Report> {
    let progress = Progress::new();
    match command {
        Command::Fanout { fanout, .. } => {
            fanout::run(run, &fanout_of(fanout, common, run, None)?, &progress)
        }
        Command::Churn { fanout, churn, .. } => {
            let churn = Churn {
                rate: churn.churn_rate,
                hold: Duration::from_millis(churn.churn_hold_ms),
                max_open: churn.churn_max_open,
            };
            fanout::run(
                run,
                &fanout_of(fanout, common, run, Some(churn))?,
                &progress,
            )
            .map(|mut r| {
                r.title = format!("churn + {}", r.title);
                r
            })
        }
        Command::Rpc { rpc, .. } => rpc::run(
            run,
            &Rpc {
                callees: rpc.callees,
                callers: rpc.callers,
                window: rpc.window,
                payload_bytes: rpc.payload,
                procedure: rpc.procedure.clone(),
                callee_targets: rpc
                    .callee_urls
                    .iter()
                    .map(|url| other_target(url, "--callee-urls", common, run))
                    .collect::<io::Result<_>>()?,
            },
            &progress,
        ),
        Command::Conns { conns, .. } => conns::run(
            run,
            &Conns {
                sessions: conns.sessions,
                connect_rate: conns.connect_rate,
            },
            &progress,
        ),
        Command::Http { .. } | Command::Compare(_) | Command::ReferenceServer(_) => {
            Err(io::Error::other("not a WAMP scenario"))
        }
    }
}

fn fanout_of(
    args: &FanoutArgs,
    common: &Common,
    run: &Run,
    churn: Option<Churn>,
) -> io::Result<Fanout> {
    let rate = if args.rate == "max" {
        MAX_RATE
    } else {
        args.rate.parse().map_err(|_| {
            io::Error::other(format!("--rate: '{}' is not a number or max", args.rate))
        })?
    };
    Ok(Fanout {
        subscribers: args.subscribers,
        topics: args.topics,
        publishers: args.publishers,
        payload_bytes: args.payload,
        rate,
        find_max: args.find_max.then_some(FindMax {
            max_p99_us: (args.max_p99_ms * 1000.0) as u64,
            start_rate: args.start_rate,
            max_probes: args.probes,
        }),
        slow_subscribers: args.slow_subscribers,
        slow_delay: Duration::from_millis(args.slow_delay_ms),
        churn,
        subscriber_targets: args
            .subscriber_urls
            .iter()
            .map(|url| other_target(url, "--subscriber-urls", common, run))
            .collect::<io::Result<_>>()?,
    })
}

/// A router of `option` (`--subscriber-urls`, `--callee-urls`), joined
/// like `--url`'s (realm, serializer, TLS CA, deflate).
fn other_target(url: &str, option: &str, common: &Common, run: &Run) -> io::Result<Target> {
    let mut target = Target::parse(
        url,
        &run.target.realm,
        run.target.serializer,
        common.tls_ca.as_deref(),
    )
    .map_err(|e| io::Error::other(format!("{option}: {e}")))?;
    if run.target.deflate && target.transport != Transport::WebSocket {
        return Err(io::Error::other(format!(
            "{option}: --deflate is for WebSocket URLs (ws://, wss://), not {url}"
        )));
    }
    target.deflate = run.target.deflate;
    Ok(target)
}
