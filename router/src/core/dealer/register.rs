//! REGISTER and UNREGISTER of a session.

use std::rc::Rc;

use crate::error::RoutingError;
use crate::tables::registrations::{Callee, InvokePolicy, RegisterError};
use ringbar_protocol::message::{
    Message, MessageType, Register, Registered, Unregister, Unregistered,
};
use ringbar_protocol::options::RegisterOptions;
use ringbar_protocol::uri::UriPattern;

use crate::authorize::Action;
use crate::core::Core;
use crate::core::mail::{Claim, Claimed, Mail, Registered as RegisteredMail};
use crate::core::meta;
use crate::core::realm::Realm;
use crate::core::session::{Flow, SessionHandle};
use std::sync::Arc;

/// URIs under this prefix belong to the router (the meta API), not to
/// callees.
const RESERVED_PREFIX: &str = "wamp.";

/// REGISTER: check, join (or create) the registration, answer REGISTERED.
pub fn register(core: &Core, session: &Rc<SessionHandle>, register: Register) -> Flow {
    let options = match RegisterOptions::from_dict(&register.options) {
        Ok(o) => o,
        Err(e) => return Flow::Violation(e.to_string()),
    };
    let refuse = |error: RoutingError, text: &str| {
        session.send_error(MessageType::Register, register.request, error, text);
        Flow::Continue
    };
    let realm = &session.realm;
    let pattern =
        match UriPattern::parse(&register.procedure, options.match_policy, realm.uri_check) {
            Ok(p) => p,
            Err(e) => {
                return refuse(
                    RoutingError::InvalidUri,
                    &format!(
                        "invalid {} procedure '{}': {e}",
                        options.match_policy.as_str(),
                        register.procedure
                    ),
                );
            }
        };
    if register.procedure.starts_with(RESERVED_PREFIX) {
        return refuse(
            RoutingError::InvalidUri,
            &format!(
                "procedure '{}' is in the router's reserved '{RESERVED_PREFIX}' namespace: register under your own prefix",
                register.procedure
            ),
        );
    }
    let decision =
        session
            .decisions
            .borrow_mut()
            .decide(&session.role, Action::Register, &register.procedure);
    if !decision.allowed {
        return refuse(
            RoutingError::NotAuthorized,
            &format!(
                "role '{}' may not register '{}'",
                session.identity.authrole, register.procedure
            ),
        );
    }
    let held = core
        .dealer
        .callees
        .borrow()
        .registrations(session.identity.session);
    let limit = core.shared.limits.max_registrations_per_session;
    if held >= limit {
        return refuse(
            RoutingError::TooManyRegistrations,
            &format!(
                "this session holds {limit} registrations, the most ringbar.limits.max_registrations_per_session allows: unregister first"
            ),
        );
    }
    let Some(invoke) = InvokePolicy::parse(&options.invoke) else {
        return Flow::Violation(format!("unknown invocation policy '{}'", options.invoke));
    };
    let callee = Callee {
        core: core.id,
        session: session.identity.session,
        forward_timeout: options.forward_timeout,
        disclose_caller: options.disclose_caller,
        progressive_invocations: session.features.callee_progressive_invocations,
    };
    let (registration, created) = match realm.registrations.register(
        pattern,
        invoke,
        callee,
        core.shared.clock.wall(),
    ) {
        Ok(registered) => registered,
        Err(RegisterError::AlreadyExists) => {
            return refuse(
                RoutingError::ProcedureAlreadyExists,
                &format!(
                    "procedure '{}' is already registered ({} registrations take one callee; a session registers a procedure once)",
                    register.procedure,
                    InvokePolicy::Single.as_str()
                ),
            );
        }
        Err(RegisterError::PolicyMismatch(existing)) => {
            return refuse(
                RoutingError::ProcedureExistsWithDifferentInvocationPolicy,
                &format!(
                    "procedure '{}' is registered with invocation policy '{}', not '{}': register with the same policy to share it",
                    register.procedure,
                    existing.as_str(),
                    invoke.as_str()
                ),
            );
        }
    };
    core.dealer
        .callees
        .borrow_mut()
        .add(session.identity.session, session.key, registration.id);
    // In a realm the cluster shares, a `single` registration is the only
    // one of the cluster: REGISTERED waits for the cluster link's claim.
    let claim = (invoke == InvokePolicy::Single).then_some(Claim {
        session: session.key,
        request: register.request,
        registration: registration.id,
    });
    let waits = tell_cluster(
        core,
        realm,
        &registration.pattern,
        invoke,
        callee,
        true,
        claim,
    );
    if !waits {
        session.send(&Message::Registered(Registered {
            request: register.request,
            registration: registration.id,
        }));
        meta::registered(
            core,
            realm,
            session.identity.session,
            &registration,
            created,
        );
    }
    Flow::Continue
}

/// Tells the cluster link that `callee` registered `pattern` (`held`) or
/// left it, when `realm` is shared with the cluster; whether the link
/// was given `claim` to answer.
pub(super) fn tell_cluster(
    core: &Core,
    realm: &Arc<Realm>,
    pattern: &UriPattern,
    invoke: InvokePolicy,
    callee: Callee,
    held: bool,
    claim: Option<Claim>,
) -> bool {
    let Some(link) = core.shared.cluster_link(realm) else {
        return false;
    };
    let waits = claim.is_some();
    let mail = Mail::Registered(Box::new(RegisteredMail {
        realm: realm.clone(),
        pattern: pattern.clone(),
        invoke,
        callee,
        held,
        claim,
    }));
    if let Err(e) = core.send_mail(link, mail) {
        tracing::error!(core = core.id, error = %e, "registration not told to the cluster link");
        return false;
    }
    waits
}

/// The cluster's answer to a `single` registration's claim: REGISTERED,
/// or the registration undone and the REGISTER refused.
pub fn claimed(core: &Core, claimed: Claimed) {
    let Claimed {
        claim,
        callee,
        granted,
    } = claimed;
    let Some(session) = core
        .session(claim.session)
        .filter(|s| s.identity.session == callee)
    else {
        // The callee left: leaving took its registrations.
        return;
    };
    let realm = &session.realm;
    let Some(registration) = realm.registrations.get(claim.registration) else {
        return;
    };
    if granted {
        session.send(&Message::Registered(Registered {
            request: claim.request,
            registration: claim.registration,
        }));
        let created = registration.callees.len() == 1;
        meta::registered(core, realm, callee, &registration, created);
        return;
    }
    core.dealer
        .callees
        .borrow_mut()
        .remove(callee, claim.registration);
    leave_in_cluster(core, realm, claim.registration, callee);
    realm.registrations.unregister(claim.registration, callee);
    session.send_error(
        MessageType::Register,
        claim.request,
        RoutingError::ProcedureAlreadyExists,
        &format!(
            "procedure '{}' is already registered on another node of the cluster ({} registrations take one callee)",
            registration.pattern.uri(),
            InvokePolicy::Single.as_str()
        ),
    );
}

/// UNREGISTER: leave a registration this session provides.
pub fn unregister(core: &Core, session: &SessionHandle, unregister: Unregister) -> Flow {
    let held = core
        .dealer
        .callees
        .borrow_mut()
        .remove(session.identity.session, unregister.registration);
    if !held {
        session.send_error(
            MessageType::Unregister,
            unregister.request,
            RoutingError::NoSuchRegistration,
            &format!(
                "no registration {} for this session",
                unregister.registration
            ),
        );
        return Flow::Continue;
    }
    leave_in_cluster(
        core,
        &session.realm,
        unregister.registration,
        session.identity.session,
    );
    let deleted = session
        .realm
        .registrations
        .unregister(unregister.registration, session.identity.session);
    session.send(&Message::Unregistered(Unregistered {
        request: unregister.request,
        details: None,
    }));
    if let Some(deleted) = deleted {
        meta::unregistered(
            core,
            &session.realm,
            session.identity.session,
            unregister.registration,
            deleted,
        );
    }
    Flow::Continue
}

/// Tells the cluster link that `callee` no longer provides registration
/// `id`, when the realm is shared with the cluster; called before the
/// table lets go of it (the callee's options are read from it).
pub(super) fn leave_in_cluster(
    core: &Core,
    realm: &Arc<Realm>,
    id: ringbar_protocol::id::RegistrationId,
    callee: ringbar_protocol::id::SessionId,
) {
    if core.shared.cluster_link(realm).is_none() {
        return;
    }
    let Some(registration) = realm.registrations.get(id) else {
        return;
    };
    if let Some(mine) = registration.callees.iter().find(|c| c.session == callee) {
        tell_cluster(
            core,
            realm,
            &registration.pattern,
            registration.invoke,
            *mine,
            false,
            None,
        );
    }
}
