//! What a fuzzed client knows: the ids the router gave it, the requests it
//! waits answers for; and the checks on every message it reads.

use std::collections::{BTreeMap, HashSet};

use ringbar_protocol::codec::Serializer;
use ringbar_protocol::id::{RegistrationId, RequestId, SessionId, SubscriptionId};
use ringbar_protocol::message::{Message, MessageType};
use ringbar_protocol::value::Value;

/// One client connection's view of its session.
pub(crate) struct Client {
    /// Which slot it is in (for messages).
    pub(crate) slot: usize,
    /// Its serializer.
    pub(crate) serializer: Serializer,
    /// Its session id, once WELCOME came.
    pub(crate) session: Option<SessionId>,
    next_request: u64,
    /// Requests not answered yet, by (request type code, request id), with
    /// how many of them are waiting.
    waiting: BTreeMap<(u64, u64), usize>,
    /// Subscriptions SUBSCRIBED gave it, still held.
    pub(crate) subscriptions: Vec<SubscriptionId>,
    /// Every subscription it ever held: an EVENT names one of these.
    subscribed: HashSet<SubscriptionId>,
    /// Registrations REGISTERED gave it, still held.
    pub(crate) registrations: Vec<RegistrationId>,
    /// Every registration it ever held: an INVOCATION names one of these
    /// (one routed before an UNREGISTER may still come after it).
    registered: HashSet<RegistrationId>,
    /// INVOCATIONs it got and did not answer yet.
    pub(crate) invocations: Vec<RequestId>,
    /// The call answered last.
    pub(crate) last_answered_call: Option<RequestId>,
    /// What it read: message names, and ERRORs by URI.
    pub(crate) seen: Seen,
}

/// How many of each message clients read (ERRORs by URI, progressive
/// RESULTs apart): which paths a script took.
pub(crate) type Seen = BTreeMap<String, usize>;

impl Client {
    /// A client in `slot` that speaks `serializer`.
    pub(crate) fn new(slot: usize, serializer: Serializer) -> Self {
        Self {
            slot,
            serializer,
            session: None,
            next_request: 1,
            waiting: BTreeMap::new(),
            subscriptions: Vec::new(),
            subscribed: HashSet::new(),
            registrations: Vec::new(),
            registered: HashSet::new(),
            invocations: Vec::new(),
            last_answered_call: None,
            seen: Seen::new(),
        }
    }

    /// A fresh request id, whose answer to a `kind` request is awaited.
    pub(crate) fn request(&mut self, kind: MessageType) -> RequestId {
        let request = RequestId::new(self.next_request).unwrap_or_default();
        self.next_request += 1;
        self.expect(kind, request);
        request
    }

    /// A request id that needs no answer (PUBLISH without acknowledge).
    pub(crate) fn unanswered_request(&mut self) -> RequestId {
        let request = RequestId::new(self.next_request).unwrap_or_default();
        self.next_request += 1;
        request
    }

    /// Awaits the answer to a `kind` request `request` (an id used before).
    pub(crate) fn expect(&mut self, kind: MessageType, request: RequestId) {
        *self
            .waiting
            .entry((kind.code(), request.get()))
            .or_default() += 1;
    }

    /// The calls in flight (asked, not answered).
    pub(crate) fn calls(&self) -> Vec<RequestId> {
        let call = MessageType::Call.code();
        self.waiting
            .keys()
            .filter(|(kind, _)| *kind == call)
            .filter_map(|(_, request)| RequestId::new(*request))
            .collect()
    }

    /// Requests still waiting for their answer.
    pub(crate) fn unanswered(&self) -> Vec<(MessageType, u64)> {
        self.waiting
            .keys()
            .filter_map(|(kind, request)| Some((MessageType::from_code(*kind)?, *request)))
            .collect()
    }

    /// Takes the answer to a `kind` request: it must be awaited (else the
    /// router answered it twice, or answered what was never asked).
    fn answered(&mut self, kind: MessageType, request: RequestId, message: &Message) {
        let key = (kind.code(), request.get());
        match self.waiting.get_mut(&key) {
            Some(n) if *n > 1 => *n -= 1,
            Some(_) => {
                self.waiting.remove(&key);
                if kind == MessageType::Call {
                    self.last_answered_call = Some(request);
                }
            }
            None => unexpected(
                self.slot,
                &format!(
                    "an answer to {} {request} that was not awaited",
                    kind.name()
                ),
                message,
            ),
        }
    }

    /// Checks one message the router sent this client, and learns from
    /// it.
    pub(crate) fn on_message(&mut self, message: Message) {
        let name = match &message {
            Message::Error(e) => format!("ERROR {}", e.error),
            Message::Result(r) if r.details.get("progress").is_some() => "RESULT progress".into(),
            other => other.message_type().name().to_owned(),
        };
        *self.seen.entry(name).or_default() += 1;
        match &message {
            Message::Welcome(w) => {
                assert!(
                    self.session.is_none(),
                    "slot {}: a second WELCOME",
                    self.slot
                );
                self.session = Some(w.session);
            }
            Message::Abort(_) | Message::Goodbye(_) => {}
            Message::Subscribed(s) => {
                self.answered(MessageType::Subscribe, s.request, &message);
                if !self.subscriptions.contains(&s.subscription) {
                    self.subscriptions.push(s.subscription);
                }
                self.subscribed.insert(s.subscription);
            }
            Message::Unsubscribed(u) => {
                self.answered(MessageType::Unsubscribe, u.request, &message)
            }
            Message::Published(p) => self.answered(MessageType::Publish, p.request, &message),
            Message::Registered(r) => {
                self.answered(MessageType::Register, r.request, &message);
                self.registrations.push(r.registration);
                self.registered.insert(r.registration);
            }
            Message::Unregistered(u) => self.answered(MessageType::Unregister, u.request, &message),
            Message::Result(r) => {
                let progress = r.details.get("progress").and_then(Value::as_bool) == Some(true);
                let key = (MessageType::Call.code(), r.request.get());
                if !progress {
                    self.answered(MessageType::Call, r.request, &message);
                } else if !self.waiting.contains_key(&key) {
                    unexpected(
                        self.slot,
                        "a progressive RESULT after the call ended",
                        &message,
                    );
                }
            }
            Message::Error(e) => match MessageType::from_code(e.request_type) {
                // A bad CANCEL mode is answered with the call's id; the
                // call goes on.
                Some(MessageType::Cancel) => {}
                Some(
                    kind @ (MessageType::Subscribe
                    | MessageType::Unsubscribe
                    | MessageType::Publish
                    | MessageType::Register
                    | MessageType::Unregister
                    | MessageType::Call),
                ) => self.answered(kind, e.request, &message),
                _ => unexpected(self.slot, "an ERROR for no request", &message),
            },
            Message::Event(e) => {
                if !self.subscribed.contains(&e.subscription) {
                    unexpected(
                        self.slot,
                        "an EVENT of a subscription it never held",
                        &message,
                    );
                }
            }
            Message::Invocation(i) => {
                if !self.registered.contains(&i.registration) {
                    unexpected(
                        self.slot,
                        "an INVOCATION of a registration it never held",
                        &message,
                    );
                }
                self.invocations.push(i.request);
            }
            Message::Interrupt(_) => {}
            _ => unexpected(self.slot, "a message a router never sends", &message),
        }
    }

    /// Every subscription it ever held.
    pub(crate) fn subscribed(&self) -> impl Iterator<Item = SubscriptionId> + '_ {
        self.subscribed.iter().copied()
    }

    /// The client forgets a subscription it unsubscribes from.
    pub(crate) fn unsubscribing(&mut self, subscription: SubscriptionId) {
        self.subscriptions.retain(|s| *s != subscription);
    }

    /// The client forgets a registration it unregisters.
    pub(crate) fn unregistering(&mut self, registration: RegistrationId) {
        self.registrations.retain(|r| *r != registration);
    }
}

/// An invariant broke: a client got what the router must never send it.
// Failing loudly is this harness's job: the fuzzer and the tests catch it.
#[allow(clippy::panic)]
fn unexpected(slot: usize, what: &str, message: &dyn std::fmt::Debug) -> ! {
    panic!("slot {slot} got {what}: {message:?}")
}

#[cfg(test)]
mod tests {
    use ringbar_protocol::message::{Payload, Result as CallResult};
    use ringbar_protocol::value::Dict;

    use super::*;

    fn result(request: RequestId) -> Message {
        Message::Result(CallResult {
            request,
            details: Dict::new(),
            payload: Payload::Empty,
        })
    }

    #[test]
    #[should_panic(expected = "an answer to CALL 1 that was not awaited")]
    fn a_call_answered_twice_fails() {
        let mut client = Client::new(0, Serializer::Json);
        let request = client.request(MessageType::Call);
        client.on_message(result(request));
        assert!(client.unanswered().is_empty());
        client.on_message(result(request));
    }
}
