//! A `web` transport: an HTTP/1.1 server whose paths serve
//! WAMP-over-WebSocket, static files, JSON, redirects or node information,
//! as Crossbar.io's web transport does.
//!
//! One task per connection reads requests in order (pipelined ones wait in
//! its buffer), hands each with its whole body to its path service, and
//! writes the response before reading the next: answers go out in request
//! order by construction. Answers to pipelined requests go out together
//! (see [`reply::Batch`]). Requests are bounded by the transport's
//! [`HttpLimits`](ringbar_protocol::http::HttpLimits) and timeouts.

mod caller;
mod embedded;
mod nodeinfo;
mod publisher;
mod reply;
mod rest;
mod route;
mod service;
mod signed;
mod static_files;
mod webhook;

use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use ringbar_protocol::http::{self, BodyDecoder, BodyFraming, RequestHead};
use ringbar_protocol::websocket::handshake;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{Ticket, websocket};
use crate::config::{WebOptions, WebService, WebTransport};
use crate::runtime::io::Stream;
use ringbar_router::core::Core;
use ringbar_router::local::peer::Peer;

use reply::{Answering, Batch};
use service::{HttpRequest, HttpResponse};

/// Bytes read at a time: a typical request head in one read. A speed
/// choice; the web options' HTTP limits bound what a peer may send.
const READ_BYTES: usize = 8 * 1024;

/// Serves one HTTP connection on a web transport; `buf` holds what was
/// already read from it (by the universal transport's sniffer). When
/// `shutdown` turns true, a connection waiting for its next request closes
/// and one answering says `Connection: close`.
pub(super) async fn serve(
    core: Rc<Core>,
    stream: Stream,
    peer: Peer,
    web: &WebTransport,
    mut buf: BytesMut,
    mut shutdown: watch::Receiver<bool>,
    ticket: Ticket,
) {
    let options = &web.options;
    let tls = matches!(stream, Stream::Tls(_));
    let mut served: u32 = 0;
    let mut batch = Batch::default();
    loop {
        let idle = buf.is_empty();
        if idle && !batch.flush(&stream, options).await {
            break;
        }
        let next = read_head(&stream, &mut buf, options, served == 0, &mut batch);
        let read = if idle {
            tokio::select! {
                read = next => read,
                _ = shutdown.wait_for(|stopping| *stopping) => Err(Stop::Quietly),
            }
        } else {
            next.await
        };
        let (head, used) = match read {
            Ok(parsed) => parsed,
            Err(stop) => {
                if batch.flush(&stream, options).await {
                    stop.answer(&stream, &peer, tls, options).await;
                }
                break;
            }
        };
        let route = route::find(&web.paths, head.path());
        if let Some(route::Route {
            service: WebService::WebSocket(ws),
            ..
        }) = &route
            && head.list_contains("Upgrade", "websocket")
        {
            if !batch.flush(&stream, options).await {
                break;
            }
            let limits = websocket::limits(&ws.options);
            match handshake::parse_request(&buf[..used], &limits) {
                Ok(Some((request, _))) => {
                    // What came after the head (usually nothing) moves to
                    // a buffer of its own: the session must not keep the
                    // head's 8 KiB read buffer for its whole life.
                    let rest = BytesMut::from(&buf[used..]);
                    drop(buf);
                    return websocket::serve(core, stream, peer, ws, Some((request, rest)), ticket)
                        .await;
                }
                Ok(None) => {}
                Err(e) => {
                    let mut out = BytesMut::new();
                    handshake::write_rejection(&e, &mut out);
                    let _ = stream.write_all(vec![out.freeze()]).await;
                }
            }
            break;
        }
        buf.advance(used);
        let allowed = route
            .as_ref()
            .is_some_and(|r| service::allows(r.service, head.method()));
        let has_body = head.framing() != BodyFraming::Empty;
        if has_body && head.expect_continue() && !batch.flush(&stream, options).await {
            break;
        }
        if has_body && head.expect_continue() && !allowed {
            // The client waits for a word before it sends the body: answer
            // without reading it, then close, as RFC 9110 §10.1.1 allows.
            let response = answer(
                &core,
                route.as_ref(),
                &head,
                Bytes::new(),
                &peer,
                tls,
                options,
            )
            .await;
            reply::write(
                &stream,
                &mut batch,
                Answering::request(&head),
                response,
                false,
                tls,
                options,
            )
            .await;
            break;
        }
        if has_body && head.expect_continue() && buf.is_empty() {
            let mut out = BytesMut::new();
            http::write_head(100, &[], &mut out);
            if stream.write_all(vec![out.freeze()]).await.is_err() {
                break;
            }
        }
        let body = match read_body(&stream, &mut buf, &head, options, &mut batch).await {
            Ok(body) => body,
            Err(stop) => {
                if batch.flush(&stream, options).await {
                    stop.answer(&stream, &peer, tls, options).await;
                }
                break;
            }
        };
        served += 1;
        let answering = answer(&core, route.as_ref(), &head, body, &peer, tls, options);
        let Some(response) = flushing_while(answering, &stream, &mut batch, options).await else {
            break;
        };
        let keep_alive = head.keep_alive()
            && served < options.max_requests_per_connection
            && !*shutdown.borrow();
        let to = Answering::request(&head);
        if !reply::write(&stream, &mut batch, to, response, keep_alive, tls, options).await
            || !keep_alive
        {
            break;
        }
    }
    stream.shutdown();
}

/// Awaits `answer`; if it is not ready at once (a call waits for its
/// callee), writes the responses `batch` holds back meanwhile, so they do
/// not wait for it. `None` when the connection broke.
async fn flushing_while(
    answer: impl Future<Output = HttpResponse>,
    stream: &Stream,
    batch: &mut Batch,
    options: &WebOptions,
) -> Option<HttpResponse> {
    let mut answer = pin!(answer);
    if batch.is_empty() {
        return Some(answer.await);
    }
    match std::future::poll_fn(|cx| Poll::Ready(answer.as_mut().poll(cx))).await {
        Poll::Ready(response) => Some(response),
        Poll::Pending => match batch.flush(stream, options).await {
            true => Some(answer.await),
            false => None,
        },
    }
}

/// The answer of the service on `route`, or 404 where there is none;
/// logged with `access_log`.
async fn answer(
    core: &Rc<Core>,
    route: Option<&route::Route<'_>>,
    head: &RequestHead,
    body: Bytes,
    peer: &Peer,
    tls: bool,
    options: &WebOptions,
) -> HttpResponse {
    let request = HttpRequest {
        head,
        body,
        rest: route.map_or("", |r| r.rest.as_str()),
        peer,
        tls,
    };
    let response = match route {
        Some(route) => service::respond(core, route.service, &request).await,
        None => HttpResponse::error(404, "no service on this path"),
    };
    if options.access_log {
        tracing::info!(
            peer = %request.peer,
            method = head.method(),
            target = head.target(),
            request_body_bytes = request.body.len(),
            status = response.status,
            "HTTP request"
        );
    }
    response
}

/// Why a connection ends before its next response.
enum Stop {
    /// The peer closed, or stayed quiet between requests: nothing to say.
    Quietly,
    /// Answer with this status and message, then close.
    Refuse(u16, String),
}

impl Stop {
    /// Writes the refusal, if any, and logs it.
    async fn answer(self, stream: &Stream, peer: &Peer, tls: bool, options: &WebOptions) {
        let Stop::Refuse(status, message) = self else {
            return;
        };
        tracing::info!(%peer, status, reason = %message, "HTTP request refused");
        let response = HttpResponse::error(status, &message);
        let mut batch = Batch::default();
        reply::write(
            stream,
            &mut batch,
            Answering::REFUSED,
            response,
            false,
            tls,
            options,
        )
        .await;
    }
}

/// Reads until a whole request head is at the front of `buf`. The first
/// request of a connection, and any request once its first byte is here,
/// has `request_head_timeout_ms`; between requests a connection may stay
/// quiet for `client_timeout_ms`.
async fn read_head(
    stream: &Stream,
    buf: &mut BytesMut,
    options: &WebOptions,
    first: bool,
    batch: &mut Batch,
) -> Result<(RequestHead, usize), Stop> {
    let head_timeout = Duration::from_millis(options.request_head_timeout_ms);
    let mut deadline = Instant::now()
        + if first || !buf.is_empty() {
            head_timeout
        } else {
            Duration::from_millis(options.client_timeout_ms)
        };
    let mut started = !buf.is_empty();
    loop {
        match http::parse_head(buf, &options.limits) {
            Ok(Some(parsed)) => return Ok(parsed),
            Ok(None) => {}
            Err(e) => return Err(Stop::Refuse(e.status(), e.to_string())),
        }
        match read_more(stream, buf, deadline, batch, options).await {
            Read::Data if !started => {
                started = true;
                if !first {
                    deadline = Instant::now() + head_timeout;
                }
            }
            Read::Data => {}
            Read::Closed => return Err(Stop::Quietly),
            Read::TimedOut if started => {
                return Err(Stop::Refuse(
                    408,
                    format!(
                        "request head not complete within {} ms",
                        options.request_head_timeout_ms
                    ),
                ));
            }
            Read::TimedOut => return Err(Stop::Quietly),
        }
    }
}

/// Reads the body `head` announces, within `request_body_timeout_ms`.
async fn read_body(
    stream: &Stream,
    buf: &mut BytesMut,
    head: &RequestHead,
    options: &WebOptions,
    batch: &mut Batch,
) -> Result<Bytes, Stop> {
    let mut decoder = BodyDecoder::new(head.framing(), &options.limits);
    let mut body = BytesMut::new();
    let deadline = Instant::now() + Duration::from_millis(options.request_body_timeout_ms);
    loop {
        match decoder.decode(buf, &mut body) {
            Ok(true) => return Ok(body.freeze()),
            Ok(false) => {}
            Err(e) => return Err(Stop::Refuse(e.status(), e.to_string())),
        }
        match read_more(stream, buf, deadline, batch, options).await {
            Read::Data => {}
            Read::Closed => return Err(Stop::Quietly),
            Read::TimedOut => {
                return Err(Stop::Refuse(
                    408,
                    format!(
                        "request body not complete within {} ms",
                        options.request_body_timeout_ms
                    ),
                ));
            }
        }
    }
}

/// What one read brought.
enum Read {
    Data,
    Closed,
    TimedOut,
}

/// Reads once into `buf`, unless `deadline` passes first (then `buf` is
/// lost, which is fine: the connection is closed). What `batch` holds back
/// goes out first: the client may wait for it before it sends more.
async fn read_more(
    stream: &Stream,
    buf: &mut BytesMut,
    deadline: Instant,
    batch: &mut Batch,
    options: &WebOptions,
) -> Read {
    if !batch.flush(stream, options).await {
        return Read::Closed;
    }
    let read = stream.read(std::mem::take(buf), READ_BYTES);
    match tokio::time::timeout_at(deadline, read).await {
        Err(_) => Read::TimedOut,
        Ok((result, b)) => {
            *buf = b;
            match result {
                Ok(n) if n > 0 => Read::Data,
                _ => Read::Closed,
            }
        }
    }
}
