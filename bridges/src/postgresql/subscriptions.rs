//! §3 of the bridge: WAMP events into SQL. Each configured subscription
//! hands its events to `function(topic text, args jsonb, kwargs jsonb,
//! details jsonb)`. Events wait in one bounded queue (a full queue drops
//! and counts, so the session never waits on SQL); a task takes them in
//! batches and runs each batch in one transaction, one statement per
//! function over `jsonb_to_recordset`, in arrival order.

use std::collections::HashMap;
use std::sync::Arc;

use deadpool_postgres::Pool;
use ringbar_client::{Dict, Event, Session, Value};
use tokio::sync::mpsc::{self, error::TrySendError};

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
            let queued = Queued {
                function,
                row: Value::Dict(row),
            };
            match self.queue.try_send(queued) {
                Ok(()) => {
                    bump(&self.figures.queued);
                    self.full = false;
                }
                Err(TrySendError::Full(_) | TrySendError::Closed(_)) => {
                    bump(&self.figures.dropped_full);
                    if !self.full {
                        self.full = true;
                        tracing::warn!(
                            "Bridge worker {worker}: {} events wait for SQL: further events are dropped until it catches up (max_queued_events).",
                            self.queue.max_capacity()
                        );
                    }
                }
            }
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
        figures
            .queued
            .fetch_sub(count, std::sync::atomic::Ordering::Relaxed);
        match transaction(&pool, &statements, &batch).await {
            Ok(()) => {
                figures
                    .forwarded
                    .fetch_add(count, std::sync::atomic::Ordering::Relaxed);
                if failing {
                    failing = false;
                    tracing::info!(
                        "Bridge worker {worker}: subscription functions take events again."
                    );
                }
            }
            Err(error) => {
                figures
                    .dropped_failed
                    .fetch_add(count, std::sync::atomic::Ordering::Relaxed);
                if !failing {
                    failing = true;
                    tracing::warn!(
                        "Bridge worker {worker}: a subscription function failed ({error}); its batch of {count} events is dropped."
                    );
                }
            }
        }
        batch.clear();
    }
}

/// One transaction: each function's events of `batch`, in order.
async fn transaction(pool: &Pool, statements: &[String], batch: &[Queued]) -> Result<(), String> {
    let mut client = pool.get().await.map_err(|e| database::describe_pool(&e))?;
    let describe = |e: tokio_postgres::Error| database::describe(&e);
    let transaction = client.transaction().await.map_err(describe)?;
    for (function, sql) in statements.iter().enumerate() {
        let rows: Vec<Value> = batch
            .iter()
            .filter(|queued| queued.function == function)
            .map(|queued| queued.row.clone())
            .collect();
        if rows.is_empty() {
            continue;
        }
        let rows = json::text(&Value::List(rows))?;
        let statement = transaction.prepare_cached(sql).await.map_err(describe)?;
        transaction
            .execute(&statement, &[&rows])
            .await
            .map_err(describe)?;
    }
    transaction.commit().await.map_err(describe)
}
