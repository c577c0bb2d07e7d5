//! `MessageForwarder`: events of subscribed topics sent to HTTP services
//! as `{"args", "kwargs"}`. Each target (a subscription's `url`) has a
//! bounded queue and a task of its own that sends, retrying failed
//! requests; when a service is slow or down its queue fills and further
//! events to it are dropped and counted, so the session never waits on
//! HTTP and memory stays bounded. Queues outlive reconnects to the router.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use ringbar_client::{Backoff, Dict, Event, Value};
use ringbar_protocol::codec::{self, Serializer};
use tokio::sync::mpsc::{self, error::TrySendError};

use crate::config::{Forward, MessageForwarder};
use crate::figures::{Figures, bump, drop_one};
use crate::http::HttpClient;

/// The first wait before a retry; it doubles up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);
/// The longest wait before a retry.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// The targets of one MessageForwarder, one per subscription.
pub(crate) struct Targets {
    targets: Vec<Target>,
    figures: Arc<Figures>,
}

/// Where one subscription's events go.
struct Target {
    url: String,
    queue: mpsc::Sender<bytes::Bytes>,
    max: usize,
    /// Whether the queue was full at the last event (logged once a spell).
    full: bool,
}

/// What a target's task needs to deliver.
struct Delivery {
    forward: Forward,
    forwarder: Arc<MessageForwarder>,
    http: HttpClient,
    figures: Arc<Figures>,
    worker: String,
}

impl Targets {
    /// Starts one delivery task per subscription of `forwarder` on the
    /// current runtime.
    pub(crate) fn start(
        forwarder: &MessageForwarder,
        http: &HttpClient,
        figures: &Arc<Figures>,
        worker: &str,
    ) -> Self {
        let shared = Arc::new(forwarder.clone());
        let max = forwarder.max_queued_events.max(1);
        let targets = forwarder
            .subscriptions
            .iter()
            .map(|forward| {
                let (queue, events) = mpsc::channel(max);
                let delivery = Delivery {
                    forward: forward.clone(),
                    forwarder: shared.clone(),
                    http: http.clone(),
                    figures: figures.clone(),
                    worker: worker.to_owned(),
                };
                tokio::spawn(delivery.run(events));
                Target {
                    url: forward.url.to_string(),
                    queue,
                    max,
                    full: false,
                }
            })
            .collect();
        Targets {
            targets,
            figures: figures.clone(),
        }
    }

    /// Queues `event` for the targets at `indexes` (the subscriptions it
    /// came by); a full queue drops it for that target.
    pub(crate) fn forward(&mut self, event: &Event, indexes: &[usize], worker: &str) {
        bump(&self.figures.events);
        let body = match body(&event.args, &event.kwargs) {
            Ok(body) => body,
            Err(error) => {
                tracing::warn!(
                    "Bridge worker {worker}: an event cannot be encoded ({error}); dropped."
                );
                bump(&self.figures.dropped_failed);
                return;
            }
        };
        for &index in indexes {
            let Some(target) = self.targets.get_mut(index) else {
                continue;
            };
            match target.queue.try_send(body.clone()) {
                Ok(()) => {
                    bump(&self.figures.queued);
                    target.full = false;
                }
                Err(TrySendError::Full(_) | TrySendError::Closed(_)) => {
                    bump(&self.figures.dropped_full);
                    if !target.full {
                        target.full = true;
                        tracing::warn!(
                            "Bridge worker {worker}: {} events wait for {}: further events to it are dropped until it catches up.",
                            target.max,
                            target.url
                        );
                    }
                }
            }
        }
    }
}

impl Delivery {
    /// Sends each queued event in turn until the queue closes.
    async fn run(self, mut events: mpsc::Receiver<bytes::Bytes>) {
        let mut failing = false;
        while let Some(body) = events.recv().await {
            drop_one(&self.figures.queued);
            match self.deliver(body).await {
                Ok(()) => {
                    bump(&self.figures.forwarded);
                    if failing {
                        failing = false;
                        tracing::info!(
                            "Bridge worker {}: {} takes events again.",
                            self.worker,
                            self.forward.url
                        );
                    }
                }
                Err(error) => {
                    bump(&self.figures.dropped_failed);
                    if !failing {
                        failing = true;
                        tracing::warn!(
                            "Bridge worker {}: cannot forward events of {} to {} ({error}); each is tried {} times, then dropped.",
                            self.worker,
                            self.forward.topic,
                            self.forward.url,
                            self.forwarder.retries + 1
                        );
                    }
                }
            }
        }
    }

    /// Sends one event, with retries; the last failure when all fail.
    async fn deliver(&self, body: bytes::Bytes) -> Result<(), String> {
        let mut backoff = Backoff::new(FIRST_RETRY_DELAY, MAX_RETRY_DELAY, Duration::MAX);
        let mut attempt = 0;
        loop {
            let request = self
                .http
                .request(self.forwarder.method.clone(), self.forward.url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
            let (error, retry) = match self.http.send(request).await {
                Ok(response) => match self.forwarder.expected_code {
                    Some(code) if response.status == code => return Ok(()),
                    None if response.status < 500 => return Ok(()),
                    Some(code) => (
                        format!("it answered {}, not the expected {code}", response.status),
                        response.status >= 500,
                    ),
                    None => (format!("it answered {}", response.status), true),
                },
                Err(error) => (error.to_string(), true),
            };
            if !retry || attempt >= self.forwarder.retries {
                return Err(error);
            }
            attempt += 1;
            bump(&self.figures.retries);
            tokio::time::sleep(backoff.after_run(Duration::ZERO)).await;
        }
    }
}

/// The request body Crossbar.io sends for an event: `{"args": [...],
/// "kwargs": {...}}`, compact JSON, UTF-8.
pub(crate) fn body(args: &[Value], kwargs: &Dict) -> Result<bytes::Bytes, String> {
    let mut document = Dict::new();
    document.insert("args", Value::List(args.to_vec()));
    document.insert("kwargs", Value::Dict(kwargs.clone()));
    let mut out = BytesMut::new();
    codec::encode_value(Serializer::Json, &Value::Dict(document), &mut out)
        .map_err(|e| e.to_string())?;
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bodies_are_crossbars_compact_json() {
        let kwargs: Dict = [("b", Value::from("é"))].into_iter().collect();
        assert_eq!(
            &body(&[Value::from(1u64), Value::from("x")], &kwargs).unwrap()[..],
            "{\"args\":[1,\"x\"],\"kwargs\":{\"b\":\"é\"}}".as_bytes()
        );
        assert_eq!(
            &body(&[], &Dict::new()).unwrap()[..],
            b"{\"args\":[],\"kwargs\":{}}"
        );
    }
}
