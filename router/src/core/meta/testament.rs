//! Publishing a leaving session's testaments (WAMP spec, Testament Meta
//! API); the testaments themselves are kept by the router crate's
//! `local::testaments`.

use crate::core::Core;
use crate::core::broker::publish_testament;
use crate::core::session::SessionHandle;

/// Publishes the testaments of `session`, which is leaving.
pub fn publish_testaments(core: &Core, session: &SessionHandle) {
    let testaments = core.testaments.borrow_mut().take(session.identity.session);
    for testament in testaments {
        publish_testament(
            core,
            session,
            testament.topic,
            testament.payload,
            &testament.options,
        );
    }
}
