//! The WAMP side of an SRDP bridge, for one session: one prefix
//! registration answers every `<prefix>.…` procedure (devices come and go
//! with discovery, the registration stays), and CHANGE events become
//! publications.

use std::sync::Arc;

use ringbar_client::{Dict, Error, Incoming, Invocation, Session, Value};
use ringbar_router::error::RoutingError;
use tokio::sync::{mpsc, oneshot, watch};

use super::channel::{DeviceError, Failure, Operation};
use super::config::SrdpBridge;
use super::eds::value;
use super::link::{LinkHandle, Request};
use super::mapping::{Action, DEVICES, Target};
use crate::component::stopped;
use crate::figures::{Figures, bump};

/// Calls whose transfers wait at once; further invocations wait in the
/// router until one ends.
const MAX_CALLS_IN_FLIGHT: usize = 64;

/// The error of a value that does not fit its register.
const INVALID_ARGUMENT: &str = RoutingError::InvalidArgument.uri();
/// The error of a URI below the prefix that names no register.
const NO_SUCH_PROCEDURE: &str = RoutingError::NoSuchProcedure.uri();

/// The answer to one invocation: the result, or an error URI and message.
type Outcome = Result<Value, (String, String)>;

/// Registers the prefix on `session` and serves it until `stop`.
pub(crate) async fn serve(
    session: &mut Session,
    bridge: &SrdpBridge,
    link: &mut LinkHandle,
    figures: &Arc<Figures>,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), Error> {
    let mut options = Dict::new();
    options.insert("match", "prefix");
    session.register(&bridge.prefix, options).await?;
    let devices_procedure = format!("{}.{DEVICES}", bridge.prefix);
    let (done, mut outcomes) = mpsc::channel::<(u64, Outcome)>(MAX_CALLS_IN_FLIGHT);
    let mut in_flight = 0;
    loop {
        tokio::select! {
            incoming = session.next(), if in_flight < MAX_CALLS_IN_FLIGHT => {
                let Incoming::Invocation(invocation) = incoming? else { continue };
                let procedure = invocation.details.get("procedure").and_then(Value::as_str).unwrap_or(&bridge.prefix).to_owned();
                if procedure == devices_procedure {
                    let devices = link.table.borrow().describe();
                    session.yield_result(invocation.request, vec![devices], Dict::new()).await?;
                    continue;
                }
                let target = {
                    let table = link.table.borrow();
                    match table.resolve(&procedure) {
                        Some(target) => Ok(target.clone()),
                        None => Err(table.devices().is_empty()),
                    }
                };
                in_flight += 1;
                let (requests, done, figures) = (link.requests.clone(), done.clone(), figures.clone());
                tokio::spawn(async move {
                    let outcome = call(target, &procedure, &invocation, &requests).await;
                    bump(if outcome.is_ok() { &figures.calls } else { &figures.call_errors });
                    let _ = done.send((invocation.request, outcome)).await;
                });
            }
            Some((request, outcome)) = outcomes.recv() => {
                in_flight -= 1;
                match outcome {
                    Ok(result) => session.yield_result(request, vec![result], Dict::new()).await?,
                    Err((uri, message)) => session.yield_error(request, &uri, &message).await?,
                }
            }
            Some(publication) = link.publications.recv() => {
                session.publish(&publication.topic, vec![publication.value], Dict::new(), Dict::new()).await?;
            }
            _ = stopped(stop) => return Ok(()),
        }
    }
}

/// One call of a register procedure: its target, or whether no device
/// is known at all (the adapter not reached).
async fn call(
    target: Result<Target, bool>,
    procedure: &str,
    invocation: &Invocation,
    requests: &mpsc::Sender<Request>,
) -> Outcome {
    let target = match target {
        Ok(target) => target,
        Err(true) => {
            return Err((
                error_uri(&Failure::LinkDown).into(),
                format!("{procedure}: the adapter is not reached now, so no device is known"),
            ));
        }
        Err(false) => {
            return Err((
                NO_SUCH_PROCEDURE.into(),
                format!(
                    "{procedure} names no register of a discovered device (see the devices procedure)"
                ),
            ));
        }
    };
    let what = format!(
        "device {} register {} ({})",
        target.device, target.register.index, target.register.path
    );
    let operation = match target.action {
        Action::Read => Operation::Read {
            device: target.device,
            register: target.register.index,
            extent: target.register.ty.extent(),
        },
        Action::Write => {
            let given = match (&invocation.args[..], invocation.kwargs.is_empty()) {
                ([value], true) => value,
                _ => {
                    return Err((
                        INVALID_ARGUMENT.into(),
                        format!("{procedure} takes one argument: the register's value"),
                    ));
                }
            };
            let data = value::encode(&target.register.ty, given)
                .map_err(|e| (INVALID_ARGUMENT.to_owned(), format!("{what}: {e}")))?;
            Operation::Write {
                device: target.device,
                register: target.register.index,
                data: data.into(),
            }
        }
    };
    let (reply, outcome) = oneshot::channel();
    let failure = |failure: Failure| (error_uri(&failure).to_owned(), format!("{what}: {failure}"));
    requests
        .try_send(Request { operation, reply })
        .map_err(|_| {
            failure(Failure::BadReply(
                "too many transfers wait for the adapter".into(),
            ))
        })?;
    let bytes = outcome
        .await
        .unwrap_or(Err(Failure::LinkDown))
        .map_err(failure)?;
    match target.action {
        Action::Write => Ok(Value::Null),
        Action::Read => value::decode(&target.register.ty, &bytes).map_err(|e| {
            (
                error_uri(&Failure::BadReply(String::new())).to_owned(),
                format!("{what}: {e}"),
            )
        }),
    }
}

/// The WAMP error of a failed transfer: one URI per SRDP error code.
pub(crate) fn error_uri(failure: &Failure) -> &'static str {
    match failure {
        Failure::Device(DeviceError(-1)) => "ringbar.srdp.error.not_implemented",
        Failure::Device(DeviceError(-2)) => "ringbar.srdp.error.no_such_device",
        Failure::Device(DeviceError(-3)) => "ringbar.srdp.error.no_such_register",
        Failure::Device(DeviceError(-4)) => "ringbar.srdp.error.invalid_position_length",
        Failure::Device(DeviceError(-5)) => "ringbar.srdp.error.invalid_operation",
        Failure::Device(_) => "ringbar.srdp.error.device",
        Failure::Timeout(_) => "ringbar.srdp.error.timeout",
        Failure::BadReply(_) => "ringbar.srdp.error.bad_reply",
        Failure::LinkDown => "ringbar.srdp.error.link_down",
    }
}
