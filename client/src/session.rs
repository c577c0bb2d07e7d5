//! A WAMP session: joining a realm, the client roles' requests, and the
//! invocations and events the router delivers.

use std::collections::VecDeque;
use std::time::Duration;

use ringbar_protocol::codec::{self, Serializer};
use ringbar_protocol::id::RequestId;
use ringbar_protocol::message::{
    self as wamp, Authenticate, Call, Goodbye, Hello, Message, Payload, Publish, Register,
    Subscribe, Yield,
};
use ringbar_protocol::value::{Dict, Value};

use crate::auth::Credentials;
use crate::connection::Connection;
use crate::error::Error;
use crate::publication::Publication;
use crate::router_key::{RouterChallenge, RouterKey};
use crate::tls::TlsRoots;
use crate::url::Url;

/// How many invocations and events may wait for [`Session::next`] while a
/// request waits for its answer; beyond it the session fails
/// ([`Error::Backlog`]) rather than grow without bound.
pub const MAX_WAITING: usize = 1024;

/// The most bytes [`Session::publish_all`] queues before it writes them:
/// one write per batch, not per message, and a bounded buffer.
const MAX_BATCH_BYTES: usize = 256 * 1024;

/// How long [`Session::leave`] waits for the router's GOODBYE.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);

/// The client roles announced in HELLO.
const ROLES: [&str; 4] = ["caller", "callee", "publisher", "subscriber"];

/// A joined session.
#[derive(Debug)]
pub struct Session {
    connection: Connection,
    realm: String,
    session_id: u64,
    authid: String,
    authrole: String,
    last_request: u64,
    waiting: VecDeque<Incoming>,
    router_key: Option<[u8; 32]>,
}

/// How [`Session::join_with`] connects and what it asks of the router.
#[derive(Debug, Clone, Default)]
pub struct JoinOptions {
    /// The certificates a `wss://` router's must chain to (`None`: the
    /// system's roots).
    pub roots: Option<TlsRoots>,
    /// The key a router must prove it holds (WAMP-cryptosign router
    /// authentication; only with [`Credentials::Cryptosign`]).
    pub router_key: RouterKey,
    /// Announce `callee.features.call_canceling`: the application answers
    /// [`Incoming::Interrupt`] (else the router does not send INTERRUPT).
    pub call_canceling: bool,
}

/// What the router delivers unasked.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A call of a procedure this session registered: answer it with
    /// [`Session::yield_result`] or [`Session::yield_error`].
    Invocation(Invocation),
    /// An event of a topic this session subscribed to.
    Event(Event),
    /// The router asks to stop a running invocation (the call's timeout
    /// passed, or its caller cancelled it): answer it with an ERROR (e.g.
    /// `wamp.error.canceled`) as soon as the work stopped.
    Interrupt(Interrupt),
}

/// INTERRUPT.
#[derive(Debug, Clone, PartialEq)]
pub struct Interrupt {
    /// The invocation to stop.
    pub request: u64,
    /// `Options|dict`: `mode` (`kill`, `killnowait`), `reason`.
    pub options: Dict,
}

/// INVOCATION, its payload decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The request to answer.
    pub request: u64,
    /// The registration called.
    pub registration: u64,
    /// `Details|dict`: `caller_authid`, `caller_authrole` when disclosed.
    pub details: Dict,
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments.
    pub kwargs: Dict,
}

/// EVENT, its payload decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The subscription it came by.
    pub subscription: u64,
    /// `Details|dict`.
    pub details: Dict,
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments.
    pub kwargs: Dict,
}

/// RESULT's payload decoded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallResult {
    /// Positional results.
    pub args: Vec<Value>,
    /// Keyword results.
    pub kwargs: Dict,
}

impl Session {
    /// Connects to `url` and joins `realm` with `credentials`.
    pub async fn join(url: &Url, realm: &str, credentials: &Credentials) -> Result<Self, Error> {
        Self::join_with(url, realm, credentials, &JoinOptions::default()).await
    }

    /// [`Session::join`] with `options`: the TLS roots, and the key the
    /// router must prove before this session signs anything.
    pub async fn join_with(
        url: &Url,
        realm: &str,
        credentials: &Credentials,
        options: &JoinOptions,
    ) -> Result<Self, Error> {
        let mut connection = Connection::open_with(url, options.roots.as_ref()).await?;
        let tls_exporter = connection.tls_exporter();
        let router = match credentials {
            Credentials::Cryptosign { .. } => {
                RouterChallenge::new(options.router_key, tls_exporter)?
            }
            _ if options.router_key != RouterKey::Unchecked => {
                return Err(Error::RouterNotProven {
                    url: url.to_string(),
                    reason: "a router proves its key only to WAMP-cryptosign sessions".to_owned(),
                });
            }
            _ => None,
        };
        let mut router_key = None;
        let roles: Dict = ROLES
            .into_iter()
            .map(|role| {
                let mut details = Dict::new();
                if role == "callee" && options.call_canceling {
                    let features: Dict = [("call_canceling", Value::Bool(true))]
                        .into_iter()
                        .collect();
                    details.insert("features", Value::Dict(features));
                }
                (role, Value::Dict(details))
            })
            .collect();
        let mut details: Dict = [("roles", Value::Dict(roles))].into_iter().collect();
        credentials.hello_details(&mut details, router.as_ref());
        connection
            .send(&Message::Hello(Hello {
                realm: realm.into(),
                details,
            }))
            .await?;
        loop {
            match connection.receive().await? {
                Message::Challenge(challenge) => {
                    if let Some(router) = &router {
                        router_key = Some(router.verify(&url.text, &challenge.extra)?);
                    }
                    let signature = credentials.answer(
                        challenge.authmethod.as_str(),
                        &challenge.extra,
                        tls_exporter,
                    )?;
                    connection
                        .send(&Message::Authenticate(Authenticate {
                            signature: signature.into(),
                            extra: Dict::new(),
                        }))
                        .await?;
                }
                Message::Welcome(welcome) => {
                    if router.is_some() && router_key.is_none() {
                        return Err(Error::RouterNotProven {
                            url: url.to_string(),
                            reason: "it welcomed the session without a CHALLENGE".to_owned(),
                        });
                    }
                    let text = |key: &str| {
                        welcome
                            .details
                            .get(key)
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned()
                    };
                    return Ok(Session {
                        authid: text("authid"),
                        authrole: text("authrole"),
                        session_id: welcome.session.get(),
                        connection,
                        realm: realm.to_owned(),
                        last_request: 0,
                        waiting: VecDeque::new(),
                        router_key,
                    });
                }
                Message::Abort(abort) => {
                    return Err(Error::Refused {
                        realm: realm.to_owned(),
                        reason: abort.reason.as_str().to_owned(),
                        message: abort
                            .details
                            .get("message")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                    });
                }
                other => {
                    return Err(Error::Protocol(format!(
                        "expected WELCOME, CHALLENGE or ABORT from {url}, got {other:?}"
                    )));
                }
            }
        }
    }

    /// The session id WELCOME gave.
    pub fn id(&self) -> u64 {
        self.session_id
    }

    /// The realm joined.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The authid the router gave.
    pub fn authid(&self) -> &str {
        &self.authid
    }

    /// The authrole the router gave.
    pub fn authrole(&self) -> &str {
        &self.authrole
    }

    /// The public key the router proved it holds, when
    /// [`JoinOptions::router_key`] asked for one.
    pub fn router_key(&self) -> Option<[u8; 32]> {
        self.router_key
    }

    /// Calls `procedure` and waits for its result.
    pub async fn call(
        &mut self,
        procedure: &str,
        args: Vec<Value>,
        kwargs: Dict,
    ) -> Result<CallResult, Error> {
        self.call_with(procedure, args, kwargs, Dict::new()).await
    }

    /// [`Session::call`] with CALL options (e.g. `timeout` in ms, which
    /// the router enforces).
    pub async fn call_with(
        &mut self,
        procedure: &str,
        args: Vec<Value>,
        kwargs: Dict,
        options: Dict,
    ) -> Result<CallResult, Error> {
        let request = self.next_request()?;
        let message = Message::Call(Call {
            request,
            options,
            procedure: procedure.into(),
            payload: payload(&args, &kwargs)?,
        });
        match self
            .request(message, request, || format!("call '{procedure}'"))
            .await?
        {
            Message::Result(result) => {
                let (args, kwargs) = decode_payload(&result.payload)?;
                Ok(CallResult { args, kwargs })
            }
            other => Err(unexpected("RESULT", &other)),
        }
    }

    /// Registers `procedure` with `options` (e.g. `disclose_caller`);
    /// returns the registration id.
    pub async fn register(&mut self, procedure: &str, options: Dict) -> Result<u64, Error> {
        let request = self.next_request()?;
        let message = Message::Register(Register {
            request,
            options,
            procedure: procedure.into(),
        });
        match self
            .request(message, request, || format!("register '{procedure}'"))
            .await?
        {
            Message::Registered(registered) => Ok(registered.registration.get()),
            other => Err(unexpected("REGISTERED", &other)),
        }
    }

    /// Subscribes to `topic`; returns the subscription id.
    pub async fn subscribe(&mut self, topic: &str, options: Dict) -> Result<u64, Error> {
        let request = self.next_request()?;
        let message = Message::Subscribe(Subscribe {
            request,
            options,
            topic: topic.into(),
        });
        match self
            .request(message, request, || format!("subscribe to '{topic}'"))
            .await?
        {
            Message::Subscribed(subscribed) => Ok(subscribed.subscription.get()),
            other => Err(unexpected("SUBSCRIBED", &other)),
        }
    }

    /// Publishes to `topic` and waits for the router's acknowledgement
    /// (so that a refusal is an error here).
    pub async fn publish(
        &mut self,
        topic: &str,
        args: Vec<Value>,
        kwargs: Dict,
        mut options: Dict,
    ) -> Result<(), Error> {
        let request = self.next_request()?;
        options.insert("acknowledge", true);
        let message = Message::Publish(Publish {
            request,
            options,
            topic: topic.into(),
            payload: payload(&args, &kwargs)?,
        });
        match self
            .request(message, request, || format!("publish to '{topic}'"))
            .await?
        {
            Message::Published(_) => Ok(()),
            other => Err(unexpected("PUBLISHED", &other)),
        }
    }

    /// Publishes every one of `publications` in order, each with
    /// `acknowledge`, without waiting between them (one round trip for
    /// all, one write per [`MAX_BATCH_BYTES`]), and then waits for every
    /// PUBLISHED or ERROR. One outcome per publication: `Ok`, or why it
    /// did not go out (the router's refusal, or it cannot be encoded for
    /// this connection, e.g. longer than the router takes); `Err` when the
    /// connection failed.
    pub async fn publish_all(
        &mut self,
        publications: Vec<Publication>,
    ) -> Result<Vec<Result<(), Error>>, Error> {
        let count = publications.len();
        let mut outcomes: Vec<Option<Result<(), Error>>> = (0..count).map(|_| None).collect();
        let mut pending = count;
        let mut first = None;
        let mut topics = Vec::with_capacity(count);
        for (publication, outcome) in publications.into_iter().zip(&mut outcomes) {
            let request = self.next_request()?;
            first.get_or_insert(request.get());
            let mut options = publication.options;
            options.insert("acknowledge", true);
            // A publication this connection cannot carry is its own
            // failure, not the batch's (nothing of it was queued).
            let queued = self.connection.queue(&Message::Publish(Publish {
                request,
                options,
                topic: publication.topic.as_str().into(),
                payload: publication.payload,
            }));
            if let Err(error) = queued {
                *outcome = Some(Err(error));
                pending -= 1;
            }
            if self.connection.queued_bytes() >= MAX_BATCH_BYTES {
                self.connection.flush().await?;
            }
            topics.push(publication.topic);
        }
        self.connection.flush().await?;
        let first = first.unwrap_or_default();
        // Request ids of one batch are consecutive.
        let index = |request: RequestId| {
            request
                .get()
                .checked_sub(first)
                .and_then(|i| usize::try_from(i).ok())
                .filter(|&i| i < count)
        };
        while pending > 0 {
            let message = self.connection.receive().await?;
            let answered = match &message {
                Message::Published(published) => index(published.request).map(|i| (i, Ok(()))),
                Message::Error(error) => index(error.request).map(|i| {
                    let topic = topics.get(i).map(String::as_str).unwrap_or_default();
                    (i, Err(refusal(error, format!("publish to '{topic}'"))))
                }),
                _ => None,
            };
            match answered {
                Some((i, outcome)) => {
                    if let Some(slot) = outcomes.get_mut(i).filter(|slot| slot.is_none()) {
                        *slot = Some(outcome);
                        pending -= 1;
                    }
                }
                None => self.keep(message).await?,
            }
        }
        Ok(outcomes.into_iter().flatten().collect())
    }

    /// The next invocation or event. Cancel-safe: nothing is lost when the
    /// future is dropped (e.g. in a `select!` with a timer).
    pub async fn next(&mut self) -> Result<Incoming, Error> {
        if let Some(incoming) = self.waiting.pop_front() {
            return Ok(incoming);
        }
        loop {
            let message = self.connection.receive().await?;
            if let Some(incoming) = self.deliverable(message).await? {
                return Ok(incoming);
            }
        }
    }

    /// Answers invocation `request` with a result.
    pub async fn yield_result(
        &mut self,
        request: u64,
        args: Vec<Value>,
        kwargs: Dict,
    ) -> Result<(), Error> {
        self.queue_yield_result(request, args, kwargs)?;
        self.connection.flush().await
    }

    /// Queues the result of invocation `request` to go out with the next
    /// [`Session::flush`] (or the next message this session sends), so
    /// that answers ready at the same time cost one write. Bound the batch
    /// with [`Session::queued_bytes`].
    pub fn queue_yield_result(
        &mut self,
        request: u64,
        args: Vec<Value>,
        kwargs: Dict,
    ) -> Result<(), Error> {
        self.connection.queue(&Message::Yield(Yield {
            request: request_id(request)?,
            options: Dict::new(),
            payload: payload(&args, &kwargs)?,
        }))
    }

    /// Answers invocation `request` with the error `uri` and a message.
    pub async fn yield_error(
        &mut self,
        request: u64,
        uri: &str,
        message: &str,
    ) -> Result<(), Error> {
        self.yield_error_with(request, uri, vec![Value::from(message)], Dict::new())
            .await
    }

    /// Answers invocation `request` with the error `uri` carrying `args`
    /// and `kwargs` (details a caller can match on).
    pub async fn yield_error_with(
        &mut self,
        request: u64,
        uri: &str,
        args: Vec<Value>,
        kwargs: Dict,
    ) -> Result<(), Error> {
        self.queue_yield_error_with(request, uri, args, kwargs)?;
        self.connection.flush().await
    }

    /// Queues the error answer to invocation `request` as
    /// [`Session::queue_yield_result`] queues a result.
    pub fn queue_yield_error_with(
        &mut self,
        request: u64,
        uri: &str,
        args: Vec<Value>,
        kwargs: Dict,
    ) -> Result<(), Error> {
        self.connection.queue(&Message::Error(wamp::Error {
            request_type: u64::from(wamp::MessageType::Invocation as u8),
            request: request_id(request)?,
            details: Dict::new(),
            error: uri.into(),
            payload: payload(&args, &kwargs)?,
        }))
    }

    /// Writes what the `queue_*` methods queued, in order.
    pub async fn flush(&mut self) -> Result<(), Error> {
        self.connection.flush().await
    }

    /// The bytes queued and not yet written.
    pub fn queued_bytes(&self) -> usize {
        self.connection.queued_bytes()
    }

    /// Leaves the realm (GOODBYE, waiting up to 5 s for the router's) and
    /// closes the connection.
    pub async fn leave(mut self) -> Result<(), Error> {
        self.connection
            .send(&Message::Goodbye(Goodbye {
                details: Dict::new(),
                reason: "wamp.close.close_realm".into(),
            }))
            .await?;
        let answered = async {
            loop {
                match self.connection.receive().await {
                    Ok(Message::Goodbye(_)) | Err(Error::Closed(_)) => return Ok(()),
                    Ok(_) => {}
                    Err(error) => return Err(error),
                }
            }
        };
        tokio::time::timeout(LEAVE_TIMEOUT, answered)
            .await
            .map_err(|_| Error::Timeout("waiting for the router's GOODBYE".to_owned()))??;
        self.connection.close().await
    }

    /// Sends `message` and reads until the answer to `request` arrives,
    /// keeping invocations and events for [`Session::next`].
    async fn request(
        &mut self,
        message: Message,
        request: RequestId,
        what: impl Fn() -> String,
    ) -> Result<Message, Error> {
        self.connection.send(&message).await?;
        loop {
            let message = self.connection.receive().await?;
            match &message {
                Message::Error(error) if error.request == request => {
                    return Err(refusal(error, what()));
                }
                Message::Result(r) if r.request == request => return Ok(message),
                Message::Registered(r) if r.request == request => return Ok(message),
                Message::Subscribed(r) if r.request == request => return Ok(message),
                Message::Published(r) if r.request == request => return Ok(message),
                _ => {}
            }
            self.keep(message).await?;
        }
    }

    /// Keeps what of `message` [`Session::next`] delivers while waiting for
    /// an answer.
    async fn keep(&mut self, message: Message) -> Result<(), Error> {
        if let Some(incoming) = self.deliverable(message).await? {
            if self.waiting.len() >= MAX_WAITING {
                return Err(Error::Backlog(MAX_WAITING));
            }
            self.waiting.push_back(incoming);
        }
        Ok(())
    }

    /// What of `message` the application sees; GOODBYE and ABORT end the
    /// session, answers to nothing asked are dropped.
    async fn deliverable(&mut self, message: Message) -> Result<Option<Incoming>, Error> {
        match message {
            Message::Invocation(invocation) => {
                let (args, kwargs) = decode_payload(&invocation.payload)?;
                Ok(Some(Incoming::Invocation(Invocation {
                    request: invocation.request.get(),
                    registration: invocation.registration.get(),
                    details: invocation.details,
                    args,
                    kwargs,
                })))
            }
            Message::Event(event) => {
                let (args, kwargs) = decode_payload(&event.payload)?;
                Ok(Some(Incoming::Event(Event {
                    subscription: event.subscription.get(),
                    details: event.details,
                    args,
                    kwargs,
                })))
            }
            Message::Goodbye(goodbye) => {
                let _ = self
                    .connection
                    .send(&Message::Goodbye(Goodbye {
                        details: Dict::new(),
                        reason: "wamp.close.goodbye_and_out".into(),
                    }))
                    .await;
                Err(Error::Closed(Some(goodbye.reason.as_str().to_owned())))
            }
            Message::Abort(abort) => Err(Error::Closed(Some(abort.reason.as_str().to_owned()))),
            Message::Interrupt(interrupt) => Ok(Some(Incoming::Interrupt(Interrupt {
                request: interrupt.request.get(),
                options: interrupt.options,
            }))),
            Message::Unregistered(_) | Message::Unsubscribed(_) => Ok(None),
            other => Err(Error::Protocol(format!(
                "unexpected message from the router: {other:?}"
            ))),
        }
    }

    fn next_request(&mut self) -> Result<RequestId, Error> {
        self.last_request += 1;
        request_id(self.last_request)
    }
}

/// The error of a request the router answered with ERROR.
fn refusal(error: &wamp::Error, request: String) -> Error {
    let (args, _) = decode_payload(&error.payload).unwrap_or_default();
    Error::Wamp {
        request,
        error: error.error.as_str().to_owned(),
        message: args.first().and_then(Value::as_str).map(str::to_owned),
        args,
    }
}

fn request_id(id: u64) -> Result<RequestId, Error> {
    RequestId::new(id).ok_or_else(|| Error::Protocol(format!("request id {id} is above 2^53")))
}

/// `args` and `kwargs` as a JSON payload (kwargs only when not empty).
pub(crate) fn payload(args: &[Value], kwargs: &Dict) -> Result<Payload, Error> {
    if args.is_empty() && kwargs.is_empty() {
        return Ok(Payload::Empty);
    }
    let kwargs = (!kwargs.is_empty()).then_some(kwargs);
    Payload::from_values(Serializer::Json, args, kwargs)
        .map_err(|e| Error::Arguments(format!("cannot encode the arguments: {e}")))
}

/// A payload's arguments and keyword arguments.
fn decode_payload(payload: &Payload) -> Result<(Vec<Value>, Dict), Error> {
    match payload {
        Payload::Empty => Ok((Vec::new(), Dict::new())),
        Payload::Arguments(arguments) => {
            let bad = |e| Error::Protocol(format!("undecodable arguments: {e}"));
            let args =
                match codec::decode_value(arguments.serializer, &arguments.args).map_err(bad)? {
                    Value::List(args) => args,
                    other => {
                        return Err(Error::Protocol(format!(
                            "the arguments are a {}, not a list",
                            other.type_name()
                        )));
                    }
                };
            let kwargs = match &arguments.kwargs {
                Some(bytes) => {
                    match codec::decode_value(arguments.serializer, bytes).map_err(bad)? {
                        Value::Dict(kwargs) => kwargs,
                        other => {
                            return Err(Error::Protocol(format!(
                                "the keyword arguments are a {}, not a dict",
                                other.type_name()
                            )));
                        }
                    }
                }
                None => Dict::new(),
            };
            Ok((args, kwargs))
        }
        Payload::Transparent(_) => Err(Error::Protocol(
            "a transparent (passthru) payload, which this client does not read".to_owned(),
        )),
    }
}

fn unexpected(expected: &str, got: &Message) -> Error {
    Error::Protocol(format!("expected {expected}, got {got:?}"))
}
