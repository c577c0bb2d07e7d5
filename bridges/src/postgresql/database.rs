//! The bridge's connections to PostgreSQL: a `deadpool-postgres` pool for
//! calls and subscriptions, and single connections of their own for the
//! publisher (which LISTENs, so it must not be shared). Errors are told
//! in the user's words: the server's message and SQLSTATE, or why it
//! cannot be reached; never the password.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, Notification};

use super::config::{Database, SslMode};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::tls;

/// How many notifications may wait for the publisher; more are dropped
/// (one waiting is enough to wake it).
const NOTIFICATIONS: usize = 16;

/// The `tokio-postgres` config of `database`.
pub(crate) fn config(database: &Database) -> tokio_postgres::Config {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&database.host)
        .port(database.port)
        .dbname(&database.dbname)
        .user(&database.user)
        .application_name("ringbar-bridge")
        .connect_timeout(database.connect_timeout)
        .keepalives_idle(Duration::from_secs(30))
        .ssl_mode(match database.sslmode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Allow | SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        });
    if let Some(password) = &database.password {
        config.password(password);
    }
    config
}

/// A pool of at most `pool_size` connections, opened when first needed.
pub(crate) fn pool(database: &Database, tls: &MakeRustlsConnect) -> Result<Pool, String> {
    let manager = Manager::from_config(
        config(database),
        tls.clone(),
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(database.pool_size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(database.connect_timeout))
        .create_timeout(Some(database.connect_timeout))
        .build()
        .map_err(|e| e.to_string())
}

/// How often a listener looks for work when no notification came:
/// NOTIFY is a hint, never relied on alone.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// A connection of its own that LISTENs on one channel.
pub(crate) struct Listener {
    /// The connection, for the listener's own queries.
    pub(crate) client: Client,
    notifications: mpsc::Receiver<Notification>,
    /// Ticks every [`POLL_INTERVAL`]: one timer for the listener's life,
    /// not one per wait (a session's loop waits again after every event).
    poll: tokio::time::Interval,
}

impl Listener {
    /// Connects and LISTENs on `channel`.
    pub(crate) async fn connect(
        database: &Database,
        tls: &MakeRustlsConnect,
        channel: &str,
    ) -> Result<Self, tokio_postgres::Error> {
        let (client, notifications) = connect(database, tls).await?;
        client.batch_execute(&format!("LISTEN {channel}")).await?;
        let mut poll = tokio::time::interval(POLL_INTERVAL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Ok(Listener {
            client,
            notifications,
            poll,
        })
    }

    /// Resolves when there may be work (a notification came, or the poll
    /// interval passed); an error when the connection ended.
    pub(crate) async fn woken(&mut self) -> Result<(), String> {
        let closed = || "the connection closed".to_owned();
        tokio::select! {
            notification = self.notifications.recv() => notification.map(drop).ok_or_else(closed),
            _ = self.poll.tick() => match self.client.is_closed() {
                true => Err(closed()),
                false => Ok(()),
            },
        }
    }
}

/// One connection of its own: the client, and the notifications it
/// receives (the channel closes when the connection ends).
pub(crate) async fn connect(
    database: &Database,
    tls: &MakeRustlsConnect,
) -> Result<(Client, mpsc::Receiver<Notification>), tokio_postgres::Error> {
    let (client, mut connection) = config(database).connect(tls.clone()).await?;
    let (notify, notifications) = mpsc::channel(NOTIFICATIONS);
    tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(notification))) => {
                    let _ = notify.try_send(notification);
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            }
        }
    });
    Ok((client, notifications))
}

/// What went wrong, for a log line: the server's message with its
/// SQLSTATE, or the connection failure with its cause.
pub(crate) fn describe(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if let Some(fix) = tls::certificate_hint(error) {
        text.push_str(": ");
        text.push_str(fix);
    }
    text
}

/// [`describe`] for a pool error.
pub(crate) fn describe_pool(error: &deadpool_postgres::PoolError) -> String {
    match error {
        deadpool_postgres::PoolError::Backend(error) => describe(error),
        other => other.to_string(),
    }
}
