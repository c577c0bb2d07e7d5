//! §4 of the bridge: SQL calls WAMP procedures. `ringbar.call` queues a
//! call in `ringbar.calls`, seen once its transaction commits; this
//! caller claims queued calls (state `running`, so two bridges never
//! perform one call twice), performs them in queue order on a session of
//! its own (a call may wait on a procedure this bridge serves itself),
//! writes each result or error, and NOTIFYs `ringbar_call_done` with the
//! call's id. A call whose router connection fails while it runs is
//! marked `failed`: it may or may not have run, so it is not repeated.
//!
//! A bridge killed mid-call cannot mark its calls: each claim names the
//! claimer's backend PID, which holds the advisory lock
//! ([`CLAIMER_LOCK`], PID) as long as its connection lives. Before each
//! claim, a caller finishes the `running` calls whose claimer holds no
//! such lock any more (or whose PID is its own, a leftover of an earlier
//! backend with that PID) as `failed` with [`BRIDGE_LOST`], never
//! performing them again.

use ringbar_client::{Dict, Error, Session, Value};

use ringbar_router::error::RoutingError;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::config::Database;
use super::database::{self, Listener};
use super::json;
use super::outbox::Failure;
use crate::figures::{Figures, bump};

/// The channel `ringbar.call` notifies.
const CHANNEL: &str = "ringbar_calls";
/// Calls claimed at once.
const BATCH_ROWS: i64 = 100;
/// The error written for a call whose router connection failed.
const ROUTER_LOST: &str = "ringbar.error.router_lost";
/// The error written for a call whose bridge stopped while it ran.
const BRIDGE_LOST: &str = "ringbar.error.bridge_lost";
/// The args of [`BRIDGE_LOST`], as JSON.
const BRIDGE_LOST_ARGS: &str = "[\"the bridge performing this call stopped before it finished: the call may or may not have run\"]";
/// The first key of the advisory lock a claimer holds with its backend
/// PID as the second ("rbcl"; two-key advisory locks are a space of
/// their own beside the one-key locks of the outbox and migrations).
const CLAIMER_LOCK: i32 = 1_919_050_604;
/// The error written for a call whose arguments cannot be read.
const INVALID_ARGUMENT: &str = RoutingError::InvalidArgument.uri();

/// Claims the next queued calls, oldest first.
const CLAIM: &str = "UPDATE ringbar.calls SET state = 'running', claimed_by = pg_backend_pid() \
     WHERE id IN (SELECT id FROM ringbar.calls WHERE state = 'queued' \
                  ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) \
     RETURNING id, procedure, args::text, kwargs::text, timeout_ms";

/// Finishes the calls of claimers that are gone and tells whoever waits.
const LOST: &str = "WITH lost AS ( \
       UPDATE ringbar.calls c SET state = 'failed', error = $2, error_args = $3::text::jsonb, \
         done_at = now() \
       WHERE c.state = 'running' AND (c.claimed_by IS NULL OR c.claimed_by = pg_backend_pid() \
         OR NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' \
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
           AND l.objsubid = 2 AND l.classid = $1::integer::oid AND l.objid = c.claimed_by::oid)) \
       RETURNING c.id) \
     SELECT pg_notify('ringbar_call_done', id::text) FROM lost";

/// Writes one call's outcome and tells whoever waits.
const DONE: &str = "WITH done AS ( \
       UPDATE ringbar.calls SET state = $2, result_args = $3::text::jsonb, \
         result_kwargs = $4::text::jsonb, error = $5, error_args = $6::text::jsonb, done_at = now() \
       WHERE id = $1 RETURNING id) \
     SELECT pg_notify('ringbar_call_done', id::text) FROM done";

/// The caller's own connection (it LISTENs).
pub(crate) struct Caller {
    listener: Listener,
}

/// One call's outcome as `ringbar.calls` keeps it.
struct Outcome {
    state: &'static str,
    args: Option<String>,
    kwargs: Option<String>,
    error: Option<String>,
    error_args: Option<String>,
}

impl Caller {
    /// Connects, LISTENs and takes the claimer's lock.
    pub(crate) async fn connect(
        database: &Database,
        tls: &MakeRustlsConnect,
    ) -> Result<Self, tokio_postgres::Error> {
        let listener = Listener::connect(database, tls, CHANNEL).await?;
        // No other live backend has this PID: the lock is always free.
        listener
            .client
            .execute(
                "SELECT pg_advisory_lock($1, pg_backend_pid())",
                &[&CLAIMER_LOCK],
            )
            .await?;
        Ok(Caller { listener })
    }

    /// Resolves when calls may be queued; an error when the connection
    /// ended.
    pub(crate) async fn woken(&mut self) -> Result<(), Failure> {
        self.listener.woken().await.map_err(Failure::Database)
    }

    /// Performs every queued call, oldest first.
    pub(crate) async fn perform(
        &mut self,
        session: &mut Session,
        figures: &Figures,
        worker: &str,
    ) -> Result<(), Failure> {
        let database = |e: tokio_postgres::Error| Failure::Database(database::describe(&e));
        let abandoned = self
            .listener
            .client
            .query(LOST, &[&CLAIMER_LOCK, &BRIDGE_LOST, &BRIDGE_LOST_ARGS])
            .await
            .map_err(database)?;
        figures
            .call_errors
            .fetch_add(abandoned.len() as u64, std::sync::atomic::Ordering::Relaxed);
        if !abandoned.is_empty() {
            tracing::warn!(
                "Bridge worker {worker}: {} calls were running in a bridge that stopped; they are marked failed ({BRIDGE_LOST}), not performed again.",
                abandoned.len()
            );
        }
        loop {
            let mut rows = self
                .listener
                .client
                .query(CLAIM, &[&BATCH_ROWS])
                .await
                .map_err(database)?;
            rows.sort_by_key(|row| row.get::<_, i64>(0));
            let claimed = rows.len();
            let mut failure = None;
            for row in rows {
                let id: i64 = row.get(0);
                let outcome = match &failure {
                    Some(error) => lost(error),
                    None => {
                        let called =
                            call(session, row.get(1), row.get(2), row.get(3), row.get(4)).await;
                        match called {
                            Ok(outcome) => outcome,
                            Err(error) => {
                                let outcome = lost(&error);
                                failure = Some(error);
                                outcome
                            }
                        }
                    }
                };
                bump(if outcome.state == "done" {
                    &figures.calls
                } else {
                    &figures.call_errors
                });
                let state = outcome.state;
                self.listener
                    .client
                    .execute(
                        DONE,
                        &[
                            &id,
                            &state,
                            &outcome.args,
                            &outcome.kwargs,
                            &outcome.error,
                            &outcome.error_args,
                        ],
                    )
                    .await
                    .map_err(database)?;
            }
            if let Some(error) = failure {
                return Err(Failure::Router(error));
            }
            if claimed < BATCH_ROWS as usize {
                return Ok(());
            }
        }
    }
}

/// Performs one call; `Err` only when the router connection failed.
async fn call(
    session: &mut Session,
    procedure: &str,
    args: Option<&str>,
    kwargs: Option<&str>,
    timeout_ms: Option<i32>,
) -> Result<Outcome, Error> {
    let arguments = json::args(args).and_then(|args| Ok((args, json::dict(kwargs, "kwargs")?)));
    let (args, kwargs) = match arguments {
        Ok(arguments) => arguments,
        Err(message) => return Ok(failed(INVALID_ARGUMENT, &[Value::from(message)])),
    };
    let mut options = Dict::new();
    if let Some(timeout) = timeout_ms.and_then(|t| u64::try_from(t).ok()) {
        options.insert("timeout", Value::from(timeout));
    }
    match session.call_with(procedure, args, kwargs, options).await {
        Ok(result) => Ok(Outcome {
            state: "done",
            args: json::text(&Value::List(result.args)).ok(),
            kwargs: json::text(&Value::Dict(result.kwargs)).ok(),
            error: None,
            error_args: None,
        }),
        Err(Error::Wamp { error, args, .. }) => Ok(failed_with(error, &args)),
        Err(error) => Err(error),
    }
}

fn lost(error: &Error) -> Outcome {
    failed(ROUTER_LOST, &[Value::from(error.to_string())])
}

fn failed(uri: &str, args: &[Value]) -> Outcome {
    failed_with(uri.to_owned(), args)
}

fn failed_with(uri: String, args: &[Value]) -> Outcome {
    Outcome {
        state: "failed",
        args: None,
        kwargs: None,
        error: Some(uri),
        error_args: json::text(&Value::List(args.to_vec())).ok(),
    }
}
