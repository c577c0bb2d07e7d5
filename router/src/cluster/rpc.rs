//! Calls across nodes, the link's half: callees announced like
//! subscriptions (each node holds the others' callees in its registration
//! tables, on the link's core), `single` registrations claimed in the
//! cluster's registrations bucket before their REGISTERED, and a call's
//! parts — INVOCATION, INTERRUPT, RESULT or ERROR — carried to the node of
//! its callee or caller. A call keeps its caller session, request id and
//! serial from end to end, so each core sees it as it would a local one.

use std::collections::HashMap;

use ringbar_protocol::id::{RequestId, SessionId};
use ringbar_protocol::str::Str;
use ringbar_protocol::uri::UriPattern;

use super::calls::{Incoming, Outgoing};
use super::link::{Link, Output};
use super::wire::{
    CallId, ClusterMessage, Interest, Procedure, RemoteAnswer, RemoteInterrupt, RemoteInvoke,
};
use crate::core::dealer::calls::{Answer, CallKey, CancelMode, Interrupt, Invoke, Outcome};
use crate::core::dealer::invocation::error_answer;
use crate::core::mail::{Claim, Claimed, Mail, Registered};
use crate::error::RoutingError;
use crate::tables::registrations::InvokePolicy;

/// What the registrations bucket answered to a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimAnswer {
    /// No other node holds the key: it is this node's now.
    Granted,
    /// Another node holds it.
    Refused,
    /// The bucket could not be asked (NATS away, JetStream not answering):
    /// the registration goes on, and the claim is made again later.
    Unchecked,
}

/// The `single` registrations of this node, as claimed in the cluster.
#[derive(Default)]
pub(super) struct Claims {
    next_id: u64,
    /// Claims asked for and not answered yet.
    pending: HashMap<u64, PendingClaim>,
    /// Keys this node holds, with the callee holding each.
    held: HashMap<String, SessionId>,
    /// Keys granted while NATS was away, to claim when it is back.
    unclaimed: HashMap<String, SessionId>,
}

/// What waits for a claim's answer.
enum PendingClaim {
    /// A REGISTER: its REGISTERED, and the callee's announcement.
    Register {
        registered: Box<Registered>,
        key: String,
    },
    /// A registration granted while NATS was away, checked now.
    Recheck { key: String, callee: SessionId },
}

/// The registrations bucket's key of `pattern` in `realm`: both in
/// URL-safe base64 (the characters keys allow), and the match policy.
fn claim_key(realm: &str, pattern: &UriPattern) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.{}",
        b64.encode(realm),
        b64.encode(pattern.uri()),
        pattern.policy().as_str()
    )
}

/// A callee as the other nodes learn of it.
fn procedure(registered: &Registered) -> Interest {
    Interest::Procedure(Procedure {
        realm: registered.realm.name.clone(),
        policy: registered.pattern.policy(),
        uri: registered.pattern.uri().to_owned(),
        invoke: registered.invoke,
        session: registered.callee.session.get(),
        forward_timeout: registered.callee.forward_timeout,
        disclose_caller: registered.callee.disclose_caller,
        progressive_invocations: registered.callee.progressive_invocations,
    })
}

fn call_id(call: CallKey, serial: u64) -> CallId {
    CallId {
        caller: call.caller.get(),
        request: call.request.get(),
        serial,
    }
}

fn call_key(call: &CallId) -> Option<CallKey> {
    Some(CallKey {
        caller: SessionId::new(call.caller)?,
        request: RequestId::new(call.request)?,
    })
}

/// Whether an answer ends its call.
fn is_final(outcome: &Outcome) -> bool {
    !matches!(outcome, Outcome::Result { progress: true })
}

impl Link {
    /// A callee of this node registered or left a registration.
    pub(super) fn registered(&mut self, registered: Registered) {
        if self.shared_realm(&registered.realm.name).is_none() {
            return;
        }
        let single = registered.invoke == InvokePolicy::Single;
        let key = claim_key(&registered.realm.name, &registered.pattern);
        let callee = registered.callee.session;
        if !registered.held {
            self.local_interest(procedure(&registered), false);
            if single && self.claims.held.get(&key) == Some(&callee) {
                self.claims.held.remove(&key);
                self.claims.unclaimed.remove(&key);
                let value = self.claim_value();
                self.out.push_back(Output::Release { key, value });
            }
            return;
        }
        if registered.claim.is_none() {
            self.local_interest(procedure(&registered), true);
            return;
        }
        let id = self.next_claim_id();
        self.claims.pending.insert(
            id,
            PendingClaim::Register {
                registered: Box::new(registered),
                key: key.clone(),
            },
        );
        let value = self.claim_value();
        self.out.push_back(Output::Claim { id, key, value });
    }

    fn next_claim_id(&mut self) -> u64 {
        self.claims.next_id += 1;
        self.claims.next_id
    }

    fn grant(&mut self, registered: &Registered, claim: Claim, key: String) {
        self.claims.held.insert(key, registered.callee.session);
        self.local_interest(procedure(registered), true);
        self.answer_claim(registered, claim, true);
    }

    fn answer_claim(&mut self, registered: &Registered, claim: Claim, granted: bool) {
        self.out.push_back(Output::Mail {
            to: registered.callee.core,
            mail: Mail::Claimed(Claimed {
                claim,
                callee: registered.callee.session,
                granted,
            }),
        });
    }

    /// The registrations bucket's answer to claim `id`.
    pub fn on_claim_answer(&mut self, id: u64, answer: ClaimAnswer) {
        match self.claims.pending.remove(&id) {
            Some(PendingClaim::Register { registered, key }) => {
                let Some(claim) = registered.claim else {
                    return;
                };
                match answer {
                    ClaimAnswer::Granted => self.grant(&registered, claim, key),
                    ClaimAnswer::Refused => self.answer_claim(&registered, claim, false),
                    ClaimAnswer::Unchecked => {
                        // Routing goes on while the cluster cannot be
                        // asked; the claim is made again later.
                        self.claims
                            .unclaimed
                            .insert(key.clone(), registered.callee.session);
                        self.grant(&registered, claim, key);
                    }
                }
            }
            Some(PendingClaim::Recheck { key, callee }) => match answer {
                ClaimAnswer::Granted => {}
                ClaimAnswer::Unchecked => {
                    self.claims.unclaimed.insert(key, callee);
                }
                ClaimAnswer::Refused => {
                    if self.claims.held.get(&key) == Some(&callee) {
                        tracing::warn!(
                            key,
                            "cluster: a single registration made while the cluster could not be asked is also held by another node: calls from other nodes may reach either callee"
                        );
                    }
                }
            },
            None => {}
        }
    }

    /// Claims granted unchecked (NATS was away, or JetStream did not
    /// answer) are made now: when NATS is back, and every heartbeat.
    pub(super) fn claim_unclaimed(&mut self) {
        let unclaimed: Vec<(String, SessionId)> = self.claims.unclaimed.drain().collect();
        for (key, callee) in unclaimed {
            let id = self.next_claim_id();
            self.claims.pending.insert(
                id,
                PendingClaim::Recheck {
                    key: key.clone(),
                    callee,
                },
            );
            let value = self.claim_value();
            self.out.push_back(Output::Claim { id, key, value });
        }
    }

    /// A caller's core invokes a callee of another node.
    pub(super) fn invoke_elsewhere(&mut self, invoke: Invoke) {
        let target = self
            .remote_callees
            .get(&(invoke.registration, invoke.callee))
            .and_then(|c| {
                let peer = self.peers.get(&c.node)?;
                Some((c, peer.calls.clone()))
            });
        let Some((callee, subject)) = target else {
            tracing::trace!(
                callee = invoke.callee.get(),
                "cluster: invocation for a callee no node has"
            );
            // The callee left (unregistered, or its node went) after the
            // caller's core picked it from its table: to the caller the
            // procedure has no callee now, as the table will soon say too.
            return self.refuse(&invoke);
        };
        tracing::trace!(node = %callee.node, callee = invoke.callee.get(), "cluster: invocation sent");
        let call = call_id(invoke.call, invoke.serial);
        let message = ClusterMessage::Invoke(Box::new(RemoteInvoke {
            from: self.node().to_owned(),
            call,
            realm: callee.realm.clone(),
            policy: callee.pattern.policy(),
            uri: callee.pattern.uri().to_owned(),
            callee: invoke.callee.get(),
            details: invoke.details,
            payload: invoke.payload,
            continuation: invoke.continuation,
        }));
        if !invoke.continuation {
            let outgoing = Outgoing {
                node: callee.node.clone(),
                caller_core: invoke.caller_core,
                serial: invoke.serial,
            };
            if let Some(((caller, request), evicted)) =
                self.outgoing.insert((call.caller, call.request), outgoing)
            {
                self.evicted(caller, request, evicted);
            }
        }
        self.publish(subject, message.encode());
    }

    /// The oldest call to another node made room: its caller, if it still
    /// waits, is told.
    fn evicted(&mut self, caller: u64, request: u64, evicted: Outgoing) {
        let Some(call) = call_key(&CallId {
            caller,
            request,
            serial: evicted.serial,
        }) else {
            return;
        };
        let answer = error_answer(
            call,
            evicted.serial,
            RoutingError::Unavailable,
            "too many calls in flight to other nodes of the cluster",
        );
        self.mail(evicted.caller_core, Mail::Answer(Box::new(answer)));
    }

    /// Answers `invoke` with `wamp.error.no_such_procedure`: its callee is
    /// gone from the cluster.
    fn refuse(&mut self, invoke: &Invoke) {
        let answer = error_answer(
            invoke.call,
            invoke.serial,
            RoutingError::NoSuchProcedure,
            "the procedure's callee is no longer registered in the cluster",
        );
        self.mail(invoke.caller_core, Mail::Answer(Box::new(answer)));
    }

    fn mail(&mut self, to: usize, mail: Mail) {
        self.out.push_back(Output::Mail { to, mail });
    }

    /// A caller's core ends a call another node serves.
    pub(super) fn interrupt_elsewhere(&mut self, interrupt: &Interrupt) {
        let key = (interrupt.call.caller.get(), interrupt.call.request.get());
        let Some(outgoing) = self.outgoing.get(&key) else {
            return;
        };
        if outgoing.serial != interrupt.serial {
            return;
        }
        // A node's subject needs no acquaintance: a caller's node may hear
        // of the callee's node later than the callee's node of it.
        let subject = self.node_subject("calls", &outgoing.node);
        if interrupt.mode == CancelMode::KillNoWait {
            // The caller was answered: what the callee answers is dropped.
            self.outgoing.remove(&key);
        }
        let message = ClusterMessage::Interrupt(RemoteInterrupt {
            from: self.node().to_owned(),
            call: call_id(interrupt.call, interrupt.serial),
            mode: interrupt.mode.as_str().to_owned(),
            reason: interrupt.reason.uri().to_owned(),
        });
        self.publish(subject, message.encode());
    }

    /// A callee's core answers a call another node's caller made.
    pub(super) fn answer_elsewhere(&mut self, answer: Answer) {
        let key = (answer.call.caller.get(), answer.call.request.get());
        tracing::trace!(
            known = self.incoming.get(&key).is_some(),
            "cluster: answer for another node"
        );
        let Some(incoming) = self.incoming.get(&key) else {
            return;
        };
        if incoming.serial != answer.serial {
            return;
        }
        let node = incoming.node.clone();
        if is_final(&answer.outcome) {
            self.incoming.remove(&key);
        }
        let subject = self.node_subject("calls", &node);
        let message = ClusterMessage::Answer(Box::new(RemoteAnswer {
            from: self.node().to_owned(),
            call: call_id(answer.call, answer.serial),
            outcome: match answer.outcome {
                Outcome::Result { progress } => Ok(progress),
                Outcome::Error(uri) => Err(uri.as_str().to_owned()),
            },
            details: answer.details,
            payload: answer.payload,
        }));
        self.publish(subject, message.encode());
    }

    /// Another node's caller invokes a callee of this node.
    pub(super) fn invoke_here(&mut self, invoke: RemoteInvoke) {
        let Some(call) = call_key(&invoke.call) else {
            self.figures().unreadable.add(1);
            return;
        };
        let key = (invoke.call.caller, invoke.call.request);
        let target = self.callee_here(&invoke);
        tracing::trace!(from = %invoke.from, callee = invoke.callee, found = target.is_some(), "cluster: invocation received");
        let Some((core, registration)) = target else {
            if !invoke.continuation {
                // Gone with its registration (the caller's node has not
                // heard yet), or one callee of a registration left.
                let (error, text) = if self.registered_here(&invoke) {
                    (
                        RoutingError::Canceled,
                        "the callee left before the call reached it",
                    )
                } else {
                    (
                        RoutingError::NoSuchProcedure,
                        "the procedure is no longer registered on the callee's node",
                    )
                };
                self.answer_there(&invoke.from, invoke.call, error, text);
            }
            return;
        };
        if !invoke.continuation {
            let incoming = Incoming {
                node: invoke.from.clone(),
                callee_core: core,
                serial: invoke.call.serial,
            };
            if let Some(((caller, request), evicted)) = self.incoming.insert(key, incoming) {
                // Its callee is told the call is over.
                self.interrupt_core(caller, request, &evicted, RoutingError::Canceled);
            }
        }
        let Some(callee) = SessionId::new(invoke.callee) else {
            return;
        };
        self.mail(
            core,
            Mail::Invoke(Box::new(Invoke {
                call,
                serial: invoke.call.serial,
                caller_core: self.link_core().into(),
                callee,
                registration,
                details: invoke.details,
                payload: invoke.payload,
                continuation: invoke.continuation,
            })),
        );
    }

    /// Whether the registration `invoke` calls still exists here.
    fn registered_here(&self, invoke: &RemoteInvoke) -> bool {
        self.shared_realm(&invoke.realm).is_some_and(|realm| {
            realm
                .registrations
                .snapshot()
                .find(&invoke.uri, invoke.policy)
                .is_some()
        })
    }

    /// The core of the callee `invoke` names, and its registration here.
    fn callee_here(
        &self,
        invoke: &RemoteInvoke,
    ) -> Option<(usize, ringbar_protocol::id::RegistrationId)> {
        let realm = self.shared_realm(&invoke.realm)?;
        let table = realm.registrations.snapshot();
        let registration = table.find(&invoke.uri, invoke.policy)?;
        let link = usize::from(self.link_core());
        let callee = registration
            .callees
            .iter()
            .find(|c| c.session.get() == invoke.callee && c.core != link)?;
        Some((callee.core, registration.id))
    }

    fn interrupt_core(
        &mut self,
        caller: u64,
        request: u64,
        incoming: &Incoming,
        reason: RoutingError,
    ) {
        let Some(call) = call_key(&CallId {
            caller,
            request,
            serial: incoming.serial,
        }) else {
            return;
        };
        self.mail(
            incoming.callee_core,
            Mail::Interrupt(Interrupt {
                call,
                serial: incoming.serial,
                mode: CancelMode::KillNoWait,
                reason,
            }),
        );
    }

    /// Sends the dealer's own ERROR for `call` to its caller's node.
    fn answer_there(&mut self, node: &str, call: CallId, error: RoutingError, text: &str) {
        let subject = self.node_subject("calls", node);
        let Some(key) = call_key(&call) else {
            return;
        };
        let answer = error_answer(key, call.serial, error, text);
        let message = ClusterMessage::Answer(Box::new(RemoteAnswer {
            from: self.node().to_owned(),
            call,
            outcome: Err(error.uri().to_owned()),
            details: answer.details,
            payload: answer.payload,
        }));
        self.publish(subject, message.encode());
    }

    /// Another node's caller ends a call a callee of this node serves.
    pub(super) fn interrupt_here(&mut self, interrupt: &RemoteInterrupt) {
        let key = (interrupt.call.caller, interrupt.call.request);
        let Some(incoming) = self.incoming.get(&key) else {
            return;
        };
        if incoming.serial != interrupt.call.serial {
            return;
        }
        let (Some(call), Some(mode)) = (
            call_key(&interrupt.call),
            CancelMode::parse(&interrupt.mode),
        ) else {
            self.figures().unreadable.add(1);
            return;
        };
        let core = incoming.callee_core;
        if mode == CancelMode::KillNoWait {
            self.incoming.remove(&key);
        }
        self.mail(
            core,
            Mail::Interrupt(Interrupt {
                call,
                serial: interrupt.call.serial,
                mode,
                reason: RoutingError::from_uri(&interrupt.reason).unwrap_or(RoutingError::Canceled),
            }),
        );
    }

    /// Another node's callee answers a call of this node's caller.
    pub(super) fn answer_here(&mut self, answer: RemoteAnswer) {
        let key = (answer.call.caller, answer.call.request);
        tracing::trace!(
            known = self.outgoing.get(&key).is_some(),
            "cluster: answer received"
        );
        let Some(outgoing) = self.outgoing.get(&key) else {
            return;
        };
        if outgoing.serial != answer.call.serial {
            return;
        }
        let Some(call) = call_key(&answer.call) else {
            return;
        };
        let outcome = match answer.outcome {
            Ok(progress) => Outcome::Result { progress },
            Err(uri) => Outcome::Error(Str::from(uri)),
        };
        let core = outgoing.caller_core;
        if is_final(&outcome) {
            self.outgoing.remove(&key);
        }
        self.mail(
            core,
            Mail::Answer(Box::new(Answer {
                call,
                serial: answer.call.serial,
                outcome,
                details: answer.details,
                payload: answer.payload,
            })),
        );
    }

    /// `node` is gone: its callees' calls end with an error to their
    /// callers here, and its callers' calls are interrupted here.
    pub(super) fn calls_lost(&mut self, node: &str) {
        for ((caller, request), outgoing) in self.outgoing.take_where(|o| o.node == node) {
            let Some(call) = call_key(&CallId {
                caller,
                request,
                serial: outgoing.serial,
            }) else {
                continue;
            };
            let answer = error_answer(
                call,
                outgoing.serial,
                RoutingError::Canceled,
                "the callee's node left the cluster",
            );
            self.mail(outgoing.caller_core, Mail::Answer(Box::new(answer)));
        }
        for ((caller, request), incoming) in self.incoming.take_where(|i| i.node == node) {
            self.interrupt_core(caller, request, &incoming, RoutingError::Canceled);
        }
    }
}
