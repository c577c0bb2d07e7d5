//! What a core's driver waits for on routing's behalf, which routing only
//! signals: room in a mailbox for the mail backlog, the next timer, the
//! last connection to close.

use ringbar_router::core::Core;

/// Waits until the backlog has gone into the mailboxes, parked on the
/// receiving core's drain whenever its mailbox is full.
pub(crate) async fn flush_backlog(core: &Core) {
    loop {
        let Some(to) = core.backlog_front() else {
            return;
        };
        // Made before the retry, so the drain that makes room wakes it.
        let Some(room) = core.shared.mailboxes.room(to) else {
            return;
        };
        if core.move_backlog() {
            return;
        }
        room.await;
    }
}

/// Moves the backlog into the mailboxes whenever there is one, for as long
/// as the core runs: timers, leaving sessions and answers send mail on
/// cores where no connection reads (and so none flushes).
pub(crate) async fn flush_backlog_forever(core: &Core) {
    loop {
        core.backlog_added.raised().await;
        flush_backlog(core).await;
    }
}

/// Waits until the earliest timer's deadline (or until an earlier one is
/// set, or forever when there is none).
pub(crate) async fn next_timer(core: &Core) {
    let changed = core.timers_changed.raised();
    let Some(at) = core.next_deadline() else {
        return changed.await;
    };
    tokio::select! {
        () = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => {}
        () = changed => {}
    }
}

/// Waits until no connection is open.
pub(crate) async fn all_connections_closed(core: &Core) {
    while core.connections() > 0 {
        core.connections_changed.raised().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FlowControl, Limits};
    use ringbar_protocol::id::SessionId;
    use ringbar_router::core::Shared;
    use ringbar_router::core::mail::Mail;
    use ringbar_router::core::realms::Realms;
    use std::rc::Rc;
    use std::sync::Arc;
    use std::time::Duration;
    /// A small mail.
    fn kill(n: u64) -> Mail {
        Mail::KillSession {
            session: SessionId::new(n).unwrap(),
            reason: ringbar_protocol::str::Str::from_static(
                ringbar_router::error::CloseReason::Normal.uri(),
            ),
            message: None,
        }
    }

    #[test]
    fn the_backlog_reaches_its_mailbox_without_a_reading_connection() {
        let shared = Arc::new(Shared::new(
            Realms::new(
                &[],
                ringbar_router::core::seed::Seeds::Os,
                std::time::SystemTime::now(),
            ),
            2,
            FlowControl::default(),
            Limits::default(),
            "epoll",
            crate::drivers::drivers(2),
        ));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime, async {
            let core = Rc::new(Core::new(0, shared.clone()));
            let flusher = core.clone();
            tokio::task::spawn_local(async move { flush_backlog_forever(&flusher).await });
            let capacity = shared.limits.mailbox_capacity;
            for n in 1..=capacity as u64 {
                core.send_mail(1, kill(n)).unwrap();
            }
            assert!(!core.has_backlog());
            // core 1's mailbox is full: this one waits in the backlog
            core.send_mail(1, kill(u64::MAX >> 12)).unwrap();
            assert!(core.has_backlog());
            let mut delivered = 0;
            shared.mailboxes.drain(1, |_| delivered += 1);
            assert_eq!(delivered, capacity);
            // no connection reads on core 0; its own task moves the mail
            for _ in 0..100 {
                if !core.has_backlog() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            assert!(!core.has_backlog(), "the backlog stayed on an idle core");
            let mut late = 0;
            shared.mailboxes.drain(1, |_| late += 1);
            assert_eq!(late, 1);
        });
    }
}
