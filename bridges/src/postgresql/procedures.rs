//! §2 of the bridge: SQL functions as WAMP procedures. At each join the
//! configured functions are looked up in the catalog and registered
//! (shared, with the configured invocation policy, so several bridges can
//! serve one database; `disclose_caller`, so SQL sees who calls). Each
//! invocation runs in a task of its own, its statement on a pooled
//! connection it may share with others ([`super::lanes`]); INTERRUPT
//! (the call's timeout, or CANCEL) and the bridge's own `call_timeout_ms`
//! cancel the running statement with a PostgreSQL cancel request.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use std::pin::Pin;

use deadpool_postgres::{Pool, PoolError};
use ringbar_client::{Dict, Invocation, Session, Value};
use ringbar_router::error::RoutingError;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Sleep;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

use super::catalog::{self, Function, Unusable};
use super::config::{PostgresqlBridge, ProcedureSource};
use super::database;
use super::json;
use super::lanes::{Lanes, Seat};
use super::outbox::Failure;
use super::statement::{self, Statement};
use crate::figures::{Figures, bump};

/// The error of a failed SQL statement, with kwargs `sqlstate`,
/// `message`, `detail`, `hint`.
pub(crate) const POSTGRESQL_ERROR: &str = "ringbar.error.postgresql";
/// The error of arguments that do not fit the function.
const INVALID_ARGUMENT: &str = RoutingError::InvalidArgument.uri();
/// The answer to an INTERRUPT.
const CANCELED: &str = RoutingError::Canceled.uri();
/// The error of a statement that ran past `call_timeout_ms`.
const TIMEOUT: &str = RoutingError::Timeout.uri();
/// Invocations that may run at once; more are refused at once (the pool
/// bounds how many statements run, this bounds how many wait for it).
const MAX_RUNNING: usize = 1024;
/// How often a cancel request goes again while the statement runs on (the
/// server takes one only while a statement runs).
const CANCEL_AGAIN: Duration = Duration::from_millis(500);
/// Answers queued before they are written.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// How an invocation is answered.
pub(crate) enum Answer {
    /// YIELD with these arguments.
    Result(Vec<Value>),
    /// ERROR `uri` with `args` and `kwargs`.
    Error {
        uri: &'static str,
        args: Vec<Value>,
        kwargs: Dict,
    },
}

/// Why an invocation stops early.
#[derive(Clone, Copy)]
enum Stop {
    Interrupted,
    TimedOut,
}

/// The registered procedures of one session and their running calls.
pub(crate) struct Procedures {
    lanes: Lanes,
    call_timeout: Duration,
    functions: HashMap<u64, Arc<Function>>,
    running: HashMap<u64, oneshot::Sender<()>>,
    done: mpsc::Sender<(u64, Answer)>,
    answers: mpsc::Receiver<(u64, Answer)>,
}

impl Procedures {
    /// Looks up the functions of `bridge.procedures` and registers each
    /// usable one; an unusable one is logged and left out.
    pub(crate) async fn register(
        session: &mut Session,
        pool: &Pool,
        bridge: &PostgresqlBridge,
        worker: &str,
    ) -> Result<Self, Failure> {
        let (done, answers) = mpsc::channel(MAX_RUNNING);
        let mut procedures = Procedures {
            lanes: Lanes::new(pool.clone()),
            call_timeout: bridge.call_timeout,
            functions: HashMap::new(),
            running: HashMap::new(),
            done,
            answers,
        };
        if bridge.procedures.is_empty() {
            return Ok(procedures);
        }
        let client = pool
            .get()
            .await
            .map_err(|e| Failure::Database(database::describe_pool(&e)))?;
        let client: &Client = &client;
        let mut options = Dict::new();
        options.insert("invoke", Value::from(bridge.registration_policy.as_str()));
        options.insert("disclose_caller", true);
        for source in &bridge.procedures {
            // (schema, one function's name, the procedure URI or the prefix)
            let (schema, name, uri) = match source {
                ProcedureSource::Function {
                    procedure,
                    function,
                } => {
                    let (schema, name) = catalog::split_name(function);
                    (schema, Some(name), procedure)
                }
                ProcedureSource::Schema { prefix, schema } => (schema.as_str(), None, prefix),
            };
            let found = catalog::functions(client, schema, name)
                .await
                .map_err(|e| Failure::Database(database::describe(&e)))?;
            for (name, function) in found {
                let procedure = match source {
                    ProcedureSource::Function { .. } => uri.clone(),
                    ProcedureSource::Schema { .. } => format!("{uri}{name}"),
                };
                let function = match function {
                    Ok(function) => function,
                    Err(unusable) => {
                        tracing::warn!(
                            "Bridge worker {worker}: {procedure} is not registered: {}",
                            explain(schema, &name, &unusable)
                        );
                        continue;
                    }
                };
                match session.register(&procedure, options.clone()).await {
                    Ok(registration) => {
                        tracing::info!(
                            "Bridge worker {worker}: {procedure} calls {}.",
                            function.name
                        );
                        procedures
                            .functions
                            .insert(registration, Arc::new(function));
                    }
                    Err(error) if error.uri().is_some() => {
                        tracing::warn!("Bridge worker {worker}: {error}.");
                    }
                    Err(error) => return Err(Failure::Router(error)),
                }
            }
        }
        Ok(procedures)
    }

    /// Starts answering `invocation` (or answers it at once when its
    /// arguments do not fit, or too many calls run).
    pub(crate) fn invoke(&mut self, invocation: Invocation, figures: &Arc<Figures>) {
        let request = invocation.request;
        let answer = |answer| {
            let _ = self.done.try_send((request, answer));
        };
        let Some(function) = self.functions.get(&invocation.registration).cloned() else {
            return answer(error(CANCELED, "the procedure is no longer served".into()));
        };
        if self.running.len() >= MAX_RUNNING {
            return answer(error(
                CANCELED,
                format!("{MAX_RUNNING} calls of this bridge are running: try again later"),
            ));
        }
        let statement = match statement::call(
            &function,
            &invocation.args,
            &invocation.kwargs,
            caller(&invocation.details),
        ) {
            Ok(statement) => statement,
            Err(message) => {
                bump(&figures.call_errors);
                return answer(error(INVALID_ARGUMENT, message));
            }
        };
        let (interrupt, interrupted) = oneshot::channel();
        self.running.insert(request, interrupt);
        let (lanes, done, figures) = (self.lanes.clone(), self.done.clone(), figures.clone());
        let timeout = self.call_timeout;
        tokio::spawn(async move {
            let answer = run(&lanes, &function, &statement, timeout, interrupted).await;
            bump(match answer {
                Answer::Result(_) => &figures.calls,
                Answer::Error { .. } => &figures.call_errors,
            });
            let _ = done.send((request, answer)).await;
        });
    }

    /// Cancels the running invocation `request` (INTERRUPT).
    pub(crate) fn interrupt(&mut self, request: u64) {
        if let Some(interrupt) = self.running.remove(&request) {
            let _ = interrupt.send(());
        }
    }

    /// The next finished invocation.
    pub(crate) async fn answered(&mut self) -> Option<(u64, Answer)> {
        let answered = self.answers.recv().await;
        self.finished(answered)
    }

    /// A finished invocation, if one is waiting.
    fn try_answered(&mut self) -> Option<(u64, Answer)> {
        let answered = self.answers.try_recv().ok();
        self.finished(answered)
    }

    /// `answered`, no longer running.
    fn finished(&mut self, answered: Option<(u64, Answer)>) -> Option<(u64, Answer)> {
        if let Some((request, _)) = &answered {
            self.running.remove(request);
        }
        answered
    }

    /// Sends `first` and every other answer already waiting, with one
    /// write per [`MAX_ANSWER_BYTES`]: under load, several calls finish
    /// between two turns of the session's loop.
    pub(crate) async fn answer(
        &mut self,
        session: &mut Session,
        first: (u64, Answer),
    ) -> Result<(), ringbar_client::Error> {
        queue_answer(session, first)?;
        while session.queued_bytes() < MAX_ANSWER_BYTES
            && let Some(answered) = self.try_answered()
        {
            queue_answer(session, answered)?;
        }
        session.flush().await
    }
}

/// Queues the answer to invocation `request`.
fn queue_answer(
    session: &mut Session,
    (request, answer): (u64, Answer),
) -> Result<(), ringbar_client::Error> {
    match answer {
        Answer::Result(args) => session.queue_yield_result(request, args, Dict::new()),
        Answer::Error { uri, args, kwargs } => {
            session.queue_yield_error_with(request, uri, args, kwargs)
        }
    }
}

/// The caller's (authid, authrole, session) from the invocation details.
fn caller(details: &Dict) -> Option<[String; 3]> {
    let text = |key: &str| match details.get(key) {
        Some(Value::Str(text)) => Some(text.clone()),
        Some(Value::UInt(n)) => Some(n.to_string()),
        _ => None,
    };
    Some([
        text("caller_authid")?,
        text("caller_authrole")?,
        text("caller")?,
    ])
}

/// Runs one call on a lane, cancelling it when interrupted or past
/// `timeout`. A statement cancelled by another call's cancel request (sent
/// for the statement before it, which ended before the request arrived)
/// runs again, once: a cancelled statement rolled back whole.
async fn run(
    lanes: &Lanes,
    function: &Function,
    statement: &Statement,
    timeout: Duration,
    mut interrupted: oneshot::Receiver<()>,
) -> Answer {
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut again = true;
    loop {
        match attempt(lanes, statement, &mut interrupted, deadline.as_mut()).await {
            Attempt::Ended(Err(e)) if again && is_cancel(&e) => again = false,
            Attempt::Ended(outcome) => return outcome_of(function, outcome),
            Attempt::NoConnection(e) => {
                return error(
                    POSTGRESQL_ERROR,
                    format!("no database connection: {}", database::describe_pool(&e)),
                );
            }
            Attempt::Stopped(stop) => return stopped(function, stop, timeout),
            Attempt::Cancelled(stop, Err(e)) if is_cancel(&e) => {
                return stopped(function, stop, timeout);
            }
            // It ended before the cancel request took effect.
            Attempt::Cancelled(_, outcome) => return outcome_of(function, outcome),
        }
    }
}

/// How one run of a statement ended.
enum Attempt {
    /// By itself.
    Ended(Result<Option<String>, tokio_postgres::Error>),
    /// After a cancel request for the reason given (it may still have
    /// ended by itself first).
    Cancelled(Stop, Result<Option<String>, tokio_postgres::Error>),
    /// Before it was sent.
    Stopped(Stop),
    /// No connection could be had.
    NoConnection(PoolError),
}

/// Runs `statement` once on a seat of `lanes`; when interrupted or past
/// the deadline, cancels it once it is the statement its connection runs
/// (again every [`CANCEL_AGAIN`] while it runs on).
async fn attempt(
    lanes: &Lanes,
    statement: &Statement,
    interrupted: &mut oneshot::Receiver<()>,
    mut deadline: Pin<&mut Sleep>,
) -> Attempt {
    let seat = tokio::select! {
        seat = lanes.seat() => match seat {
            Ok(seat) => seat,
            Err(e) => return Attempt::NoConnection(e),
        },
        _ = &mut *interrupted => return Attempt::Stopped(Stop::Interrupted),
        () = &mut deadline => return Attempt::Stopped(Stop::TimedOut),
    };
    let work = execute(&seat, statement);
    tokio::pin!(work);
    let stop = tokio::select! {
        // The query first: its first poll sends it, right after the seat
        // recorded it.
        biased;
        outcome = &mut work => return Attempt::Ended(outcome),
        _ = &mut *interrupted => Stop::Interrupted,
        () = &mut deadline => Stop::TimedOut,
    };
    if !seat.is_sent() {
        return Attempt::Stopped(stop);
    }
    let token = seat.client().cancel_token();
    loop {
        tokio::select! {
            biased;
            outcome = &mut work => return Attempt::Cancelled(stop, outcome),
            () = seat.oldest() => {}
        }
        let _ = token.cancel_query(NoTls).await;
        tokio::select! {
            biased;
            outcome = &mut work => return Attempt::Cancelled(stop, outcome),
            () = tokio::time::sleep(CANCEL_AGAIN) => {}
        }
    }
}

/// Whether a statement failed because a cancel request reached it.
fn is_cancel(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::QUERY_CANCELED)
}

/// The answer to a call stopped by `stop`.
fn stopped(function: &Function, stop: Stop, timeout: Duration) -> Answer {
    match stop {
        Stop::Interrupted => error(CANCELED, format!("{} was cancelled", function.name)),
        Stop::TimedOut => error(
            TIMEOUT,
            format!(
                "{} ran longer than {} ms and was cancelled",
                function.name,
                timeout.as_millis()
            ),
        ),
    }
}

/// Prepares `statement` on the seat's connection, then sends it with its
/// parameters (the caller's identity, the arguments).
async fn execute(
    seat: &Seat,
    statement: &Statement,
) -> Result<Option<String>, tokio_postgres::Error> {
    let client = seat.client();
    let call = client.prepare_cached(&statement.sql).await?;
    let record = statement
        .record
        .as_ref()
        .map(json::text)
        .transpose()
        .unwrap_or_default();
    type Param<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);
    let mut params: Vec<Param<'_>> = Vec::with_capacity(4);
    if let Some(identity) = &statement.caller {
        params.extend(identity.iter().map(|text| text as Param<'_>));
    }
    if let Some(record) = &record {
        params.push(record);
    }
    seat.send();
    let rows = client.query(&call, &params).await?;
    Ok(rows.first().and_then(|row| row.get::<_, Option<String>>(0)))
}

fn outcome_of(
    function: &Function,
    outcome: Result<Option<String>, tokio_postgres::Error>,
) -> Answer {
    match outcome {
        Ok(text) => match text.as_deref().map(json::parse).transpose() {
            Ok(json) => Answer::Result(statement::result(function.shape, json)),
            Err(e) => error(POSTGRESQL_ERROR, format!("the result is not JSON: {e}")),
        },
        Err(e) => sql_error(&e),
    }
}

/// `ringbar.error.postgresql` for a failed statement: the server's
/// SQLSTATE, message, detail and hint (never the connection's settings).
pub(crate) fn sql_error(e: &tokio_postgres::Error) -> Answer {
    let Some(db) = e.as_db_error() else {
        return error(POSTGRESQL_ERROR, database::describe(e));
    };
    let mut kwargs = Dict::new();
    kwargs.insert("sqlstate", Value::from(db.code().code()));
    kwargs.insert("message", Value::from(db.message()));
    let optional = |text: Option<&str>| text.map_or(Value::Null, Value::from);
    kwargs.insert("detail", optional(db.detail()));
    kwargs.insert("hint", optional(db.hint()));
    Answer::Error {
        uri: POSTGRESQL_ERROR,
        args: vec![Value::from(db.message())],
        kwargs,
    }
}

fn error(uri: &'static str, message: String) -> Answer {
    Answer::Error {
        uri,
        args: vec![Value::from(message)],
        kwargs: Dict::new(),
    }
}

fn explain(schema: &str, name: &str, unusable: &Unusable) -> String {
    match unusable {
        Unusable::Missing => format!(
            "there is no function {schema}.{name} the bridge's user can see (create it, or fix \"function\")"
        ),
        Unusable::Overloaded(signatures) => format!(
            "{schema}.{name} is overloaded ({}): a procedure calls one function; rename or drop the others",
            signatures.join(", ")
        ),
        Unusable::UntypedRecord => format!(
            "{schema}.{name} returns SETOF record without OUT parameters: declare RETURNS TABLE (...) instead"
        ),
    }
}
