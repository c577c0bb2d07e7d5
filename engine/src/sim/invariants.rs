//! What must hold of a core after every step, and of the whole router once
//! every session left.

use std::collections::HashSet;
use std::rc::Rc;

use ringbar_protocol::id::SubscriptionId;

use ringbar_router::core::{Core, Shared};

/// After every step: a core's tables agree with each other.
pub(crate) fn check_core(core: &Core) {
    let dealer = &core.dealer;
    let owners = [
        ("calls", dealer.calls.borrow().check()),
        ("invocations", dealer.invocations.borrow().check()),
        ("callees", {
            let counted = dealer.invocations.borrow().count_per_callee();
            dealer
                .callees
                .borrow()
                .check(|callee| counted.get(&callee).copied().unwrap_or(0))
        }),
        ("sessions", core.sessions.borrow().check()),
        ("local subscribers", core.local_subscribers.borrow().check()),
    ];
    for (owner, check) in owners {
        assert_eq!(check, Ok(()), "core {}: {owner}", core.id);
    }
    assert_eq!(
        core.sessions.borrow().len() as u64,
        core.figures.sessions.get(),
        "core {}: the sessions figure != sessions",
        core.id
    );
}

/// Once every session left: nothing of them is left anywhere.
pub(crate) fn check_empty(
    shared: &Shared,
    cores: &[Rc<Core>],
    subscriptions: &HashSet<SubscriptionId>,
) {
    for core in cores {
        let id = core.id;
        let dealer = &core.dealer;
        let left = [
            ("sessions", core.sessions.borrow().len()),
            (
                "local subscriptions",
                core.local_subscribers.borrow().len().0,
            ),
            (
                "local subscribing sessions",
                core.local_subscribers.borrow().len().1,
            ),
            ("calls", dealer.calls.borrow().len()),
            ("invocations", dealer.invocations.borrow().len().0),
            ("invocations by call", dealer.invocations.borrow().len().1),
            ("callees", dealer.callees.borrow().len()),
            (
                "testaments",
                usize::from(!core.testaments.borrow().is_empty()),
            ),
            ("mail backlog", usize::from(core.has_backlog())),
            ("timers", core.pending_timers()),
            ("sessions figure", core.figures.sessions.get() as usize),
            ("queued bytes", core.figures.queued_bytes.get() as usize),
        ];
        for (table, n) in left {
            assert_eq!(n, 0, "core {id}: {table} left after every session left");
        }
    }
    assert_eq!(
        shared.session_ids_in_use(),
        0,
        "session ids not released after every session left"
    );
    for name in shared.realms.names() {
        let Some(realm) = shared.realms.get(&name) else {
            continue;
        };
        assert!(
            realm.subscriptions.is_empty(),
            "realm {name}: subscriptions left: {}",
            realm.subscriptions.len()
        );
        assert!(
            realm.registrations.snapshot().is_empty(),
            "realm {name}: registrations left: {}",
            realm.registrations.snapshot().len()
        );
        assert!(
            realm.sessions(|_| true).is_empty(),
            "realm {name}: sessions left in the meta API's list"
        );
        for id in subscriptions {
            assert!(
                realm.subscribers(*id).is_empty(),
                "realm {name}: subscription {id} still lists subscribers"
            );
        }
    }
}

/// Once the router is gone (cores, runtime and tasks dropped): its realms
/// are freed (nothing keeps one alive through a reference cycle).
pub(crate) fn check_freed(realms: &[std::sync::Weak<ringbar_router::core::realm::Realm>]) {
    for realm in realms {
        if let Some(realm) = realm.upgrade() {
            panic_freed(&realm.name);
        }
    }
}

// Failing loudly is a test harness's job: the fuzzer and the tests catch it.
#[allow(clippy::panic)]
fn panic_freed(name: &str) -> ! {
    panic!("realm {name} outlived the router (a reference cycle keeps it)")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::{FlowControl, Limits};
    use ringbar_router::core::realms::Realms;

    fn core() -> (Arc<Shared>, Rc<Core>) {
        let shared = Arc::new(Shared::new(
            Realms::new(
                &[],
                ringbar_router::core::seed::Seeds::Os,
                std::time::SystemTime::now(),
            ),
            1,
            FlowControl::default(),
            Limits::default(),
            "epoll",
            crate::drivers::drivers(1),
        ));
        let core = Rc::new(Core::new(0, shared.clone()));
        (shared, core)
    }

    #[test]
    fn fresh_cores_pass() {
        let (shared, core) = core();
        check_core(&core);
        check_empty(&shared, &[core], &HashSet::new());
    }

    #[test]
    #[should_panic(expected = "session ids not released")]
    fn a_session_id_kept_fails_the_final_check() {
        let (shared, core) = core();
        shared.claim_session_id(&mut core.ids.borrow_mut());
        check_empty(&shared, &[core], &HashSet::new());
    }
}
