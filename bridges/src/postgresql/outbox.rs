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

use tokio_postgres::{Row, Statement};
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
/// The next rows to publish: numbered after `$1`, in commit order.
const READ: &str = "SELECT id, seq, topic, args::text, kwargs::text, options::text \
                    FROM ringbar.outbox WHERE seq > $1 ORDER BY seq LIMIT $2";
/// Forgets the rows the router acknowledged.
const DELETE: &str = "DELETE FROM ringbar.outbox WHERE seq <= $1";

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
    /// [`READ`] and [`DELETE`], prepared once per connection.
    read: Statement,
    delete: Statement,
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
        let listener = Listener::connect(database, tls, CHANNEL).await?;
        let read = listener.client.prepare(READ).await?;
        let delete = listener.client.prepare(DELETE).await?;
        Ok(Publisher {
            listener,
            read,
            delete,
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
    /// is empty. While the router acknowledges one batch, the database
    /// deletes the batch before it and reads the next: the three round
    /// trips overlap. (A commit shows its rows only after every smaller
    /// `seq` is visible, so reading past the last row read skips none.)
    pub(crate) async fn drain(
        &mut self,
        session: &mut Session,
        figures: &Figures,
        worker: &str,
    ) -> Result<(), Failure> {
        if !self.lock(worker).await? {
            return Ok(());
        }
        let client = &self.listener.client;
        let database = |e: tokio_postgres::Error| Failure::Database(database::describe(&e));
        let mut rows = client
            .query(&self.read, &[&i64::MIN, &BATCH_ROWS])
            .await
            .map_err(database)?;
        // The last batch acknowledged and not yet deleted.
        let mut acknowledged: Option<i64> = None;
        loop {
            let Some(last) = rows.last().map(|row| row.get::<_, i64>(1)) else {
                if let Some(seq) = acknowledged {
                    client
                        .execute(&self.delete, &[&seq])
                        .await
                        .map_err(database)?;
                }
                return Ok(());
            };
            let (ids, publications) = publications(&rows, figures, worker);
            let more = rows.len() == BATCH_ROWS as usize;
            let delete = async {
                match acknowledged {
                    Some(seq) => client.execute(&self.delete, &[&seq]).await.map(drop),
                    None => Ok(()),
                }
            };
            let read = async {
                match more {
                    true => client.query(&self.read, &[&last, &BATCH_ROWS]).await,
                    false => Ok(Vec::new()),
                }
            };
            let (outcomes, deleted, next) =
                tokio::join!(session.publish_all(publications), delete, read);
            for (id, outcome) in ids.into_iter().zip(outcomes.map_err(Failure::Router)?) {
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
            deleted.map_err(database)?;
            acknowledged = Some(last);
            rows = next.map_err(database)?;
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

/// The publications of `rows` with their outbox ids; a row that cannot
/// be one is logged, counted and left out.
fn publications(rows: &[Row], figures: &Figures, worker: &str) -> (Vec<i64>, Vec<Publication>) {
    let mut ids = Vec::with_capacity(rows.len());
    let mut publications = Vec::with_capacity(rows.len());
    for row in rows {
        let id: i64 = row.get(0);
        let topic: &str = row.get(2);
        match publication(id, topic, row.get(3), row.get(4), row.get(5)) {
            Ok(publication) => {
                ids.push(id);
                publications.push(publication);
            }
            Err(error) => {
                bump(&figures.dropped_failed);
                tracing::warn!(
                    "Bridge worker {worker}: outbox row {id} to {topic} cannot be published ({error}); dropped."
                );
            }
        }
    }
    (ids, publications)
}

/// The publication of one outbox row (a row the router refuses, not
/// authorized or a URI its realm's rule rejects, can never go out: it is
/// logged, counted and deleted with the rest). Its `args` and `kwargs`
/// go out as PostgreSQL rendered them, unless the row's id is added.
fn publication(
    id: i64,
    topic: &str,
    args: Option<&str>,
    kwargs: Option<&str>,
    options: Option<&str>,
) -> Result<Publication, String> {
    let mut options = json::dict(options, "options")?;
    let publication = if options.remove(OUTBOX_ID) == Some(Value::Bool(true)) {
        let mut kwargs = json::dict(kwargs, "kwargs")?;
        kwargs.insert(OUTBOX_ID, Value::from_i64(id));
        Publication::new(topic.to_owned(), &json::args(args)?, &kwargs, options)
    } else {
        Publication::from_json(topic.to_owned(), args, kwargs, options)
    };
    publication.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ringbar_client::Dict;

    fn publication_of(
        args: Option<&str>,
        kwargs: Option<&str>,
        options: Option<&str>,
    ) -> Result<Publication, String> {
        publication(42, "com.example.t", args, kwargs, options)
    }

    #[test]
    fn rows_become_publications() {
        // Compact text, as the protocol's encoder writes it: the same bytes.
        let from_text = publication_of(Some("[1,\"a\"]"), Some("{\"k\":true}"), None).unwrap();
        let from_values = Publication::new(
            "com.example.t".to_owned(),
            &[Value::from(1u64), Value::from("a")],
            &json::dict(Some("{\"k\": true}"), "kwargs").unwrap(),
            Dict::new(),
        )
        .unwrap();
        assert_eq!(from_text, from_values);
        let with_id = publication_of(Some("[1]"), None, Some("{\"outbox_id\": true}")).unwrap();
        let mut kwargs = Dict::new();
        kwargs.insert(OUTBOX_ID, Value::from_i64(42));
        let expected = Publication::new(
            "com.example.t".to_owned(),
            &[Value::from(1u64)],
            &kwargs,
            Dict::new(),
        )
        .unwrap();
        assert_eq!(with_id, expected);
    }

    #[test]
    fn a_row_the_router_cannot_take_is_named() {
        let error = publication_of(Some("{}"), None, None).unwrap_err();
        assert_eq!(error, "args must be a JSON array, not an object");
        let error = publication_of(None, Some("[]"), Some("{\"outbox_id\": true}")).unwrap_err();
        assert!(error.contains("kwargs is a list, not an object"), "{error}");
        let error = publication_of(None, None, Some("[]")).unwrap_err();
        assert!(error.contains("options is a list"), "{error}");
    }
}
