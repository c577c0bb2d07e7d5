//! The PostgreSQL bridge (`"type": "postgresql-bridge"`): a database that
//! takes part in WAMP. Transactions publish events through an outbox
//! ([`outbox`]); SQL functions answer calls ([`procedures`]); events land
//! in SQL functions ([`subscriptions`]); SQL queues calls of WAMP
//! procedures ([`calls`]).
//!
//! ```text
//!  database up? ─► migrate ─► join the realm ─► register / subscribe ─► serve
//!      ▲  (backoff, one log line each way)                               │
//!      └──────────── the database or the router went away ◄──────────────┘
//! ```
//!
//! The main session publishes, serves procedures and subscribes; with
//! `caller`, a second session performs the calls SQL queued (a call may
//! wait on a procedure the main session serves). Each session is owned by
//! one task; SQL of calls and subscriptions runs on pooled connections in
//! tasks of their own, so a slow statement never holds up a session.

mod calls;
mod catalog;
pub mod config;
mod database;
mod json;
mod lanes;
mod outbox;
mod procedures;
mod schema;
mod statement;
mod subscriptions;
mod tls;

use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use ringbar_client::{Backoff, Incoming, JoinOptions, Session};
use tokio::sync::watch;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::Component;
use crate::figures::{Figures, bump, drop_one};
use calls::Caller;
use config::PostgresqlBridge;
use outbox::{Failure, Publisher};
use procedures::Procedures;
use subscriptions::Subscriptions;

pub use schema::schema_sql;

/// The first wait before trying again; it doubles up to [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest wait before trying again.
const MAX_DELAY: Duration = Duration::from_secs(30);
/// A connection that lasted this long starts the delays over.
const RESET_AFTER: Duration = Duration::from_secs(30);

/// Which side a failure came from, for the one log line each way.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Database,
    Router,
}

/// What one session of the bridge does.
enum Role {
    /// Publish, serve procedures, take events.
    Main(Option<Subscriptions>),
    /// Perform the calls SQL queued.
    Caller,
}

/// What every session of one bridge shares.
struct Shared<'a> {
    worker: &'a str,
    component: &'a Component,
    bridge: &'a PostgresqlBridge,
    pool: &'a Pool,
    tls: &'a MakeRustlsConnect,
    figures: &'a Arc<Figures>,
}

/// Runs the bridge `bridge` of component `component` of worker `worker`
/// until `stop` turns true.
pub(crate) async fn run(
    worker: String,
    component: Component,
    bridge: PostgresqlBridge,
    figures: Arc<Figures>,
    stop: watch::Receiver<bool>,
) {
    let (pool, tls) = match tls::connector(&bridge.database)
        .and_then(|tls| Ok((database::pool(&bridge.database, &tls)?, tls)))
    {
        Ok(connections) => connections,
        Err(error) => {
            tracing::error!(
                "Bridge worker {worker}: cannot set up connections to {} ({error}); it does not run.",
                bridge.database
            );
            return;
        }
    };
    let shared = Shared {
        worker: &worker,
        component: &component,
        bridge: &bridge,
        pool: &pool,
        tls: &tls,
        figures: &figures,
    };
    let subscriptions = (!bridge.subscriptions.is_empty()).then(|| {
        Subscriptions::start(
            &bridge.subscriptions,
            bridge.max_queued_events,
            &pool,
            &figures,
            &worker,
        )
    });
    let main = supervise(&shared, Role::Main(subscriptions), stop.clone());
    let caller = async {
        if bridge.caller {
            supervise(&shared, Role::Caller, stop.clone()).await;
        }
    };
    tokio::join!(main, caller);
}

/// Runs `role` again and again, with backoff, until stopped.
async fn supervise(shared: &Shared<'_>, mut role: Role, mut stop: watch::Receiver<bool>) {
    let mut backoff = Backoff::new(FIRST_DELAY, MAX_DELAY, RESET_AFTER);
    let mut down: Option<Side> = None;
    let name = match role {
        Role::Main(_) => shared.component.name.clone(),
        Role::Caller => format!("{} (caller)", shared.component.name),
    };
    loop {
        let started = Instant::now();
        let (side, error) = match connected(shared, &mut role, &name, &mut down, &mut stop).await {
            Ok(()) => return,
            Err(failure) => failure,
        };
        let delay = backoff.after_run(started.elapsed());
        if down != Some(side) {
            down = Some(side);
            let what = match side {
                Side::Database => format!("{}", shared.bridge.database),
                Side::Router => format!(
                    "realm {} on {}",
                    shared.component.realm, shared.component.router
                ),
            };
            tracing::warn!(
                "Bridge worker {}: {name} cannot work with {what} ({error}); trying again with backoff (first in {:.1} s).",
                shared.worker,
                delay.as_secs_f64()
            );
        } else {
            tracing::debug!("Bridge worker {}: {name}: {error}", shared.worker);
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stopped(&mut stop) => return,
        }
    }
}

/// The work of one role on its own connection.
enum Work {
    Main { publisher: Option<Publisher> },
    Caller(Caller),
}

/// One run: the database, then the router, then serving until either
/// fails; `Ok` once stopped. `down` is the side that was down, cleared
/// (and logged) as it comes back.
async fn connected(
    shared: &Shared<'_>,
    role: &mut Role,
    name: &str,
    down: &mut Option<Side>,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), (Side, String)> {
    let (worker, bridge) = (shared.worker, shared.bridge);
    let database = |e: tokio_postgres::Error| (Side::Database, database::describe(&e));
    let setup = async {
        // Each role migrates (under the lock, so once): neither may use
        // the schema before it is there.
        let (mut client, _) = database::connect(&bridge.database, shared.tls).await?;
        let applied = schema::migrate(&mut client).await?;
        drop(client);
        if !applied.is_empty() {
            tracing::info!(
                "Bridge worker {worker}: installed the ringbar schema in {} (versions {applied:?}).",
                bridge.database
            );
        }
        let work = match role {
            Role::Main(_) => {
                let publisher = match bridge.publisher {
                    true => Some(Publisher::connect(&bridge.database, shared.tls).await?),
                    false => None,
                };
                Work::Main { publisher }
            }
            Role::Caller => Work::Caller(Caller::connect(&bridge.database, shared.tls).await?),
        };
        Ok(work)
    };
    let Some(setup) = or_stop(setup, stop).await else {
        return Ok(());
    };
    let mut work = setup.map_err(database)?;
    if *down == Some(Side::Database) {
        *down = None;
        tracing::info!(
            "Bridge worker {worker}: {name}: {} is reachable again.",
            bridge.database
        );
    }
    let component = shared.component;
    let router = |e: ringbar_client::Error| (Side::Router, e.to_string());
    let options = JoinOptions {
        call_canceling: true,
        ..JoinOptions::default()
    };
    let joining = Session::join_with(
        &component.router,
        &component.realm,
        &component.credentials,
        &options,
    );
    let Some(joined) = or_stop(joining, stop).await else {
        return Ok(());
    };
    let mut session = joined.map_err(router)?;
    *down = None;
    bump(&shared.figures.joined);
    bump(&shared.figures.joins);
    tracing::info!(
        "Bridge worker {worker}: {name} joined realm {} on {} (session {}, role {}).",
        component.realm,
        component.router,
        session.id(),
        session.authrole()
    );
    let serving = async {
        match (&mut work, role) {
            (Work::Main { publisher }, Role::Main(subscriptions)) => {
                serve(
                    shared,
                    &mut session,
                    publisher.as_mut(),
                    subscriptions.as_mut(),
                )
                .await
            }
            (Work::Caller(caller), _) => perform(shared, &mut session, caller).await,
            (Work::Main { .. }, Role::Caller) => Ok(()),
        }
    };
    let served = or_stop(serving, stop).await;
    drop_one(&shared.figures.joined);
    let Some(served) = served else {
        let _ = session.leave().await;
        return Ok(());
    };
    served.map_err(|failure| match failure {
        Failure::Router(error) => router(error),
        Failure::Database(error) => (Side::Database, error),
    })
}

/// The main session: registers and subscribes, then publishes the outbox,
/// answers invocations and queues events until something fails.
async fn serve(
    shared: &Shared<'_>,
    session: &mut Session,
    mut publisher: Option<&mut Publisher>,
    mut subscriptions: Option<&mut Subscriptions>,
) -> Result<(), Failure> {
    let (worker, figures) = (shared.worker, shared.figures);
    let mut procedures = Procedures::register(session, shared.pool, shared.bridge, worker).await?;
    if let Some(subscriptions) = subscriptions.as_deref_mut() {
        subscriptions.subscribe(session).await?;
    }
    if let Some(publisher) = publisher.as_deref_mut() {
        publisher.drain(session, figures, worker).await?;
    }
    loop {
        tokio::select! {
            incoming = session.next() => match incoming.map_err(Failure::Router)? {
                Incoming::Invocation(invocation) => procedures.invoke(invocation, figures),
                Incoming::Interrupt(interrupt) => procedures.interrupt(interrupt.request),
                Incoming::Event(event) => {
                    if let Some(subscriptions) = subscriptions.as_deref_mut() {
                        subscriptions.queue(event, worker);
                    }
                }
            },
            Some(answered) = procedures.answered() => {
                procedures.answer(session, answered).await.map_err(Failure::Router)?;
            }
            woken = wake(publisher.as_deref_mut()) => {
                woken?;
                if let Some(publisher) = publisher.as_deref_mut() {
                    publisher.drain(session, figures, worker).await?;
                }
            }
        }
    }
}

/// The caller session: performs queued calls until something fails.
async fn perform(
    shared: &Shared<'_>,
    session: &mut Session,
    caller: &mut Caller,
) -> Result<(), Failure> {
    loop {
        caller
            .perform(session, shared.figures, shared.worker)
            .await?;
        tokio::select! {
            // Nothing is registered or subscribed: only the session's end
            // comes this way.
            incoming = session.next() => {
                incoming.map_err(Failure::Router)?;
            }
            woken = caller.woken() => woken?,
        }
    }
}

/// Resolves when the publisher may have events to send; never without one.
async fn wake(publisher: Option<&mut Publisher>) -> Result<(), Failure> {
    match publisher {
        Some(publisher) => publisher.woken().await,
        None => std::future::pending().await,
    }
}

/// `work`'s output, or `None` when the worker is asked to stop first.
async fn or_stop<T>(work: impl Future<Output = T>, stop: &mut watch::Receiver<bool>) -> Option<T> {
    tokio::select! {
        done = work => Some(done),
        _ = stopped(stop) => None,
    }
}

/// Resolves once the worker is asked to stop (or its owner is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}
