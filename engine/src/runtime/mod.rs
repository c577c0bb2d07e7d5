//! Core threads and their I/O runtime: one pinned thread per configured core,
//! each running its own single-threaded runtime — `tokio-uring` (io_uring)
//! or tokio on epoll — with its own listener per transport.

pub(crate) mod bind;
pub(crate) mod io;
pub(crate) mod limit;
mod log_every;
pub(crate) mod tls;
pub(crate) mod waits;
pub(crate) mod write_ring;

use std::rc::Rc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;

use crate::StartError;
use crate::config::{Endpoint, IoBackend, RouterConfig, TransportConfig};
use io::{BoundSocket, Listener};
use limit::{Caps, ConnectionLimit};
use log_every::LogEvery;
use ringbar_router::core::inputs;
use ringbar_router::core::realms::Realms;
use ringbar_router::core::{Core, Shared};

/// A core logs a failing accept (EMFILE, ENFILE) at most this often.
const ACCEPT_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// Entries of each core's io_uring submission queue: room for one tick's
/// reads and writes without waiting for the kernel. A speed choice, not a
/// bound on peers (`limits.max_connections` bounds the connections).
const URING_ENTRIES: u32 = 4096;

/// Starts the core threads of `config`; they run until `shutdown` turns true.
pub(crate) fn start(
    config: RouterConfig,
    shutdown: watch::Receiver<bool>,
) -> Result<(Vec<JoinHandle<()>>, Arc<Shared>), StartError> {
    let uring = resolve_backend(config.io)?;
    // The cluster link takes the mesh's last place.
    let most = if config.cluster.is_some() { 63 } else { 64 };
    let cores = config.cores.clamp(1, most);
    // Bind everything before starting threads, so that a port in use is an
    // error of `start`, not a log line from a thread.
    let mut sockets: Vec<Vec<Listening>> = (0..cores).map(|_| Vec::new()).collect();
    let node_limit = ConnectionLimit::new("the node", config.limits.max_connections);
    for transport in &config.transports {
        let tls = match &transport.endpoint {
            Endpoint::Tcp { tls: Some(tls), .. } => {
                Some(tls::server_config(tls).map_err(|source| StartError::Tls {
                    transport: transport.id.clone(),
                    source,
                })?)
            }
            _ => None,
        };
        let limit = Caps::new(
            ConnectionLimit::new(
                &format!("transport {}", transport.id),
                transport.max_connections,
            ),
            node_limit.clone(),
        );
        for (core, list) in sockets.iter_mut().enumerate() {
            let bound =
                bind::bind(&transport.endpoint, core).map_err(|source| StartError::Bind {
                    transport: transport.id.clone(),
                    endpoint: bind::describe(&transport.endpoint),
                    source,
                })?;
            if let Some(socket) = bound {
                list.push(Listening {
                    socket,
                    transport: transport.clone(),
                    tls: tls.clone(),
                    limit: limit.clone(),
                });
            }
        }
        tracing::info!(
            transport = %transport.id,
            kind = transport.kind.type_name(),
            tls = tls.is_some(),
            endpoint = %bind::describe(&transport.endpoint),
            cores,
            "transport listening"
        );
    }
    let realms = Realms::new(
        &config.realms,
        ringbar_router::core::seed::Seeds::Os,
        std::time::SystemTime::now(),
    );
    let io = if uring { "io_uring" } else { "epoll" };
    let mut shared = Shared::new(
        realms,
        cores,
        config.flow,
        config.limits,
        io,
        crate::drivers::drivers(cores),
    );
    if let Some(cluster) = &config.cluster {
        shared = shared.with_cluster(cluster.realms.iter().cloned());
    }
    let shared = Arc::new(shared);
    let pins = core_affinity::get_core_ids().unwrap_or_default();
    let timeout = Duration::from_millis(config.shutdown_timeout_ms);
    tracing::info!(cores, io, "router started");
    let mut threads = Vec::with_capacity(cores);
    let all = shared.clone();
    for (core, sockets) in sockets.into_iter().enumerate() {
        let shared = shared.clone();
        let shutdown = shutdown.clone();
        let pin = pins.get(core % pins.len().max(1)).copied();
        let thread = std::thread::Builder::new()
            .name(format!("ringbar-core-{core}"))
            .spawn(move || {
                if let Some(pin) = pin
                    && !core_affinity::set_for_current(pin)
                {
                    tracing::debug!(core, "could not pin core thread");
                }
                run_core(core, shared, sockets, shutdown, uring, timeout);
            })
            .map_err(|source| StartError::Thread { core, source })?;
        threads.push(thread);
    }
    if let Some(cluster) = config.cluster {
        let thread = crate::cluster::start(cluster, all.clone(), shutdown)
            .map_err(StartError::ClusterThread)?;
        threads.push(thread);
    }
    Ok((threads, all))
}

/// A bound socket of one core, with the transport it serves.
struct Listening {
    socket: BoundSocket,
    transport: TransportConfig,
    /// The endpoint's TLS, when it has one.
    tls: Option<Arc<rustls::ServerConfig>>,
    /// The transport's and the node's connection caps, shared by every
    /// core's listener.
    limit: Caps,
}

/// Decides between io_uring and epoll.
fn resolve_backend(io: IoBackend) -> Result<bool, StartError> {
    match io {
        IoBackend::Epoll => Ok(false),
        IoBackend::Uring => probe_uring()
            .map(|()| true)
            .map_err(StartError::UringUnavailable),
        IoBackend::Auto => match probe_uring() {
            Ok(()) => Ok(true),
            Err(e) => {
                tracing::info!(error = %e, "io_uring is not available here; using epoll");
                Ok(false)
            }
        },
    }
}

/// Whether this process may create an io_uring instance.
fn probe_uring() -> std::io::Result<()> {
    uring_runtime(8).map(drop)
}

/// A core's io_uring runtime with `entries` submission queue entries.
/// Completions wait for the core's next system call instead of
/// interrupting it with an inter-processor interrupt each
/// (`IORING_SETUP_COOP_TASKRUN`): the core enters the kernel every tick
/// anyway, and the interrupts cost a fifth of its CPU under RPC load
/// (docs/BENCHMARKS.md). Kernels before 5.19 refuse the flag and get the
/// ring without it.
fn uring_runtime(entries: u32) -> std::io::Result<tokio_uring::Runtime> {
    let cooperative = tokio_uring::uring_builder().setup_coop_taskrun().clone();
    tokio_uring::Runtime::new(
        tokio_uring::builder()
            .entries(entries)
            .uring_builder(&cooperative),
    )
    .or_else(|_| tokio_uring::Runtime::new(tokio_uring::builder().entries(entries)))
}

/// One core thread: builds its runtime and runs the core until shutdown.
fn run_core(
    id: usize,
    shared: Arc<Shared>,
    sockets: Vec<Listening>,
    shutdown: watch::Receiver<bool>,
    uring: bool,
    timeout: Duration,
) {
    let main = async move {
        let core = Rc::new(Core::new(id, shared));
        if uring {
            crate::transport::writers::start(core.clone());
        }
        for Listening {
            socket,
            transport,
            tls,
            limit,
        } in sockets
        {
            match Listener::from_std(socket, uring) {
                Ok(listener) => {
                    tokio::task::spawn_local(accept_loop(
                        core.clone(),
                        Accepting {
                            listener,
                            transport: Rc::new(transport),
                            tls,
                            limit,
                        },
                        shutdown.clone(),
                        uring,
                    ));
                }
                Err(e) => {
                    tracing::error!(core = id, transport = %transport.id, error = %e, "cannot use listener")
                }
            }
        }
        tokio::task::spawn_local(mail_loop(core.clone()));
        tokio::task::spawn_local(timer_loop(core.clone()));
        let flusher = core.clone();
        tokio::task::spawn_local(async move { waits::flush_backlog_forever(&flusher).await });
        let mut stop = shutdown.clone();
        let _ = stop.wait_for(|s| *s).await;
        ringbar_router::core::session::goodbye_all(&core);
        if tokio::time::timeout(timeout, waits::all_connections_closed(&core))
            .await
            .is_err()
        {
            tracing::info!(core = id, "shutdown timeout: remaining connections cut");
        }
        crate::transport::writers::stop();
    };
    if uring {
        match uring_runtime(URING_ENTRIES) {
            Ok(rt) => rt.block_on(main),
            Err(e) => tracing::error!(core = id, error = %e, "cannot start io_uring runtime"),
        }
    } else {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => tokio::task::LocalSet::new().block_on(&rt, main),
            Err(e) => tracing::error!(core = id, error = %e, "cannot start runtime"),
        }
    }
}

/// One core's listener of one transport, and what its connections need.
struct Accepting {
    listener: Listener,
    transport: Rc<TransportConfig>,
    tls: Option<Arc<rustls::ServerConfig>>,
    limit: Caps,
}

/// Accepts connections until shutdown; one over the transport's
/// `max_connections` or the node's `limits.max_connections` is closed at
/// once.
async fn accept_loop(
    core: Rc<Core>,
    accepting: Accepting,
    mut shutdown: watch::Receiver<bool>,
    uring: bool,
) {
    let Accepting {
        listener,
        transport,
        tls,
        limit,
    } = accepting;
    // What each connection watches; `shutdown` is the loop's own.
    let stopping = shutdown.clone();
    // Out of file descriptors, accept fails a hundred times a second.
    let mut accept_errors = LogEvery::new(ACCEPT_ERROR_LOG_INTERVAL);
    loop {
        tokio::select! {
            accepted = listener.accept(uring) => match accepted {
                Ok((stream, peer)) => match limit.admit() {
                    Some(admission) => {
                        tokio::task::spawn_local(crate::transport::serve(core.clone(), transport.clone(), tls.clone(), stream, peer, stopping.clone(), admission));
                    }
                    None => {
                        core.figures.connections_refused.add(1);
                        stream.shutdown();
                    }
                },
                Err(e) => {
                    if let Some(unlogged) = accept_errors.event(std::time::Instant::now()) {
                        tracing::warn!(core = core.id, transport = %transport.id, error = %e, unlogged, "accept failed");
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// Handles mail from other cores, a batch per wake-up.
async fn mail_loop(core: Rc<Core>) {
    loop {
        std::future::poll_fn(|cx| core.shared.mailboxes.poll_mail(core.id, cx)).await;
        inputs::handle_all_mail(&core);
    }
}

/// Serves the core's timers: sleeps until the earliest deadline, then
/// hands every expired timer to its owner.
async fn timer_loop(core: Rc<Core>) {
    loop {
        waits::next_timer(&core).await;
        inputs::expire_timers(&core);
    }
}
