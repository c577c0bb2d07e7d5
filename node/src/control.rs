//! The node's local control socket, `DIR/node.sock`: how `ringbar status`
//! reads a running node's figures and `ringbar stop` asks it to stop.
//!
//! One request per connection: the client writes a command line (`status`
//! or `stop`) and reads one JSON line back. The socket is a Unix socket in
//! the node directory, readable and writable by its owner only, and the node
//! answers only processes of its own user (or root), by the peer's
//! credentials (`SO_PEERCRED`): whoever may stop the node must be able to
//! signal it anyway.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ringbar_engine::config::RouterConfig;
use ringbar_engine::{ShutdownHandle, Stats};
use serde_json::{Value, json};

use crate::workers::{BridgesView, GuestsView};

/// The socket's file name in the node directory.
pub(crate) const SOCKET_FILE: &str = "node.sock";

/// The longest command line a client may send.
const MAX_REQUEST: u64 = 64;

/// How long a client may take to send its command.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// How often the message rates are sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// What the node tells about itself that does not change while it runs.
struct Fixed {
    pid: u32,
    started: SystemTime,
    cores: usize,
    transports: Vec<Value>,
    /// This node's name in its cluster (`ringbar.cluster.node`), if it is
    /// in one.
    cluster_node: Option<String>,
    /// The guest workers' states, which do change: a live view.
    guests: GuestsView,
    /// The bridge workers' figures: a live view.
    bridges: BridgesView,
}

/// Message counts at one moment, for rates.
#[derive(Clone, Copy)]
struct Sample {
    at: Instant,
    messages_in: u64,
    events_out: u64,
}

/// The running control socket; dropping it removes the socket file.
pub(crate) struct ControlSocket {
    path: PathBuf,
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Opens `DIR/node.sock` and answers on it from a thread of its own until
/// the process ends. A node that cannot open it still runs (it logs why);
/// only `status` and `stop` are then unavailable.
pub(crate) fn serve(
    dir: &Path,
    config: &RouterConfig,
    stats: Stats,
    shutdown: ShutdownHandle,
    guests: GuestsView,
    bridges: BridgesView,
) -> Option<ControlSocket> {
    let path = dir.join(SOCKET_FILE);
    // The pid file already proved no other node runs here: a socket file
    // left behind is stale.
    let _ = std::fs::remove_file(&path);
    let listener = match UnixListener::bind(&path).and_then(|listener| {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        Ok(listener)
    }) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::warn!(
                "cannot open the control socket {} ({error}); `ringbar status` and `ringbar stop` will not reach this node.",
                path.display()
            );
            return None;
        }
    };
    let fixed = Arc::new(Fixed {
        pid: std::process::id(),
        started: SystemTime::now(),
        cores: config.cores,
        transports: config.transports.iter().map(describe_transport).collect(),
        cluster_node: config.cluster.as_ref().map(|cluster| cluster.node.clone()),
        guests,
        bridges,
    });
    let samples = Arc::new(Mutex::new(sample_pair(&stats)));
    spawn_sampler(stats.clone(), samples.clone());
    let spawned = std::thread::Builder::new()
        .name("control".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Err(error) = answer(stream, &fixed, &stats, &samples, &shutdown) {
                    tracing::debug!("control socket client: {error}");
                }
            }
        });
    if let Err(error) = spawned {
        tracing::warn!("cannot start the control socket thread ({error}).");
        return None;
    }
    Some(ControlSocket { path })
}

fn sample(stats: &Stats) -> Sample {
    Sample {
        at: Instant::now(),
        messages_in: stats.messages_in_per_core().iter().sum(),
        events_out: stats.events_out_per_core().iter().sum(),
    }
}

fn sample_pair(stats: &Stats) -> (Sample, Sample) {
    let now = sample(stats);
    (now, now)
}

/// Keeps the last two samples, a second apart, so rates cost a reader
/// nothing and need no waiting.
fn spawn_sampler(stats: Stats, samples: Arc<Mutex<(Sample, Sample)>>) {
    let spawned = std::thread::Builder::new()
        .name("control-sampler".into())
        .spawn(move || {
            loop {
                std::thread::sleep(SAMPLE_EVERY);
                let now = sample(&stats);
                let mut pair = samples.lock().unwrap_or_else(|e| e.into_inner());
                *pair = (pair.1, now);
            }
        });
    if let Err(error) = spawned {
        tracing::warn!("cannot start the control sampler thread ({error}); rates will read 0.");
    }
}

/// The user id of the process at the other end of `stream`.
fn peer_uid(stream: &UnixStream) -> io::Result<libc::uid_t> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are live locals of the sizes getsockopt(2) is
    // told; the fd is the open stream's.
    let done = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if done == 0 {
        Ok(cred.uid)
    } else {
        Err(io::Error::last_os_error())
    }
}

fn answer(
    stream: UnixStream,
    fixed: &Fixed,
    stats: &Stats,
    samples: &Mutex<(Sample, Sample)>,
    shutdown: &ShutdownHandle,
) -> io::Result<()> {
    let uid = peer_uid(&stream)?;
    // SAFETY: geteuid(2) takes nothing and cannot fail.
    let own = unsafe { libc::geteuid() };
    if uid != own && uid != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("refused a client of uid {uid}: the node answers uid {own} and root only"),
        ));
    }
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut line = String::new();
    BufReader::new((&stream).take(MAX_REQUEST)).read_line(&mut line)?;
    let reply = match line.trim() {
        "status" => {
            let pair = *samples.lock().unwrap_or_else(|e| e.into_inner());
            status(fixed, stats, pair)
        }
        "stop" => {
            tracing::info!("Stop requested on the control socket: stopping the node.");
            shutdown.shutdown();
            json!({ "stopping": true, "pid": fixed.pid })
        }
        other => json!({ "error": format!("unknown command '{other}' (status or stop)") }),
    };
    let mut out = serde_json::to_vec(&reply).map_err(io::Error::other)?;
    out.push(b'\n');
    (&stream).write_all(&out)
}

/// The status document `ringbar status` prints.
fn status(fixed: &Fixed, stats: &Stats, (earlier, later): (Sample, Sample)) -> Value {
    let seconds = later.at.duration_since(earlier.at).as_secs_f64();
    let rate = |a: u64, b: u64| {
        if seconds > 0.0 {
            (b.saturating_sub(a) as f64 / seconds).round()
        } else {
            0.0
        }
    };
    let sessions = stats.sessions_per_core();
    let started = fixed
        .started
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let uptime = fixed.started.elapsed().map(|d| d.as_secs()).unwrap_or(0);
    json!({
        "running": true,
        "pid": fixed.pid,
        "version": env!("CARGO_PKG_VERSION"),
        "started": started,
        "uptime_s": uptime,
        "cores": fixed.cores,
        "io": stats.io_backend(),
        "transports": fixed.transports,
        "sessions": sessions.iter().sum::<usize>(),
        "sessions_per_core": sessions,
        "messages_in": stats.messages_in_per_core().iter().sum::<u64>(),
        "events_out": stats.events_out_per_core().iter().sum::<u64>(),
        "messages_in_per_core": stats.messages_in_per_core(),
        "events_out_per_core": stats.events_out_per_core(),
        "messages_in_per_s": rate(earlier.messages_in, later.messages_in),
        "events_out_per_s": rate(earlier.events_out, later.events_out),
        "guests": fixed.guests.to_json(),
        "bridges": fixed.bridges.to_json(),
        "cluster": describe_cluster(fixed, stats),
    })
}

/// The cluster link's figures, or null when the node is in no cluster.
fn describe_cluster(fixed: &Fixed, stats: &Stats) -> Value {
    let (Some(node), Some(link)) = (&fixed.cluster_node, stats.cluster()) else {
        return Value::Null;
    };
    json!({
        "node": node,
        "connected": link.connected,
        "peers": link.peers,
        "messages_in": link.messages_in,
        "bytes_in": link.bytes_in,
        "messages_out": link.messages_out,
        "bytes_out": link.bytes_out,
        "not_sent": link.not_sent,
        "unreadable": link.unreadable,
    })
}

fn describe_transport(transport: &ringbar_engine::config::TransportConfig) -> Value {
    let kind = transport.kind.type_name();
    json!({
        "id": transport.id,
        "type": kind,
        "endpoint": transport.endpoint.to_string(),
    })
}

/// Sends `command` to the node of `dir` and returns its JSON reply.
pub(crate) fn request(dir: &Path, command: &str) -> io::Result<Value> {
    let mut stream = UnixStream::connect(dir.join(SOCKET_FILE))?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    stream.write_all(format!("{command}\n").as_bytes())?;
    let mut line = String::new();
    BufReader::new(stream.take(1 << 20)).read_line(&mut line)?;
    serde_json::from_str(&line).map_err(io::Error::other)
}
