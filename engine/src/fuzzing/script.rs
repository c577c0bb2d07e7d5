//! The fuzz input's format: a setup byte, then steps, each an opcode byte
//! and its argument bytes. Every byte string is a valid script (missing
//! bytes read as zero), so mutations stay meaningful, and the format is
//! small enough that seeds are written by hand (`super::seeds`).

use std::time::Duration;

/// Client connections a scenario drives at once.
pub(crate) const SLOTS: usize = 4;

/// The most steps one input runs, so one input stays fast.
const MAX_STEPS: usize = 2000;

/// Topic and procedure URIs: few, so sessions meet on them; patterns,
/// a denied URI, a meta procedure and an invalid URI among them.
const URIS: [&str; 8] = [
    "com.a",
    "com.a.b",
    "com.b",
    "com",
    "com..b",
    "com.deny",
    "wamp.session.count",
    "com.x y",
];

/// `match` options; the last is not one, which is a protocol violation.
const MATCH: [Option<&str>; 4] = [None, Some("prefix"), Some("wildcard"), Some("fuzzy")];

/// `invoke` options of REGISTER; the last is not one.
const INVOKE: [Option<&str>; 6] = [
    None,
    Some("roundrobin"),
    Some("random"),
    Some("first"),
    Some("last"),
    Some("any"),
];

/// CANCEL modes; the last is not one (the caller gets an ERROR).
const CANCEL_MODES: [Option<&str>; 5] = [
    None,
    Some("skip"),
    Some("kill"),
    Some("killnowait"),
    Some("nice"),
];

/// The realms a HELLO asks for: every permission, a few, and none such.
pub(crate) const REALMS: [&str; 3] = ["realm1", "restricted", "nowhere"];

/// The opcodes, in the order `Step::read` decodes them.
pub(crate) mod op {
    /// [`super::Step::Hello`].
    pub(crate) const HELLO: u8 = 0;
    /// [`super::Step::Subscribe`].
    pub(crate) const SUBSCRIBE: u8 = 1;
    /// [`super::Step::Unsubscribe`].
    pub(crate) const UNSUBSCRIBE: u8 = 2;
    /// [`super::Step::Publish`].
    pub(crate) const PUBLISH: u8 = 3;
    /// [`super::Step::Register`].
    pub(crate) const REGISTER: u8 = 4;
    /// [`super::Step::Unregister`].
    pub(crate) const UNREGISTER: u8 = 5;
    /// [`super::Step::Call`].
    pub(crate) const CALL: u8 = 6;
    /// [`super::Step::Yield`].
    pub(crate) const YIELD: u8 = 7;
    /// [`super::Step::Error`].
    pub(crate) const ERROR: u8 = 8;
    /// [`super::Step::Cancel`].
    pub(crate) const CANCEL: u8 = 9;
    /// [`super::Step::Goodbye`].
    pub(crate) const GOODBYE: u8 = 10;
    /// [`super::Step::Abort`].
    pub(crate) const ABORT: u8 = 11;
    /// [`super::Step::Disconnect`].
    pub(crate) const DISCONNECT: u8 = 12;
    /// [`super::Step::Read`].
    pub(crate) const READ: u8 = 13;
    /// [`super::Step::Deliver`].
    pub(crate) const DELIVER: u8 = 14;
    /// [`super::Step::Advance`].
    pub(crate) const ADVANCE: u8 = 15;
    /// [`super::Step::Meta`].
    pub(crate) const META: u8 = 16;
    /// How many there are; an opcode byte is taken modulo this.
    pub(crate) const COUNT: u8 = META + 1;
}

/// Bits of the setup byte.
pub(crate) mod setup {
    /// Two cores (else one).
    pub(crate) const TWO_CORES: u8 = 1;
    /// The slow-consumer policy is `disconnect` (else `drop`).
    pub(crate) const DISCONNECT_SLOW: u8 = 2;
    /// Queues of a few KiB, so slow consumers and overloaded callees occur.
    pub(crate) const SMALL_QUEUES: u8 = 4;
}

/// Bits of a HELLO's flags byte: what the client announces.
pub(crate) mod hello {
    /// `callee.features.call_canceling`.
    pub(crate) const CALL_CANCELING: u8 = 1;
    /// `callee.features.progressive_call_invocations`.
    pub(crate) const CALLEE_PROGRESSIVE: u8 = 2;
    /// `caller.features.progressive_call_invocations`.
    pub(crate) const CALLER_PROGRESSIVE: u8 = 4;
}

/// Bits of a PUBLISH's flags byte.
pub(crate) mod publish {
    /// `acknowledge`.
    pub(crate) const ACKNOWLEDGE: u8 = 1;
    /// `exclude_me: false`.
    pub(crate) const INCLUDE_ME: u8 = 2;
    /// `retain`.
    pub(crate) const RETAIN: u8 = 4;
    /// `eligible`: the session in the slot named by the next bits only.
    pub(crate) const ELIGIBLE: u8 = 8;
    /// `exclude`: the session in the slot named by the next bits.
    pub(crate) const EXCLUDE: u8 = 16;
    /// The slot `eligible` or `exclude` names, shifted by this.
    pub(crate) const SLOT_SHIFT: u8 = 5;
}

/// Bits of a CALL's flags byte.
pub(crate) mod call {
    /// `receive_progress`.
    pub(crate) const RECEIVE_PROGRESS: u8 = 1;
    /// `progress` (a progressive call invocation).
    pub(crate) const PROGRESS: u8 = 2;
    /// `timeout`: 10 ms.
    pub(crate) const SHORT_TIMEOUT: u8 = 4;
    /// `timeout`: 1 s.
    pub(crate) const LONG_TIMEOUT: u8 = 8;
    /// The request id of a call in flight (a progressive call's next part,
    /// or a protocol violation), not a fresh one.
    pub(crate) const SAME_REQUEST: u8 = 16;
    /// `disclose_me`.
    pub(crate) const DISCLOSE_ME: u8 = 32;
    /// The request id of the call answered last (a new call: ids may be
    /// used again once their request is done).
    pub(crate) const ANSWERED_REQUEST: u8 = 64;
}

/// The meta procedures a [`Step::Meta`] calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MetaProcedure {
    /// `wamp.session.kill` of the session in another slot.
    Kill,
    /// `wamp.session.kill_all`.
    KillAll,
    /// `wamp.session.add_testament` on a topic.
    AddTestament,
    /// `wamp.session.flush_testaments`.
    FlushTestaments,
    /// `wamp.session.count`.
    Count,
}

const META: [MetaProcedure; 5] = [
    MetaProcedure::Kill,
    MetaProcedure::KillAll,
    MetaProcedure::AddTestament,
    MetaProcedure::FlushTestaments,
    MetaProcedure::Count,
];

/// How the router is set up for a scenario.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Setup {
    /// Cores sharing the realms (1 or 2).
    pub(crate) cores: usize,
    /// The slow-consumer policy closes the connection.
    pub(crate) disconnect_slow: bool,
    /// Queues of a few KiB.
    pub(crate) small_queues: bool,
}

/// One thing that happens: a client sends a message, a connection drops,
/// a client reads what is queued for it, a core takes its mail, or time
/// passes. `slot` is a client connection (made at its first message);
/// `pick` chooses among the ids the client learned (or makes one up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// HELLO to `REALMS[realm]`, announcing the `hello::*` features.
    Hello {
        slot: usize,
        realm: usize,
        features: u8,
    },
    /// SUBSCRIBE.
    Subscribe {
        slot: usize,
        topic: &'static str,
        policy: Option<&'static str>,
        get_retained: bool,
    },
    /// UNSUBSCRIBE.
    Unsubscribe { slot: usize, pick: u8 },
    /// PUBLISH with the `publish::*` flags.
    Publish {
        slot: usize,
        topic: &'static str,
        flags: u8,
    },
    /// REGISTER.
    Register {
        slot: usize,
        procedure: &'static str,
        policy: Option<&'static str>,
        invoke: Option<&'static str>,
    },
    /// UNREGISTER.
    Unregister { slot: usize, pick: u8 },
    /// CALL with the `call::*` flags.
    Call {
        slot: usize,
        procedure: &'static str,
        flags: u8,
    },
    /// YIELD for an invocation, progressive or final.
    Yield {
        slot: usize,
        pick: u8,
        progress: bool,
    },
    /// ERROR for an invocation (or, `wrong_type`, for a SUBSCRIBE: a
    /// protocol violation).
    Error {
        slot: usize,
        pick: u8,
        wrong_type: bool,
    },
    /// CANCEL of a call in flight.
    Cancel {
        slot: usize,
        pick: u8,
        mode: Option<&'static str>,
    },
    /// GOODBYE from the client.
    Goodbye { slot: usize },
    /// ABORT from the client.
    Abort { slot: usize },
    /// The connection drops without a word.
    Disconnect { slot: usize },
    /// The client reads everything queued for it.
    Read { slot: usize },
    /// Core `core` takes the mail other cores sent it.
    Deliver { core: usize },
    /// Time passes.
    Advance { by: Duration },
    /// A meta procedure call; `target` names a slot or a topic.
    Meta {
        slot: usize,
        procedure: MetaProcedure,
        target: u8,
    },
}

/// Reads a script from fuzz input.
pub(crate) struct Script<'a> {
    bytes: &'a [u8],
    steps: usize,
}

impl<'a> Script<'a> {
    /// The setup and the steps of `data`.
    pub(crate) fn new(data: &'a [u8]) -> (Setup, Self) {
        let mut script = Self {
            bytes: data,
            steps: 0,
        };
        let bits = script.byte();
        let setup = Setup {
            cores: if bits & setup::TWO_CORES != 0 { 2 } else { 1 },
            disconnect_slow: bits & setup::DISCONNECT_SLOW != 0,
            small_queues: bits & setup::SMALL_QUEUES != 0,
        };
        (setup, script)
    }

    fn byte(&mut self) -> u8 {
        match self.bytes.split_first() {
            Some((first, rest)) => {
                self.bytes = rest;
                *first
            }
            None => 0,
        }
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[usize::from(self.byte()) % from.len()]
    }

    fn slot(&mut self) -> usize {
        usize::from(self.byte()) % SLOTS
    }
}

impl Iterator for Script<'_> {
    type Item = Step;

    fn next(&mut self) -> Option<Step> {
        if self.bytes.is_empty() || self.steps >= MAX_STEPS {
            return None;
        }
        self.steps += 1;
        let opcode = self.byte() % op::COUNT;
        let slot = self.slot();
        Some(match opcode {
            op::HELLO => Step::Hello {
                slot,
                realm: usize::from(self.byte()) % REALMS.len(),
                features: self.byte(),
            },
            op::SUBSCRIBE => Step::Subscribe {
                slot,
                topic: self.pick(&URIS),
                policy: self.pick(&MATCH),
                get_retained: self.byte() & 1 != 0,
            },
            op::UNSUBSCRIBE => Step::Unsubscribe {
                slot,
                pick: self.byte(),
            },
            op::PUBLISH => Step::Publish {
                slot,
                topic: self.pick(&URIS),
                flags: self.byte(),
            },
            op::REGISTER => Step::Register {
                slot,
                procedure: self.pick(&URIS),
                policy: self.pick(&MATCH),
                invoke: self.pick(&INVOKE),
            },
            op::UNREGISTER => Step::Unregister {
                slot,
                pick: self.byte(),
            },
            op::CALL => Step::Call {
                slot,
                procedure: self.pick(&URIS),
                flags: self.byte(),
            },
            op::YIELD => Step::Yield {
                slot,
                pick: self.byte(),
                progress: self.byte() & 1 != 0,
            },
            op::ERROR => Step::Error {
                slot,
                pick: self.byte(),
                wrong_type: self.byte() & 1 != 0,
            },
            op::CANCEL => Step::Cancel {
                slot,
                pick: self.byte(),
                mode: self.pick(&CANCEL_MODES),
            },
            op::GOODBYE => Step::Goodbye { slot },
            op::ABORT => Step::Abort { slot },
            op::DISCONNECT => Step::Disconnect { slot },
            op::READ => Step::Read { slot },
            // The slot byte names the core (modulo the cores there are).
            op::DELIVER => Step::Deliver { core: slot },
            // Up to 20 s in steps of 80 ms: past call timeouts and the
            // join deadline alike.
            op::ADVANCE => Step::Advance {
                by: Duration::from_millis(u64::from(self.byte()) * 80),
            },
            _ => Step::Meta {
                slot,
                procedure: self.pick(&META),
                target: self.byte(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_bytes_read_as_zero() {
        let (setup, mut steps) = Script::new(&[setup::TWO_CORES, op::SUBSCRIBE, 2]);
        assert_eq!(setup.cores, 2);
        assert_eq!(
            steps.next(),
            Some(Step::Subscribe {
                slot: 2,
                topic: URIS[0],
                policy: None,
                get_retained: false
            })
        );
        assert_eq!(steps.next(), None);
    }

    #[test]
    fn every_opcode_byte_is_a_step() {
        for opcode in 0..=u8::MAX {
            let input = [0, opcode];
            let (_, mut steps) = Script::new(&input);
            assert!(steps.next().is_some(), "opcode {opcode}");
        }
    }
}
