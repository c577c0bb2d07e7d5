//! §3 of the bridge: WAMP events into SQL. Each configured subscription
//! hands its events to `function(topic text, args jsonb, kwargs jsonb,
//! details jsonb)`. Events wait in one bounded queue (a full queue drops
//! and counts, so the session never waits on SQL); a task takes them in
//! batches and runs each batch in one transaction, one statement per
//! function over `jsonb_to_recordset`, in arrival order. When a function
//! raises, the batch is run again event by event (a savepoint each), so
//! only the events it refuses are dropped (counted in `dropped_failed`,
//! logged once per burst of failures).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use deadpool_postgres::Pool;
use ringbar_client::{Dict, Event, Session, Value};
use tokio::sync::mpsc;

use super::catalog::{quote, split_name};
use super::config::SqlSubscription;
use super::database;
use super::json;
use super::outbox::Failure;
use crate::figures::{Figures, bump};

/// Events one transaction takes at most.
const MAX_BATCH: usize = 1000;

/// One event on its way to SQL: the function's index and its arguments.
struct Queued {
    function: usize,
    row: Value,
}

/// The queue into SQL, which outlives the sessions.
pub(crate) struct Subscriptions {
    subscriptions: Vec<SqlSubscription>,
    queue: mpsc::Sender<Queued>,
    figures: Arc<Figures>,
    /// subscription id → indexes into `subscriptions`, for this session.
    routes: HashMap<u64, Vec<usize>>,
    /// Whether the queue was full at the last event (logged once a spell).
    full: bool,
}

impl Subscriptions {
    /// Starts the task that writes events into SQL with `pool`.
    pub(crate) fn start(
        subscriptions: &[SqlSubscription],
        max_queued: usize,
        pool: &Pool,
        figures: &Arc<Figures>,
        worker: &str,
    ) -> Self {
        let (queue, events) = mpsc::channel(max_queued.max(1));
        let statements: Vec<String> = subscriptions
            .iter()
            .map(|s| {
                let (schema, name) = split_name(&s.function);
                format!(
                    "SELECT count({}.{}(e.topic, e.args, e.kwargs, e.details)) \
                     FROM jsonb_to_recordset($1::text::jsonb) AS e(topic text, args jsonb, kwargs jsonb, details jsonb)",
                    quote(schema),
                    quote(name)
                )
            })
            .collect();
        tokio::spawn(write(
            events,
            statements,
            pool.clone(),
            figures.clone(),
            worker.to_owned(),
        ));
        Subscriptions {
            subscriptions: subscriptions.to_vec(),
            queue,
            figures: figures.clone(),
            routes: HashMap::new(),
            full: false,
        }
    }

    /// Subscribes the session to every configured topic.
    pub(crate) async fn subscribe(&mut self, session: &mut Session) -> Result<(), Failure> {
        self.routes.clear();
        for (index, subscription) in self.subscriptions.iter().enumerate() {
            let mut options = Dict::new();
            if subscription.match_policy != "exact" {
                options.insert("match", Value::from(subscription.match_policy.as_str()));
            }
            let id = session
                .subscribe(&subscription.topic, options)
                .await
                .map_err(Failure::Router)?;
            self.routes.entry(id).or_default().push(index);
        }
        Ok(())
    }

    /// Queues `event` for the functions of its subscription.
    pub(crate) fn queue(&mut self, event: Event, worker: &str) {
        bump(&self.figures.events);
        let Some(indexes) = self.routes.get(&event.subscription) else {
            return;
        };
        for &function in indexes {
            // A full queue drops the event before its row is built: under
            // overload the session's time goes to the events that land.
            let Ok(permit) = self.queue.try_reserve() else {
                bump(&self.figures.dropped_full);
                if !self.full {
                    self.full = true;
                    tracing::warn!(
                        "Bridge worker {worker}: {} events wait for SQL: further events are dropped until it catches up (max_queued_events).",
                        self.queue.max_capacity()
                    );
                }
                continue;
            };
            let topic = match event.details.get("topic") {
                Some(Value::Str(topic)) => topic.clone(),
                _ => self
                    .subscriptions
                    .get(function)
                    .map(|s| s.topic.clone())
                    .unwrap_or_default(),
            };
            let mut row = Dict::new();
            row.insert("topic", Value::from(topic));
            row.insert("args", Value::List(event.args.clone()));
            row.insert("kwargs", Value::Dict(event.kwargs.clone()));
            row.insert("details", Value::Dict(event.details.clone()));
            permit.send(Queued {
                function,
                row: Value::Dict(row),
            });
            bump(&self.figures.queued);
            self.full = false;
        }
    }
}

/// Writes queued events into SQL, a batch per transaction.
async fn write(
    mut events: mpsc::Receiver<Queued>,
    statements: Vec<String>,
    pool: Pool,
    figures: Arc<Figures>,
    worker: String,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut failing = false;
    while events.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let count = batch.len() as u64;
        figures.queued.fetch_sub(count, Ordering::Relaxed);
        let written = match transaction(&pool, &statements, &batch).await {
            Ok(()) => Written::all(count),
            // A function refused an event: the others must not go with it.
            Err(Refused::Function(_)) => one_by_one(&pool, &statements, &batch).await,
            Err(Refused::Database(error)) => Written::none(count, error),
        };
        figures
            .forwarded
            .fetch_add(written.landed, Ordering::Relaxed);
        figures
            .dropped_failed
            .fetch_add(written.dropped, Ordering::Relaxed);
        match written.error {
            None if failing => {
                failing = false;
                tracing::info!("Bridge worker {worker}: subscription functions take events again.");
            }
            Some(error) if !failing => {
                failing = true;
                tracing::warn!(
                    "Bridge worker {worker}: a subscription function failed ({error}); the events it refused are dropped and counted (dropped_failed) until one batch lands whole."
                );
            }
            _ => {}
        }
        batch.clear();
    }
}

/// What became of one batch.
struct Written {
    /// Events whose function ran and committed.
    landed: u64,
    /// Events dropped.
    dropped: u64,
    /// The first failure, if any.
    error: Option<String>,
}

impl Written {
    fn all(count: u64) -> Self {
        Written {
            landed: count,
            dropped: 0,
            error: None,
        }
    }

    fn none(count: u64, error: String) -> Self {
        Written {
            landed: 0,
            dropped: count,
            error: Some(error),
        }
    }
}

/// Why a transaction did not commit.
enum Refused {
    /// A statement failed on the server (a function raised).
    Function(String),
    /// No connection, or it broke.
    Database(String),
}

impl From<tokio_postgres::Error> for Refused {
    fn from(error: tokio_postgres::Error) -> Self {
        match error.as_db_error() {
            Some(_) => Refused::Function(database::describe(&error)),
            None => Refused::Database(database::describe(&error)),
        }
    }
}

/// One transaction: each function's events of `batch`, in order.
async fn transaction(pool: &Pool, statements: &[String], batch: &[Queued]) -> Result<(), Refused> {
    let mut client = pool
        .get()
        .await
        .map_err(|e| Refused::Database(database::describe_pool(&e)))?;
    let transaction = client.transaction().await?;
    for (function, sql) in statements.iter().enumerate() {
        let rows: Vec<Value> = batch
            .iter()
            .filter(|queued| queued.function == function)
            .map(|queued| queued.row.clone())
            .collect();
        if rows.is_empty() {
            continue;
        }
        let rows = json::text(&Value::List(rows)).map_err(Refused::Function)?;
        let statement = transaction.prepare_cached(sql).await?;
        transaction.execute(&statement, &[&rows]).await?;
    }
    Ok(transaction.commit().await?)
}

/// `batch` again in one transaction with a savepoint per event, so that
/// only the events whose function fails are dropped.
async fn one_by_one(pool: &Pool, statements: &[String], batch: &[Queued]) -> Written {
    let count = batch.len() as u64;
    let mut written = Written {
        landed: 0,
        dropped: 0,
        error: None,
    };
    let outcome: Result<(), Refused> = async {
        let mut client = pool
            .get()
            .await
            .map_err(|e| Refused::Database(database::describe_pool(&e)))?;
        let mut transaction = client.transaction().await?;
        for queued in batch {
            let Some(sql) = statements.get(queued.function) else {
                continue;
            };
            let rows = json::text(&Value::List(vec![queued.row.clone()]));
            let statement = transaction.prepare_cached(sql).await?;
            let savepoint = transaction.savepoint("ringbar_event").await?;
            let executed = match &rows {
                Ok(rows) => savepoint
                    .execute(&statement, &[rows])
                    .await
                    .map_err(Refused::from),
                Err(error) => Err(Refused::Function(error.clone())),
            };
            match executed {
                Ok(_) => {
                    savepoint.commit().await?;
                    written.landed += 1;
                }
                Err(Refused::Function(error)) => {
                    savepoint.rollback().await?;
                    written.dropped += 1;
                    written.error.get_or_insert(error);
                }
                Err(refused) => return Err(refused),
            }
        }
        Ok(transaction.commit().await?)
    }
    .await;
    match outcome {
        Ok(()) => written,
        Err(Refused::Function(error) | Refused::Database(error)) => Written::none(count, error),
    }
}
