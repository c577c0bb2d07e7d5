//! The router core's inputs other than a session's own messages: mail
//! from other cores and timers that expired. A driver hands them in — a
//! core thread's tasks, or the simulation — and each goes to its owner.

use crate::core::Core;
use crate::core::broker::Holding;
use crate::core::mail::Mail;
use crate::core::timeout::Timeout;
use crate::core::{broker, dealer, session};

/// Hands every timer of `core` that has expired by now to its owner.
pub fn expire_timers(core: &Core) {
    while let Some(timeout) = core.expired_timer() {
        match timeout {
            Timeout::Call { key, serial } => dealer::timed_out(core, key, serial),
            Timeout::Join(conn) => session::join_timed_out(&conn),
            Timeout::Idle(conn) => session::idle_timed_out(core, conn),
        }
    }
}

/// Does what the mail other cores sent `core` asks, the batch that is
/// there now; returns how many mails it took. Publications in a row go
/// out in one pass per run (see [`broker::Held`]).
pub fn handle_all_mail(core: &Core) -> usize {
    let mut handled = 0;
    core.shared.mailboxes.drain(core.id, |mail| {
        handled += 1;
        handle_mail(core, mail);
    });
    broker::deliver_held(core);
    handled
}

/// Does what one mail from another core asks of `core`; a publication's
/// delivery may be held (see [`handle_all_mail`]), anything else goes
/// after what is.
fn handle_mail(core: &Core, mail: Mail) {
    if !matches!(mail, Mail::Publication(_)) {
        broker::deliver_held(core);
    }
    match mail {
        Mail::Publication(p) => {
            // Only the mailed publication may wait: not what other mails
            // route as they go (testaments, meta events).
            core.held.holding.set(Holding::Everything);
            broker::deliver_or_hold(core, &p);
            core.held.holding.set(Holding::Nothing);
        }
        Mail::KillSession {
            session,
            reason,
            message,
        } => session::kill_local(core, session, &reason, message.as_deref()),
        Mail::Invoke(i) => dealer::invoke(core, *i),
        Mail::Interrupt(i) => dealer::interrupt(core, i),
        Mail::Answer(a) => dealer::deliver_answer(core, *a),
        Mail::Claimed(claimed) => dealer::claimed(core, claimed),
        // The cluster link's mail; a core is never sent it.
        Mail::Interest { .. } | Mail::Retain(_) | Mail::Registered(_) | Mail::Session(_) => {
            tracing::error!(core = core.id, "cluster link mail sent to a core: dropped");
        }
    }
}
