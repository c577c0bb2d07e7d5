//! One component's life: join its realm, register or subscribe, serve,
//! and when the router goes away join again with backoff, until the
//! worker stops. It logs one line when it joins and one when it loses the
//! router (not one per failed attempt).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringbar_client::{Backoff, Dict, Error, Incoming, Session, Value};
use tokio::sync::{mpsc, watch};

use crate::callee::{self, Outcome};
use crate::config::{Component, ComponentKind, MessageForwarder, RestCallee};
use crate::figures::{Figures, bump, drop_one};
use crate::forwarder::Targets;
use crate::http::HttpClient;
use crate::srdp::config::SrdpBridge;
use crate::srdp::link::{self, LinkHandle};

/// The first wait before joining again; it doubles up to
/// [`MAX_REJOIN_DELAY`].
const FIRST_REJOIN_DELAY: Duration = Duration::from_secs(1);
/// The longest wait before joining again.
const MAX_REJOIN_DELAY: Duration = Duration::from_secs(30);
/// A session that lasted this long starts the delays over.
const REJOIN_RESET_AFTER: Duration = Duration::from_secs(30);

/// How long a component that lost the router waits for a stop request
/// before it says so: when the node stops, its router says GOODBYE a moment
/// before the worker is asked to stop, and that is no loss to report.
const LOSS_GRACE: Duration = Duration::from_millis(300);

/// RESTCallee calls whose HTTP requests run at once; further invocations
/// wait in the router (which bounds them) until one finishes.
const MAX_CALLS_IN_FLIGHT: usize = 64;

/// What a component keeps across its sessions.
enum Work {
    Callee {
        callee: Arc<RestCallee>,
        http: HttpClient,
    },
    Forwarder {
        forwarder: Arc<MessageForwarder>,
        targets: Targets,
    },
    Srdp {
        bridge: SrdpBridge,
        link: LinkHandle,
    },
}

/// Runs `component` of worker `worker` until `stop` turns true.
pub(crate) async fn run(
    worker: String,
    component: Component,
    figures: Arc<Figures>,
    mut stop: watch::Receiver<bool>,
) {
    if let ComponentKind::Postgresql(bridge) = &component.kind {
        let bridge = (**bridge).clone();
        return crate::postgresql::run(worker, component, bridge, figures, stop).await;
    }
    let http = |limits| {
        HttpClient::new(limits)
            .map_err(|error| {
                tracing::error!(
                    "Bridge worker {worker}: {}: {error}; it does not run.",
                    component.name
                );
            })
            .ok()
    };
    let mut work = match &component.kind {
        ComponentKind::RestCallee(callee) => Work::Callee {
            callee: Arc::new(callee.clone()),
            http: match http(callee.http) {
                Some(http) => http,
                None => return,
            },
        },
        ComponentKind::MessageForwarder(forwarder) => Work::Forwarder {
            forwarder: Arc::new(forwarder.clone()),
            targets: match http(forwarder.http) {
                Some(http) => Targets::start(forwarder, &http, &figures, &worker),
                None => return,
            },
        },
        ComponentKind::Srdp(bridge) => Work::Srdp {
            bridge: bridge.clone(),
            link: link::start(
                worker.clone(),
                bridge.clone(),
                figures.clone(),
                stop.clone(),
            ),
        },
        ComponentKind::Postgresql(_) => return,
    };
    let mut backoff = Backoff::new(FIRST_REJOIN_DELAY, MAX_REJOIN_DELAY, REJOIN_RESET_AFTER);
    let mut reported = false;
    loop {
        let started = Instant::now();
        let mut joined = false;
        let ended = session(
            &worker,
            &component,
            &mut work,
            &figures,
            &mut stop,
            &mut joined,
        )
        .await;
        if joined {
            drop_one(&figures.joined);
            reported = false;
        }
        let error = match ended {
            Err(error) if !*stop.borrow() => error,
            // Stopped, or the router went away because the node stops.
            _ => return,
        };
        let delay = backoff.after_run(if joined {
            started.elapsed()
        } else {
            Duration::ZERO
        });
        tokio::select! {
            _ = tokio::time::sleep(LOSS_GRACE) => {}
            _ = stopped(&mut stop) => return,
        }
        if !reported {
            reported = true;
            let state = if joined { "lost" } else { "cannot reach" };
            tracing::warn!(
                "Bridge worker {worker}: {} {state} realm {} on {} ({error}); joining again with backoff (first in {:.1} s).",
                component.name,
                component.realm,
                component.router,
                delay.as_secs_f64()
            );
        } else {
            tracing::debug!("Bridge worker {worker}: {}: {error}", component.name);
        }
        tokio::select! {
            _ = tokio::time::sleep(delay.saturating_sub(LOSS_GRACE)) => {}
            _ = stopped(&mut stop) => return,
        }
    }
}

/// One session: join, set up, serve. `Ok` when stopped.
async fn session(
    worker: &str,
    component: &Component,
    work: &mut Work,
    figures: &Arc<Figures>,
    stop: &mut watch::Receiver<bool>,
    joined: &mut bool,
) -> Result<(), Error> {
    let joining = Session::join(&component.router, &component.realm, &component.credentials);
    let mut session = tokio::select! {
        session = joining => session?,
        _ = stopped(stop) => return Ok(()),
    };
    *joined = true;
    bump(&figures.joined);
    bump(&figures.joins);
    tracing::info!(
        "Bridge worker {worker}: {} joined realm {} on {} (session {}, role {}).",
        component.name,
        component.realm,
        component.router,
        session.id(),
        session.authrole()
    );
    match work {
        Work::Callee { callee, http } => {
            session.register(&callee.procedure, Dict::new()).await?;
            serve_calls(&mut session, callee, http, figures, stop).await?;
        }
        Work::Forwarder { forwarder, targets } => {
            let mut routes: HashMap<u64, Vec<usize>> = HashMap::new();
            for (index, forward) in forwarder.subscriptions.iter().enumerate() {
                let mut options = Dict::new();
                if forward.match_policy != "exact" {
                    options.insert("match", Value::from(forward.match_policy.as_str()));
                }
                let subscription = session.subscribe(&forward.topic, options).await?;
                routes.entry(subscription).or_default().push(index);
            }
            loop {
                tokio::select! {
                    incoming = session.next() => {
                        if let Incoming::Event(event) = incoming? {
                            let indexes = routes.get(&event.subscription).map_or(&[][..], Vec::as_slice);
                            targets.forward(&event, indexes, worker);
                        }
                    }
                    _ = stopped(stop) => break,
                }
            }
        }
        Work::Srdp { bridge, link } => {
            crate::srdp::wamp::serve(&mut session, bridge, link, figures, stop).await?;
        }
    }
    session.leave().await
}

/// Serves invocations: each HTTP request runs as a task of its own (at
/// most [`MAX_CALLS_IN_FLIGHT`]), its outcome yielded when it ends.
async fn serve_calls(
    session: &mut Session,
    callee: &Arc<RestCallee>,
    http: &HttpClient,
    figures: &Arc<Figures>,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), Error> {
    let (done, mut outcomes) = mpsc::channel::<(u64, Outcome)>(MAX_CALLS_IN_FLIGHT);
    let mut in_flight = 0;
    loop {
        tokio::select! {
            incoming = session.next(), if in_flight < MAX_CALLS_IN_FLIGHT => {
                let Incoming::Invocation(invocation) = incoming? else { continue };
                in_flight += 1;
                let (callee, http, figures, done) = (callee.clone(), http.clone(), figures.clone(), done.clone());
                tokio::spawn(async move {
                    let outcome = callee::serve(&callee, &http, &invocation, &figures).await;
                    let _ = done.send((invocation.request, outcome)).await;
                });
            }
            Some((request, outcome)) = outcomes.recv() => {
                in_flight -= 1;
                match outcome {
                    Ok(result) => session.yield_result(request, vec![result], Dict::new()).await?,
                    Err((uri, message)) => session.yield_error(request, uri, &message).await?,
                }
            }
            _ = stopped(stop) => return Ok(()),
        }
    }
}

/// Resolves once the worker is asked to stop (or its owner is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard is dropped here, so callers' futures stay `Send`.
    let _ = stop.wait_for(|stop| *stop).await;
}
