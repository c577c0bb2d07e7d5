//! Meta procedures: the `wamp.session.*` and `wamp.subscription.*`
//! procedures the router answers itself, from the realm's shared tables.
//!
//! They take and return plain values; the caller's core decodes the CALL's
//! arguments and encodes the RESULT. Killing a session on another core is a
//! mailbox message to that core.

use std::str::FromStr;

use ringbar_protocol::id::{SessionId, SubscriptionId};
use ringbar_protocol::str::Str;
use ringbar_protocol::uri::{MatchPolicy, Uri, UriCheck};
use ringbar_protocol::value::{Dict, Value};

use super::events::subscription_details;
use crate::core::Core;
use crate::mailbox::Mail;
use crate::realm::{Realm, RealmSession};
use crate::session::{SessionHandle, kill_local};

/// What a meta procedure answers: RESULT arguments, or an ERROR.
pub(crate) type Answer = Result<Vec<Value>, MetaError>;

/// A meta procedure's ERROR: its URI and a message for people.
#[derive(Debug, PartialEq)]
pub(crate) struct MetaError {
    /// The error URI.
    pub(crate) uri: &'static str,
    /// What went wrong.
    pub(crate) message: String,
}

fn error(uri: &'static str, message: impl Into<String>) -> MetaError {
    MetaError {
        uri,
        message: message.into(),
    }
}

const NO_SUCH_SESSION: &str = "wamp.error.no_such_session";
const NO_SUCH_SUBSCRIPTION: &str = "wamp.error.no_such_subscription";
const INVALID_ARGUMENT: &str = "wamp.error.invalid_argument";
const INVALID_URI: &str = "wamp.error.invalid_uri";

/// Answers `procedure` when it is a meta procedure of the router; `None`
/// when it is not one (the CALL goes on to the dealer).
pub(crate) fn call(
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
            realm
                .session(id)
                .map(|s| vec![s.details])
                .ok_or_else(|| error(NO_SUCH_SESSION, format!("no session {id} on this realm")))
        }),
        "wamp.session.kill" => session_arg(args).and_then(|id| {
            let closing = Closing::from_kwargs(kwargs)?;
            match realm.session(id) {
                Some(session) if id != me => {
                    closing.kill(core, id, &session);
                    Ok(Vec::new())
                }
                _ => Err(error(
                    NO_SUCH_SESSION,
                    format!("no other session {id} on this realm"),
                )),
            }
        }),
        "wamp.session.kill_by_authid" => str_arg(args, "authid")
            .and_then(|authid| kill_where(core, realm, me, kwargs, |s| s.authid == authid)),
        "wamp.session.kill_by_authrole" => str_arg(args, "authrole")
            .and_then(|authrole| kill_where(core, realm, me, kwargs, |s| s.authrole == authrole)),
        "wamp.session.kill_all" => kill_where(core, realm, me, kwargs, |_| true),
        "wamp.subscription.list" => Ok(vec![subscription_lists(realm)]),
        "wamp.subscription.lookup" => str_arg(args, "topic").and_then(|topic| {
            let policy = match_option(args.get(1))?;
            Ok(vec![
                realm
                    .subscriptions
                    .lookup(&topic, policy)
                    .map_or(Value::Null, |id| Value::UInt(id.get())),
            ])
        }),
        "wamp.subscription.match" => str_arg(args, "topic").map(|topic| {
            let snapshot = realm.subscriptions.snapshot();
            let mut found = Vec::new();
            snapshot.matches(&topic, &mut found);
            let ids: Vec<Value> = found.iter().map(|s| Value::UInt(s.id.get())).collect();
            vec![if ids.is_empty() {
                Value::Null
            } else {
                Value::List(ids)
            }]
        }),
        "wamp.subscription.get" => subscription_arg(realm, args)
            .map(|id| {
                realm
                    .subscriptions
                    .get(id)
                    .map(|s| subscription_details(&s))
            })
            .and_then(|found| found.map(|d| vec![d]).ok_or_else(gone)),
        "wamp.subscription.list_subscribers" => subscription_arg(realm, args).map(|id| {
            let mut ids: Vec<u64> = realm.subscribers(id).iter().map(|s| s.get()).collect();
            ids.sort_unstable();
            vec![Value::List(ids.into_iter().map(Value::UInt).collect())]
        }),
        "wamp.subscription.count_subscribers" => subscription_arg(realm, args).and_then(|id| {
            realm
                .subscriptions
                .subscriber_count(id)
                .map(|n| vec![Value::UInt(n)])
                .ok_or_else(gone)
        }),
        _ => return None,
    };
    Some(answer)
}

fn gone() -> MetaError {
    error(NO_SUCH_SUBSCRIPTION, "the subscription is gone")
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
                    INVALID_ARGUMENT,
                    "filter_authroles must be a list of strings",
                )
            }),
        Some(_) => Err(error(
            INVALID_ARGUMENT,
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
        .ok_or_else(|| error(INVALID_ARGUMENT, "the first argument must be a session id"))
}

fn str_arg(args: &[Value], what: &str) -> Result<String, MetaError> {
    args.first()
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            error(
                INVALID_ARGUMENT,
                format!("the first argument must be the {what} (a string)"),
            )
        })
}

/// A subscription id argument that names a live subscription.
fn subscription_arg(realm: &Realm, args: &[Value]) -> Result<SubscriptionId, MetaError> {
    let id = args
        .first()
        .and_then(Value::as_u64)
        .and_then(SubscriptionId::new)
        .ok_or_else(|| {
            error(
                INVALID_ARGUMENT,
                "the first argument must be a subscription id",
            )
        })?;
    match realm.subscriptions.get(id) {
        Some(_) => Ok(id),
        None => Err(error(
            NO_SUCH_SUBSCRIPTION,
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
                INVALID_ARGUMENT,
                "options.match must be exact, prefix or wildcard",
            )
        })
}

/// `{"exact": [...], "prefix": [...], "wildcard": [...]}`.
fn subscription_lists(realm: &Realm) -> Value {
    let mut lists: [Vec<u64>; 3] = Default::default();
    for subscription in realm.subscriptions.all() {
        let at = match subscription.pattern.policy() {
            MatchPolicy::Exact => 0,
            MatchPolicy::Prefix => 1,
            MatchPolicy::Wildcard => 2,
        };
        if let Some(list) = lists.get_mut(at) {
            list.push(subscription.id.get());
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
            None | Some(Value::Null) => Str::from_static("wamp.close.normal"),
            Some(Value::Str(r)) if !r.is_empty() && Uri::check(r, UriCheck::Loose).is_ok() => {
                Str::from(r.as_str())
            }
            Some(_) => return Err(error(INVALID_URI, "reason must be a valid, non-empty URI")),
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
        } else {
            core.send_mail(
                session.core,
                Mail::KillSession {
                    session: id,
                    reason: self.reason.clone(),
                    message: self.message.clone(),
                },
            );
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
