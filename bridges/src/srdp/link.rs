//! The adapter's side of a bridge at run time: one task that opens the
//! transport (again, with backoff, when it fails or closes), drives the
//! [`Channel`] with the bytes read and the requests of the WAMP side,
//! runs discovery, and hands CHANGE events up as publications. It logs
//! one line when the adapter is reached and one when it is lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ringbar_client::{Backoff, Value};
use tokio::sync::{mpsc, oneshot, watch};

use super::channel::{Channel, ChannelEvent, Failure, Operation};
use super::config::SrdpBridge;
use super::decoder::StreamDecoder;
use super::discovery::{ADAPTER, Discovery, REGISTER_DEVICES, Step};
use super::eds::value;
use super::frame::{Frame, HEADER_BYTES};
use super::mapping::DeviceTable;
use super::transport::Link;
use crate::component::stopped;
use crate::figures::{Figures, bump, drop_one};

/// A register transfer asked for by the WAMP side.
pub(crate) struct Request {
    /// What to do.
    pub(crate) operation: Operation,
    /// Where the outcome goes.
    pub(crate) reply: oneshot::Sender<Result<Bytes, Failure>>,
}

/// A CHANGE event, decoded, for the WAMP side to publish.
#[derive(Debug)]
pub(crate) struct Publication {
    /// `<prefix>.<device>.<path>.on_change`.
    pub(crate) topic: String,
    /// The register's value.
    pub(crate) value: Value,
}

/// What the WAMP side holds of the link.
pub(crate) struct LinkHandle {
    /// Transfers to make.
    pub(crate) requests: mpsc::Sender<Request>,
    /// The devices of the last discovery.
    pub(crate) table: watch::Receiver<Arc<DeviceTable>>,
    /// CHANGE events to publish.
    pub(crate) publications: mpsc::Receiver<Publication>,
}

/// Transfers that may wait for the adapter (beyond them, calls fail at
/// once: the line is slower than the callers).
pub(crate) const MAX_QUEUED_TRANSFERS: usize = 64;
/// CHANGE events that may wait for the router; more are dropped.
const MAX_QUEUED_PUBLICATIONS: usize = 256;
/// A serial line quiet this long with part of a frame read: the rest
/// will not come.
const STALL: Duration = Duration::from_millis(50);
/// The first wait before opening the transport again; it doubles up to
/// [`MAX_REOPEN_DELAY`].
const FIRST_REOPEN_DELAY: Duration = Duration::from_millis(200);
const MAX_REOPEN_DELAY: Duration = Duration::from_secs(10);
/// A link that lasted this long starts the delays over.
const REOPEN_RESET_AFTER: Duration = Duration::from_secs(10);

/// Who waits for a transfer.
enum Pending {
    Call(oneshot::Sender<Result<Bytes, Failure>>),
    Discovery,
    /// A CHANGE that carried part of its register: the whole is read.
    Change {
        device: u16,
        register: u16,
    },
}

/// Starts the link task of `bridge` on the current runtime.
pub(crate) fn start(
    worker: String,
    bridge: SrdpBridge,
    figures: Arc<Figures>,
    stop: watch::Receiver<bool>,
) -> LinkHandle {
    let (requests, requests_rx) = mpsc::channel(MAX_QUEUED_TRANSFERS);
    let (table_tx, table) = watch::channel(Arc::new(DeviceTable::default()));
    let (publications_tx, publications) = mpsc::channel(MAX_QUEUED_PUBLICATIONS);
    let task = LinkTask {
        worker,
        bridge,
        figures,
        requests: requests_rx,
        table: table_tx,
        publications: publications_tx,
        stop,
    };
    tokio::spawn(task.run());
    LinkHandle {
        requests,
        table,
        publications,
    }
}

struct LinkTask {
    worker: String,
    bridge: SrdpBridge,
    figures: Arc<Figures>,
    requests: mpsc::Receiver<Request>,
    table: watch::Sender<Arc<DeviceTable>>,
    publications: mpsc::Sender<Publication>,
    stop: watch::Receiver<bool>,
}

/// The state of one open link.
struct Session {
    link: Link,
    channel: Channel<Pending>,
    decoder: StreamDecoder,
    discovery: Option<Discovery>,
    /// Frames the decoder threw away, as last reported to the figures.
    reported_bad: u64,
    /// Whether the adapter answered discovery on this link.
    connected: bool,
}

impl LinkTask {
    async fn run(mut self) {
        let mut backoff = Backoff::new(FIRST_REOPEN_DELAY, MAX_REOPEN_DELAY, REOPEN_RESET_AFTER);
        // Whether the last failure to reach the adapter was logged.
        let mut reported = false;
        let transport = self.bridge.transport.clone();
        loop {
            let started = Instant::now();
            let mut connected = false;
            let error = match Link::open(&transport).await {
                Ok(link) => {
                    let ended = self.serve(link, &mut connected).await;
                    self.table.send_replace(Arc::new(DeviceTable::default()));
                    match ended {
                        Ok(()) => return,
                        Err(error) => error,
                    }
                }
                Err(error) => error.to_string(),
            };
            if connected {
                drop_one(&self.figures.srdp_links);
                reported = true;
                tracing::warn!(
                    "SRDP bridge {}: adapter on {transport} lost ({error}); opening it again with backoff.",
                    self.worker
                );
            } else if !reported {
                reported = true;
                tracing::warn!(
                    "SRDP bridge {}: cannot reach the adapter on {transport} ({error}); trying again with backoff.",
                    self.worker
                );
            } else {
                tracing::debug!("SRDP bridge {}: {transport}: {error}", self.worker);
            }
            let delay = backoff.after_run(started.elapsed());
            let until = tokio::time::Instant::now() + delay;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(until) => break,
                    request = self.requests.recv() => match request {
                        Some(request) => { let _ = request.reply.send(Err(Failure::LinkDown)); }
                        None => return,
                    },
                    _ = stopped(&mut self.stop) => return,
                }
            }
        }
    }

    /// Serves one open link until it fails (`Err`) or the worker stops;
    /// `connected` turns true once the adapter answered discovery.
    async fn serve(&mut self, link: Link, connected: &mut bool) -> Result<(), String> {
        let max = self.bridge.max_frame_data;
        let mut session = Session {
            link,
            channel: Channel::new(max, self.bridge.timeout, MAX_QUEUED_TRANSFERS),
            decoder: StreamDecoder::new(max),
            discovery: Some(Discovery::new()),
            reported_bad: 0,
            connected: false,
        };
        let ended = self.drive(&mut session).await;
        *connected = session.connected;
        ended
    }

    /// Runs discovery, then moves frames, requests and timeouts.
    async fn drive(&mut self, session: &mut Session) -> Result<(), String> {
        let max = self.bridge.max_frame_data;
        let mut buffer = vec![0u8; HEADER_BYTES + max];
        self.discover(session)?;
        loop {
            self.flush(session).await?;
            let deadline = session.channel.poll_timeout();
            let stalled = session.link.is_stream() && session.decoder.is_partial();
            tokio::select! {
                received = session.link.receive(&mut buffer) => {
                    let n = received.map_err(|e| e.to_string())?;
                    let now = Instant::now();
                    if session.link.is_stream() {
                        session.decoder.push(&buffer[..n]);
                        while let Some(frame) = session.decoder.next_frame() {
                            session.channel.handle_frame(frame, now);
                        }
                    } else {
                        match Frame::decode(&buffer[..n], max) {
                            Ok(frame) => session.channel.handle_frame(frame, now),
                            Err(error) => {
                                bump(&self.figures.srdp_bad_frames);
                                tracing::trace!("SRDP bridge {}: a datagram is no frame ({error})", self.worker);
                            }
                        }
                    }
                }
                _ = tokio::time::sleep(STALL), if stalled => {
                    let now = Instant::now();
                    for frame in session.decoder.flush_stalled() {
                        session.channel.handle_frame(frame, now);
                    }
                }
                _ = sleep_until(deadline) => session.channel.handle_timeout(Instant::now()),
                request = self.requests.recv() => {
                    let Some(request) = request else { return Ok(()) };
                    if let Err(Pending::Call(reply)) = session.channel.request(Pending::Call(request.reply), request.operation, Instant::now()) {
                        let _ = reply.send(Err(Failure::BadReply("too many transfers wait for the adapter".into())));
                    }
                }
                _ = stopped(&mut self.stop) => {
                    session.channel.fail_all();
                    self.events(session)?;
                    return Ok(());
                }
            }
            let counts = session.decoder.counts();
            let bad = counts.bad_crc + counts.skipped_bytes;
            if bad != session.reported_bad {
                self.figures.srdp_bad_frames.fetch_add(
                    bad - session.reported_bad,
                    std::sync::atomic::Ordering::Relaxed,
                );
                session.reported_bad = bad;
            }
            self.events(session)?;
        }
    }

    /// Sends the frames the channel has for the adapter.
    async fn flush(&self, session: &mut Session) -> Result<(), String> {
        let mut out = BytesMut::new();
        while let Some(frame) = session.channel.poll_transmit() {
            out.clear();
            frame.encode(&mut out);
            session.link.send(&out).await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Hands each event of the channel to whom it is for.
    fn events(&mut self, session: &mut Session) -> Result<(), String> {
        while let Some(event) = session.channel.poll_event() {
            match event {
                ChannelEvent::Done(Pending::Call(reply), outcome) => {
                    let _ = reply.send(outcome);
                }
                ChannelEvent::Done(Pending::Discovery, outcome) => {
                    if let Some(discovery) = &mut session.discovery {
                        discovery.answer(outcome);
                    }
                    self.discover(session)?;
                }
                ChannelEvent::Done(Pending::Change { device, register }, outcome) => {
                    match outcome {
                        Ok(bytes) => self.publish(device, register, &bytes),
                        Err(failure) => tracing::trace!(
                            "SRDP bridge {}: device {device} register {register} changed, but reading it failed ({failure})",
                            self.worker
                        ),
                    }
                }
                ChannelEvent::Change {
                    device,
                    register,
                    position,
                    data,
                } => {
                    if device == ADAPTER && register == REGISTER_DEVICES {
                        if session.discovery.is_none() {
                            session.discovery = Some(Discovery::new());
                            self.discover(session)?;
                        }
                        continue;
                    }
                    self.changed(session, device, register, position, data);
                }
            }
        }
        Ok(())
    }

    /// A CHANGE: published when it carries the whole register, else the
    /// register is read first.
    fn changed(
        &self,
        session: &mut Session,
        device: u16,
        register: u16,
        position: u16,
        data: Bytes,
    ) {
        let table = self.table.borrow().clone();
        let Some((_, known)) = table.change_topic(device, register) else {
            tracing::trace!(
                "SRDP bridge {}: device {device} register {register} changed, which no EDS of a discovered device has",
                self.worker
            );
            return;
        };
        let whole = position == 0 && known.ty.extent().total(&data) == Some(data.len());
        if whole {
            self.publish(device, register, &data);
            return;
        }
        let operation = Operation::Read {
            device,
            register,
            extent: known.ty.extent(),
        };
        let _ = session.channel.request(
            Pending::Change { device, register },
            operation,
            Instant::now(),
        );
    }

    fn publish(&self, device: u16, register: u16, bytes: &[u8]) {
        let table = self.table.borrow().clone();
        let Some((topic, known)) = table.change_topic(device, register) else {
            return;
        };
        match value::decode(&known.ty, bytes) {
            Ok(value) => {
                bump(&self.figures.srdp_changes);
                if self
                    .publications
                    .try_send(Publication { topic, value })
                    .is_err()
                {
                    bump(&self.figures.srdp_changes_dropped);
                }
            }
            Err(error) => tracing::trace!(
                "SRDP bridge {}: the CHANGE of device {device} register {register} does not decode ({error})",
                self.worker
            ),
        }
    }

    /// Runs discovery's next step: a read, or the new device table.
    fn discover(&mut self, session: &mut Session) -> Result<(), String> {
        let Some(discovery) = &mut session.discovery else {
            return Ok(());
        };
        match discovery.step() {
            Step::Read {
                device,
                register,
                extent,
            } => {
                let operation = Operation::Read {
                    device,
                    register,
                    extent,
                };
                // The first transfer of a link, or one after discovery's
                // own: the queue has room.
                let _ = session
                    .channel
                    .request(Pending::Discovery, operation, Instant::now());
                Ok(())
            }
            Step::Failed(reason) => {
                session.discovery = None;
                Err(reason)
            }
            Step::Done { found, missed } => {
                session.discovery = None;
                let (table, warnings) = DeviceTable::new(
                    &self.bridge.prefix,
                    &self.bridge.devices,
                    found,
                    &self.bridge.eds,
                );
                for warning in warnings {
                    tracing::warn!(
                        "SRDP bridge {}: {warning} (EDS folder {})",
                        self.worker,
                        self.bridge.eds_folder.display()
                    );
                }
                for missed in missed {
                    tracing::warn!(
                        "SRDP bridge {}: device {} does not say what it is ({}); it is not mapped.",
                        self.worker,
                        missed.device,
                        missed.reason
                    );
                }
                let names: Vec<String> = table
                    .devices()
                    .iter()
                    .map(|d| format!("{} = {} ({})", d.index, d.name, d.eds_uri))
                    .collect();
                let devices = format!(
                    "{} device{}: {}",
                    names.len(),
                    if names.len() == 1 { "" } else { "s" },
                    names.join(", ")
                );
                if session.connected {
                    tracing::info!("SRDP bridge {}: discovered {devices}.", self.worker);
                } else {
                    session.connected = true;
                    bump(&self.figures.srdp_links);
                    tracing::info!(
                        "SRDP bridge {}: adapter on {} connected; {devices}.",
                        self.worker,
                        self.bridge.transport
                    );
                }
                self.table.send_replace(Arc::new(table));
                Ok(())
            }
        }
    }
}

/// Resolves at `deadline`, never without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}
