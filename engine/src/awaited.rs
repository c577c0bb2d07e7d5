//! Router calls a task waits for: the dynamic authenticator and authorizer
//! and the REST bridge's caller ask the dealer as the router and await the
//! answer its continuation hands over. The dealer itself waits for nothing
//! (`dealer::start_router_call`).

use std::rc::Rc;
use std::time::Duration;

use ringbar_protocol::id::SessionId;
use ringbar_protocol::message::Payload;
use ringbar_protocol::value::Value;
use ringbar_router::error::RoutingError;

use crate::core::Core;
use crate::dealer::{self, RouterAnswer, RouterCallFailure, RouterCallResult, RouterCaller};
use crate::realm::Realm;

/// Calls `procedure` on `realm` as the router, caller id `caller` (an id
/// claimed for it, unique router-wide), and waits for the answer, at most
/// `timeout`; other sessions of the core run on meanwhile.
pub(crate) async fn call_as_router(
    core: &Rc<Core>,
    realm: &Realm,
    caller: SessionId,
    procedure: &str,
    args: &[Value],
    timeout: Duration,
) -> Result<RouterCallResult, RouterCallFailure> {
    let payload = dealer::router_call_payload(args)?;
    let caller = RouterCaller {
        session: caller,
        disclosed: None,
    };
    let answer = call_with_payload(core, realm, caller, procedure, payload, timeout).await?;
    dealer::answer_values(answer)
}

/// Calls `procedure` on `realm` as `caller` with `payload`, and waits for
/// the RESULT's payload or the ERROR, at most `timeout`. `Err` when the
/// call could not be made.
pub(crate) async fn call_with_payload(
    core: &Rc<Core>,
    realm: &Realm,
    caller: RouterCaller<'_>,
    procedure: &str,
    payload: Payload,
    timeout: Duration,
) -> Result<RouterAnswer, RouterCallFailure> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let on_answer = Box::new(move |answer| {
        // The waiting task may have given up: nothing to tell.
        let _ = tx.send(answer);
    });
    dealer::start_router_call(core, realm, caller, procedure, payload, timeout, on_answer)?;
    rx.await.map_err(|_| {
        dealer::failure(
            RoutingError::Canceled,
            "the router stopped before the call was answered",
        )
    })
}
