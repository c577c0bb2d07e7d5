//! §1 of the bridge: events published from SQL. `ringbar.publish` queues
//! them in `ringbar.outbox`, numbered in commit order at COMMIT; this
//! publisher sends them to the router in that order, waits for each
//! PUBLISHED, and only then deletes them, so an event is delivered at
//! least once whatever stops when: rows sent but not yet deleted when the
//! bridge, the router or the database went away are sent again. A
//! subscriber that must recognise a redelivery asks for the row's id in
//! the event (`options => '{"outbox_id": true}'` puts it in
//! `kwargs.outbox_id`).
//!
//! One bridge publishes a database's outbox at a time: the publisher holds
//! a session advisory lock, and a second bridge stands by until the lock
//! is free.

use ringbar_client::{Publication, Session, Value};

use tokio_postgres_rustls::MakeRustlsConnect;

use super::config::Database;
use super::database::{self, Listener};
use super::json;
use crate::figures::{Figures, bump};

/// The channel `ringbar.publish` notifies.
const CHANNEL: &str = "ringbar_outbox";
/// The session advisory lock of the publishing bridge.
const PUBLISHER_LOCK: i64 = 7_306_092_405_476_422_002;
/// Rows read at once.
const BATCH_ROWS: i64 = 1000;
/// The option of `ringbar.publish` that puts the row's id in the event.
const OUTBOX_ID: &str = "outbox_id";

/// Why publishing stopped.
pub(crate) enum Failure {
    /// The router connection failed.
    Router(ringbar_client::Error),
    /// The database connection failed.
    Database(String),
}

/// The publisher's own connection (it LISTENs).
pub(crate) struct Publisher {
    listener: Listener,
    /// Whether it holds [`PUBLISHER_LOCK`].
    publishing: bool,
    /// Whether standing by was logged.
    reported_standby: bool,
}

impl Publisher {
    /// Connects and LISTENs.
    pub(crate) async fn connect(
        database: &Database,
        tls: &MakeRustlsConnect,
    ) -> Result<Self, tokio_postgres::Error> {
        Ok(Publisher {
            listener: Listener::connect(database, tls, CHANNEL).await?,
            publishing: false,
            reported_standby: false,
        })
    }

    /// Resolves when the outbox may hold new events; an error when the
    /// connection ended.
    pub(crate) async fn woken(&mut self) -> Result<(), Failure> {
        self.listener.woken().await.map_err(Failure::Database)
    }

    /// Publishes every committed event, in commit order, until the outbox
    /// is empty.
    pub(crate) async fn drain(
        &mut self,
        session: &mut Session,
        figures: &Figures,
        worker: &str,
    ) -> Result<(), Failure> {
        if !self.lock(worker).await? {
            return Ok(());
        }
        loop {
            let rows = self
                .listener
                .client
                .query(
                    "SELECT id, seq, topic, args::text, kwargs::text, options::text \
                     FROM ringbar.outbox WHERE seq IS NOT NULL ORDER BY seq LIMIT $1",
                    &[&BATCH_ROWS],
                )
                .await
                .map_err(|e| Failure::Database(database::describe(&e)))?;
            let Some(last) = rows.last().map(|row| row.get::<_, i64>(1)) else {
                return Ok(());
            };
            let mut publications = Vec::with_capacity(rows.len());
            for row in &rows {
                let id: i64 = row.get(0);
                let topic: &str = row.get(2);
                match publication(id, topic, row.get(3), row.get(4), row.get(5)) {
                    Ok(publication) => publications.push((id, publication)),
                    Err(error) => {
                        bump(&figures.dropped_failed);
                        tracing::warn!(
                            "Bridge worker {worker}: outbox row {id} to {topic} cannot be published ({error}); dropped."
                        );
                    }
                }
            }
            let (ids, publications): (Vec<i64>, Vec<Publication>) =
                publications.into_iter().unzip();
            let outcomes = session
                .publish_all(publications)
                .await
                .map_err(Failure::Router)?;
            for (id, outcome) in ids.into_iter().zip(outcomes) {
                match outcome {
                    Ok(()) => bump(&figures.published),
                    Err(error) => {
                        bump(&figures.dropped_failed);
                        tracing::warn!(
                            "Bridge worker {worker}: outbox row {id} was not published ({error}); dropped."
                        );
                    }
                }
            }
            self.listener
                .client
                .execute("DELETE FROM ringbar.outbox WHERE seq <= $1", &[&last])
                .await
                .map_err(|e| Failure::Database(database::describe(&e)))?;
            if rows.len() < BATCH_ROWS as usize {
                return Ok(());
            }
        }
    }

    /// Takes the publisher's lock when free; whether this bridge publishes.
    async fn lock(&mut self, worker: &str) -> Result<bool, Failure> {
        if self.publishing {
            return Ok(true);
        }
        let row = self
            .listener
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&PUBLISHER_LOCK])
            .await
            .map_err(|e| Failure::Database(database::describe(&e)))?;
        self.publishing = row.get(0);
        if !self.publishing && !self.reported_standby {
            self.reported_standby = true;
            tracing::info!(
                "Bridge worker {worker}: another bridge publishes this database's outbox; this one stands by until it stops."
            );
        }
        Ok(self.publishing)
    }
}

/// The publication of one outbox row (a row the router refuses, not
/// authorized or a URI its realm's rule rejects, can never go out: it is
/// logged, counted and deleted with the rest).
fn publication(
    id: i64,
    topic: &str,
    args: Option<&str>,
    kwargs: Option<&str>,
    options: Option<&str>,
) -> Result<Publication, String> {
    let args = json::args(args)?;
    let mut kwargs = json::dict(kwargs, "kwargs")?;
    let mut options = json::dict(options, "options")?;
    if options.remove(OUTBOX_ID) == Some(Value::Bool(true)) {
        kwargs.insert(OUTBOX_ID, Value::from_i64(id));
    }
    Ok(Publication {
        topic: topic.to_owned(),
        args,
        kwargs,
        options,
    })
}
