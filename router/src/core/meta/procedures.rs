//! Meta procedures: the `wamp.session.*` and `wamp.subscription.*`
//! procedures the router answers itself, from the realm's shared tables.
//!
//! They take and return plain values; the caller's core decodes the CALL's
//! arguments and encodes the RESULT. Killing a session on another core is a
//! mailbox message to that core.

use std::str::FromStr;
use std::sync::Arc;

use crate::error::{CloseReason, RoutingError};
use crate::tables::registrations::Registration;
use ringbar_protocol::codec;
use ringbar_protocol::id::{RegistrationId, SessionId, SubscriptionId};
use ringbar_protocol::message::{Call, Message, MessageType, Payload};
use ringbar_protocol::options::PublishOptions;
use ringbar_protocol::str::Str;
use ringbar_protocol::uri::{MatchPolicy, Uri, UriCheck};
use ringbar_protocol::value::{Dict, Value};

use super::events::{registration_details, subscription_details};
use crate::authorize::Action;
use crate::core::Core;
use crate::core::mail::Mail;
use crate::core::realm::{HistoryEvent, Realm, RealmSession};
use crate::core::session::{SessionHandle, decode_arguments, kill_local};
use crate::local::testaments::{Scope, Testament};
use crate::tables::subscriptions::CoreId;

/// What a meta procedure answers: RESULT arguments, or an ERROR.
pub(super) type Answer = Result<Vec<Value>, MetaError>;

/// A meta procedure's ERROR: its URI and a message for people.
#[derive(Debug, PartialEq)]
pub(super) struct MetaError {
    /// The error.
    pub error: RoutingError,
    /// What went wrong.
    pub message: String,
}

fn error(error: RoutingError, message: impl Into<String>) -> MetaError {
    MetaError {
        error,
        message: message.into(),
    }
}

/// Answers a CALL of a meta procedure (`wamp.session.*`,
/// `wamp.subscription.*`, `wamp.registration.*`) that the dealer checked
/// (request id, URI, permission); false when `call` names
/// no meta procedure or the realm does not offer the meta API (the dealer
/// routes it, as Crossbar.io then has no such procedure).
pub fn answer_call(core: &Core, session: &SessionHandle, call: &Call) -> bool {
    if !session.realm.meta_api || !call.procedure.starts_with(super::WAMP_PREFIX) {
        return false;
    }
    let (args, kwargs) = match decode_arguments(&call.payload) {
        Ok(decoded) => decoded,
        Err(text) => {
            session.send_error(
                MessageType::Call,
                call.request,
                RoutingError::InvalidArgument,
                &text,
            );
            return true;
        }
    };
    let Some(answer) = self::call(core, session, &call.procedure, &args, &kwargs) else {
        return false;
    };
    match answer.and_then(|results| {
        Payload::from_values(session.wire.serializer, &results, None).map_err(|e| MetaError {
            error: RoutingError::InvalidArgument,
            message: e.to_string(),
        })
    }) {
        Ok(payload) => session.send(&Message::Result(ringbar_protocol::message::Result {
            request: call.request,
            details: Dict::new(),
            payload,
        })),
        Err(e) => session.send_error(MessageType::Call, call.request, e.error, &e.message),
    }
    true
}

/// Answers `procedure` when it is a meta procedure of the router; `None`
/// when it is not one (the CALL goes on to the dealer).
pub(super) fn call(
    core: &Core,
    caller: &SessionHandle,
    procedure: &str,
    args: &[Value],
    kwargs: &Dict,
) -> Option<Answer> {
    let realm = &caller.realm;
    let me = caller.identity.session;
    let answer = match procedure {
        "wamp.session.count" => {
            filter_roles(args).map(|roles| vec![Value::UInt(sessions(realm, &roles).len() as u64)])
        }
        "wamp.session.list" => filter_roles(args).map(|roles| {
            let mut ids: Vec<u64> = sessions(realm, &roles)
                .iter()
                .map(|(id, _)| id.get())
                .collect();
            ids.sort_unstable();
            vec![Value::List(ids.into_iter().map(Value::UInt).collect())]
        }),
        "wamp.session.get" => session_arg(args).and_then(|id| {
            realm.session(id).map(|s| vec![s.details]).ok_or_else(|| {
                error(
                    RoutingError::NoSuchSession,
                    format!("no session {id} on this realm"),
                )
            })
        }),
        "wamp.session.kill" => session_arg(args).and_then(|id| {
            let closing = Closing::from_kwargs(kwargs)?;
            match realm.session(id) {
                Some(session) if id != me => {
                    closing.kill(core, id, &session);
                    Ok(Vec::new())
                }
                _ => Err(error(
                    RoutingError::NoSuchSession,
                    format!("no other session {id} on this realm"),
                )),
            }
        }),
        "wamp.session.kill_by_authid" => str_arg(args, "authid")
            .and_then(|authid| kill_where(core, realm, me, kwargs, |s| s.authid == authid)),
        "wamp.session.kill_by_authrole" => str_arg(args, "authrole")
            .and_then(|authrole| kill_where(core, realm, me, kwargs, |s| s.authrole == authrole)),
        "wamp.session.kill_all" => kill_where(core, realm, me, kwargs, |_| true),
        "wamp.session.add_testament" => add_testament(core, caller, args, kwargs),
        "wamp.session.flush_testaments" => {
            Scope::parse(kwargs.get("scope").and_then(Value::as_str))
                .ok_or_else(|| {
                    error(
                        RoutingError::InvalidArgument,
                        "scope must be detached or destroyed",
                    )
                })
                .map(|scope| {
                    core.testaments.borrow_mut().flush(me, scope);
                    Vec::new()
                })
        }
        "wamp.subscription.list" => Ok(vec![subscription_lists(caller)]),
        "wamp.subscription.lookup" => str_arg(args, "topic").and_then(|topic| {
            let policy = match_option(args.get(1))?;
            Ok(vec![
                realm
                    .subscriptions
                    .lookup(&topic, policy)
                    .filter(|_| listable(caller, &topic))
                    .map_or(Value::Null, |id| Value::UInt(id.get())),
            ])
        }),
        "wamp.subscription.match" => str_arg(args, "topic").map(|topic| {
            let snapshot = realm.subscriptions.snapshot();
            let mut found = Vec::new();
            snapshot.matches(&topic, &mut found);
            let ids: Vec<Value> = found
                .iter()
                .filter(|s| listable(caller, s.pattern.uri()))
                .map(|s| Value::UInt(s.id.get()))
                .collect();
            vec![if ids.is_empty() {
                Value::Null
            } else {
                Value::List(ids)
            }]
        }),
        "wamp.subscription.get" => subscription_arg(caller, args)
            .map(|id| {
                realm
                    .subscriptions
                    .get(id)
                    .map(|s| subscription_details(&s))
            })
            .and_then(|found| found.map(|d| vec![d]).ok_or_else(gone)),
        "wamp.subscription.list_subscribers" => subscription_arg(caller, args).map(|id| {
            let mut ids: Vec<u64> = realm.subscribers(id).iter().map(|s| s.get()).collect();
            ids.sort_unstable();
            vec![Value::List(ids.into_iter().map(Value::UInt).collect())]
        }),
        "wamp.subscription.count_subscribers" => subscription_arg(caller, args).and_then(|id| {
            // What the cluster link holds for other nodes is not a
            // subscriber here (the count is this node's, as the list).
            let held_for_others = core.shared.cluster.as_ref().map_or(0, |c| {
                realm
                    .subscriptions
                    .count_on(id, CoreId::try_from(c.link).unwrap_or(CoreId::MAX))
            });
            realm
                .subscriptions
                .subscriber_count(id)
                .map(|n| vec![Value::UInt(n.saturating_sub(held_for_others))])
                .ok_or_else(gone)
        }),
        "wamp.subscription.get_events" => subscription_arg(caller, args).and_then(|id| {
            let limit = match args.get(1).or_else(|| kwargs.get("limit")) {
                None | Some(Value::Null) => 10,
                Some(v) => v
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| error(RoutingError::InvalidArgument, "limit must be a count"))?,
            };
            realm
                .history(id, limit, |event| history_event(realm, event))
                .map(|events| vec![Value::List(events)])
                .ok_or_else(|| {
                    error(
                        RoutingError::HistoryUnavailable,
                        format!("subscription {id} keeps no event history (see the realm's store)"),
                    )
                })
        }),
        "wamp.registration.list" => Ok(vec![registration_lists(caller)]),
        "wamp.registration.lookup" => str_arg(args, "procedure").and_then(|procedure| {
            let policy = match_option(args.get(1))?;
            Ok(vec![
                realm
                    .registrations
                    .snapshot()
                    .find(&procedure, policy)
                    .filter(|r| listable(caller, r.pattern.uri()))
                    .map_or(Value::Null, |r| Value::UInt(r.id.get())),
            ])
        }),
        "wamp.registration.match" => str_arg(args, "procedure").map(|procedure| {
            vec![
                realm
                    .registrations
                    .snapshot()
                    .best_match(&procedure)
                    .filter(|r| listable(caller, r.pattern.uri()))
                    .map_or(Value::Null, |r| Value::UInt(r.id.get())),
            ]
        }),
        "wamp.registration.get" => {
            registration_arg(caller, args).map(|r| vec![registration_details(&r)])
        }
        "wamp.registration.list_callees" => registration_arg(caller, args).map(|r| {
            vec![Value::List(
                r.callees
                    .iter()
                    .map(|c| Value::UInt(c.session.get()))
                    .collect(),
            )]
        }),
        "wamp.registration.count_callees" => {
            registration_arg(caller, args).map(|r| vec![Value::UInt(r.callees.len() as u64)])
        }
        _ => return None,
    };
    Some(answer)
}

/// `wamp.session.add_testament(topic, args, kwargs, publish_options=, scope=)`:
/// checked now as a PUBLISH would be, kept until the caller goes.
fn add_testament(core: &Core, caller: &SessionHandle, args: &[Value], kwargs: &Dict) -> Answer {
    let topic = str_arg(args, "topic")?;
    Uri::check(&topic, caller.realm.uri_check).map_err(|e| {
        error(
            RoutingError::InvalidUri,
            format!("invalid topic '{topic}': {e}"),
        )
    })?;
    if topic.starts_with(super::WAMP_PREFIX) {
        return Err(error(
            RoutingError::InvalidUri,
            "testaments may not publish to wamp.* topics",
        ));
    }
    let allowed = caller
        .decisions
        .borrow_mut()
        .decide(&caller.role, Action::Publish, &topic)
        .allowed;
    if !allowed {
        return Err(error(
            RoutingError::NotAuthorized,
            format!(
                "role '{}' may not publish to '{topic}'",
                caller.identity.authrole
            ),
        ));
    }
    let event_args = match args.get(1) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::List(list)) => list.clone(),
        Some(_) => return Err(error(RoutingError::InvalidArgument, "args must be a list")),
    };
    let event_kwargs = match args.get(2) {
        None | Some(Value::Null) => None,
        Some(Value::Dict(d)) => Some(d.clone()),
        Some(_) => {
            return Err(error(
                RoutingError::InvalidArgument,
                "kwargs must be a dictionary",
            ));
        }
    };
    let no_options = Dict::new();
    let options = match kwargs.get("publish_options") {
        None | Some(Value::Null) => &no_options,
        Some(Value::Dict(d)) => d,
        Some(_) => {
            return Err(error(
                RoutingError::InvalidArgument,
                "publish_options must be a dictionary",
            ));
        }
    };
    let options = PublishOptions::from_dict(options).map_err(|e| {
        error(
            RoutingError::InvalidArgument,
            format!("publish_options: {e}"),
        )
    })?;
    let scope = Scope::parse(kwargs.get("scope").and_then(Value::as_str)).ok_or_else(|| {
        error(
            RoutingError::InvalidArgument,
            "scope must be detached or destroyed",
        )
    })?;
    let payload = Payload::from_values(caller.wire.serializer, &event_args, event_kwargs.as_ref())
        .map_err(|e| error(RoutingError::InvalidArgument, e.to_string()))?;
    let testament = Testament {
        topic: Str::from(topic.as_str()),
        payload,
        options,
    };
    let max = core.shared.limits.max_testaments_per_session;
    if core
        .testaments
        .borrow_mut()
        .add(caller.identity.session, scope, testament, max)
    {
        Ok(Vec::new())
    } else {
        Err(error(
            RoutingError::InvalidArgument,
            format!("a session keeps at most {max} testaments per scope"),
        ))
    }
}

/// One history event as `wamp.subscription.get_events` returns it (the keys
/// of Crossbar.io's memory store).
fn history_event(realm: &Realm, event: &HistoryEvent) -> Value {
    let (args, kwargs) = match &event.publication.payload {
        Payload::Arguments(a) => (
            codec::decode_value(a.serializer, &a.args).unwrap_or(Value::Null),
            a.kwargs
                .as_ref()
                .and_then(|k| codec::decode_value(a.serializer, k).ok())
                .unwrap_or(Value::Null),
        ),
        Payload::Empty | Payload::Transparent(_) => (Value::Null, Value::Null),
    };
    Value::Dict(
        [
            ("time_ns", Value::UInt(event.time_ns)),
            ("realm", Value::from(realm.name.as_str())),
            ("session_id", Value::UInt(event.publisher.session.get())),
            ("authid", Value::from(event.publisher.authid.as_str())),
            ("authrole", Value::from(event.publisher.authrole.as_str())),
            ("publication", Value::UInt(event.publication.id.get())),
            ("topic", Value::from(event.publication.topic.as_str())),
            ("args", args),
            ("kwargs", kwargs),
        ]
        .into_iter()
        .collect(),
    )
}

fn gone() -> MetaError {
    error(RoutingError::NoSuchSubscription, "the subscription is gone")
}

/// The optional `filter_authroles|list[string]` of count and list.
fn filter_roles(args: &[Value]) -> Result<Option<Vec<String>>, MetaError> {
    match args.first() {
        None | Some(Value::Null) => Ok(None),
        Some(Value::List(roles)) => roles
            .iter()
            .map(|r| r.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| {
                error(
                    RoutingError::InvalidArgument,
                    "filter_authroles must be a list of strings",
                )
            }),
        Some(_) => Err(error(
            RoutingError::InvalidArgument,
            "filter_authroles must be a list of strings",
        )),
    }
}

fn sessions(realm: &Realm, roles: &Option<Vec<String>>) -> Vec<(SessionId, RealmSession)> {
    realm.sessions(|s| roles.as_ref().is_none_or(|r| r.contains(&s.authrole)))
}

fn session_arg(args: &[Value]) -> Result<SessionId, MetaError> {
    args.first()
        .and_then(Value::as_u64)
        .and_then(SessionId::new)
        .ok_or_else(|| {
            error(
                RoutingError::InvalidArgument,
                "the first argument must be a session id",
            )
        })
}

fn str_arg(args: &[Value], what: &str) -> Result<String, MetaError> {
    args.first()
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            error(
                RoutingError::InvalidArgument,
                format!("the first argument must be the {what} (a string)"),
            )
        })
}

/// Whether `caller`'s role may see `uri` (a subscription's topic or a
/// registration's procedure) in the meta API: its `list` permission.
fn listable(caller: &SessionHandle, uri: &str) -> bool {
    caller
        .decisions
        .borrow_mut()
        .decide(&caller.role, Action::List, uri)
        .allowed
}

/// A subscription id argument that names a live subscription the caller
/// may list.
fn subscription_arg(caller: &SessionHandle, args: &[Value]) -> Result<SubscriptionId, MetaError> {
    let id = args
        .first()
        .and_then(Value::as_u64)
        .and_then(SubscriptionId::new)
        .ok_or_else(|| {
            error(
                RoutingError::InvalidArgument,
                "the first argument must be a subscription id",
            )
        })?;
    match caller.realm.subscriptions.get(id) {
        Some(s) if listable(caller, s.pattern.uri()) => Ok(id),
        _ => Err(error(
            RoutingError::NoSuchSubscription,
            format!("no subscription {id} on this realm"),
        )),
    }
}

/// `options.match` of `wamp.subscription.lookup` (default exact).
fn match_option(options: Option<&Value>) -> Result<MatchPolicy, MetaError> {
    let Some(policy) = options
        .and_then(Value::as_dict)
        .and_then(|o| o.get("match"))
    else {
        return Ok(MatchPolicy::Exact);
    };
    policy
        .as_str()
        .and_then(|p| MatchPolicy::from_str(p).ok())
        .ok_or_else(|| {
            error(
                RoutingError::InvalidArgument,
                "options.match must be exact, prefix or wildcard",
            )
        })
}

/// A registration id argument that names a live registration the caller
/// may list.
fn registration_arg(
    caller: &SessionHandle,
    args: &[Value],
) -> Result<Arc<Registration>, MetaError> {
    let id = args
        .first()
        .and_then(Value::as_u64)
        .and_then(RegistrationId::new)
        .ok_or_else(|| {
            error(
                RoutingError::InvalidArgument,
                "the first argument must be a registration id",
            )
        })?;
    caller
        .realm
        .registrations
        .get(id)
        .filter(|r| listable(caller, r.pattern.uri()))
        .ok_or_else(|| {
            error(
                RoutingError::NoSuchRegistration,
                format!("no registration {id} on this realm"),
            )
        })
}

/// The subscriptions the caller may list, by match policy
/// (`wamp.subscription.list`).
fn subscription_lists(caller: &SessionHandle) -> Value {
    by_policy(
        caller
            .realm
            .subscriptions
            .all()
            .iter()
            .filter(|s| listable(caller, s.pattern.uri()))
            .map(|s| (s.pattern.policy(), s.id.get())),
    )
}

/// The registrations the caller may list, by match policy
/// (`wamp.registration.list`).
fn registration_lists(caller: &SessionHandle) -> Value {
    by_policy(
        caller
            .realm
            .registrations
            .all()
            .iter()
            .filter(|r| listable(caller, r.pattern.uri()))
            .map(|r| (r.pattern.policy(), r.id.get())),
    )
}

/// `{"exact": [...], "prefix": [...], "wildcard": [...]}` of ids.
fn by_policy(ids: impl Iterator<Item = (MatchPolicy, u64)>) -> Value {
    let mut lists: [Vec<u64>; 3] = Default::default();
    for (policy, id) in ids {
        let at = match policy {
            MatchPolicy::Exact => 0,
            MatchPolicy::Prefix => 1,
            MatchPolicy::Wildcard => 2,
        };
        if let Some(list) = lists.get_mut(at) {
            list.push(id);
        }
    }
    let [exact, prefix, wildcard] = lists.map(|mut ids| {
        ids.sort_unstable();
        Value::List(ids.into_iter().map(Value::UInt).collect())
    });
    Value::Dict(
        [("exact", exact), ("prefix", prefix), ("wildcard", wildcard)]
            .into_iter()
            .collect(),
    )
}

/// The GOODBYE a killed session gets: `reason` and `message` keyword
/// arguments of the kill procedures.
struct Closing {
    reason: Str,
    message: Option<String>,
}

impl Closing {
    fn from_kwargs(kwargs: &Dict) -> Result<Self, MetaError> {
        let reason = match kwargs.get("reason") {
            None | Some(Value::Null) => Str::from_static(CloseReason::Normal.uri()),
            Some(Value::Str(r)) if !r.is_empty() && Uri::check(r, UriCheck::Loose).is_ok() => {
                Str::from(r.as_str())
            }
            Some(_) => {
                return Err(error(
                    RoutingError::InvalidUri,
                    "reason must be a valid, non-empty URI",
                ));
            }
        };
        let message = kwargs
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(Self { reason, message })
    }

    /// Closes session `id` on its core.
    fn kill(&self, core: &Core, id: SessionId, session: &RealmSession) {
        if session.core == core.id {
            kill_local(core, id, &self.reason, self.message.as_deref());
        } else if let Err(e) = core.send_mail(
            session.core,
            Mail::KillSession {
                session: id,
                reason: self.reason.clone(),
                message: self.message.clone(),
            },
        ) {
            tracing::error!(core = core.id, session = %id, error = %e, "session not killed: the realm names an unknown core for it");
        }
    }
}

/// Kills every session of the realm but the caller's that `selected`
/// accepts; answers how many.
fn kill_where(
    core: &Core,
    realm: &Realm,
    me: SessionId,
    kwargs: &Dict,
    selected: impl Fn(&RealmSession) -> bool,
) -> Answer {
    let closing = Closing::from_kwargs(kwargs)?;
    let victims = realm.sessions(|s| selected(s));
    let mut count = 0u64;
    for (id, session) in victims.iter().filter(|(id, _)| *id != me) {
        closing.kill(core, *id, session);
        count += 1;
    }
    Ok(vec![Value::UInt(count)])
}
