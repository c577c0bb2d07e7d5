//! The harness on every `cargo test`: the seed corpus of the fuzz target
//! (written here, checked against `fuzz/seeds/router_core/`), and random
//! scripts.

use std::path::PathBuf;

use proptest::prelude::*;

use super::router_core;
use super::script::{SLOTS, call, hello, op, publish, setup};

/// Set to write the seeds to `fuzz/seeds/router_core/` instead of checking
/// them (after a change of the script format).
const WRITE_SEEDS: &str = "RINGBAR_WRITE_SEEDS";

const TWO_CORES: u8 = setup::TWO_CORES;
/// HELLO arguments: realm1, no features.
const PLAIN: [u8; 2] = [0, 0];
/// `META` procedure bytes (`script::META`'s order).
const KILL: u8 = 0;
const ADD_TESTAMENT: u8 = 2;

/// The seed scripts, each a path through the router the fuzzer starts
/// from, with what its clients must read on the way.
fn seeds() -> Vec<(&'static str, Vec<u8>, &'static [&'static str])> {
    let h = |slot: u8, args: [u8; 2]| [op::HELLO, slot, args[0], args[1]];
    let callee = [0, hello::CALL_CANCELING | hello::CALLEE_PROGRESSIVE];
    let caller = [0, hello::CALLER_PROGRESSIVE];
    let script = |parts: &[&[u8]]| parts.concat();
    vec![
        (
            "join-and-leave",
            script(&[&[0], &h(0, PLAIN), &[op::READ, 0, op::GOODBYE, 0]]),
            &["WELCOME", "GOODBYE"],
        ),
        (
            "pubsub-across-cores",
            script(&[
                &[TWO_CORES],
                &h(0, PLAIN),
                &h(1, PLAIN),
                &[op::SUBSCRIBE, 1, 0, 0, 0, op::READ, 1],
                &[op::PUBLISH, 0, 0, publish::ACKNOWLEDGE | publish::RETAIN],
                &[op::DELIVER, 1, op::READ, 0, op::READ, 1],
                &[op::SUBSCRIBE, 3, 1, 1, 1, op::HELLO, 3, 0, 0],
                &[op::UNSUBSCRIBE, 1, 0, op::READ, 1, op::DISCONNECT, 0],
            ]),
            &["EVENT", "PUBLISHED", "UNSUBSCRIBED"],
        ),
        (
            "rpc-across-cores",
            script(&[
                &[TWO_CORES],
                &h(0, PLAIN),
                &h(1, callee),
                &[op::REGISTER, 1, 0, 0, 0, op::READ, 1],
                &[
                    op::CALL,
                    0,
                    0,
                    call::DISCLOSE_ME,
                    op::DELIVER,
                    1,
                    op::READ,
                    1,
                ],
                &[op::YIELD, 1, 0, 0, op::DELIVER, 0, op::READ, 0],
                &[op::CALL, 0, 0, 0, op::DISCONNECT, 1, op::DELIVER, 1],
                &[op::DELIVER, 0, op::READ, 0],
            ]),
            &["RESULT", "ERROR wamp.error.canceled"],
        ),
        (
            "progressive-call-then-kill",
            script(&[
                &[TWO_CORES],
                &h(0, caller),
                &h(1, callee),
                &[op::REGISTER, 1, 1, 1, 1, op::READ, 1],
                &[op::CALL, 0, 1, call::PROGRESS | call::RECEIVE_PROGRESS],
                &[op::DELIVER, 1, op::READ, 1],
                &[op::CALL, 0, 1, call::SAME_REQUEST | call::PROGRESS],
                &[op::DELIVER, 1, op::READ, 1, op::YIELD, 1, 0, 1],
                &[op::DELIVER, 0, op::READ, 0, op::CANCEL, 0, 0, 2],
                &[op::DELIVER, 1, op::READ, 1, op::YIELD, 1, 0, 0],
                &[op::DELIVER, 0, op::READ, 0],
            ]),
            &["RESULT progress", "INTERRUPT", "RESULT"],
        ),
        (
            "call-timeout-and-late-yield",
            script(&[
                &[0],
                &h(0, PLAIN),
                &h(1, PLAIN),
                &[op::REGISTER, 1, 2, 0, 0, op::READ, 1],
                &[op::CALL, 0, 2, call::SHORT_TIMEOUT, op::ADVANCE, 0, 1],
                &[op::READ, 0, op::READ, 1, op::YIELD, 1, 0, 0, op::READ, 0],
            ]),
            &["ERROR wamp.error.timeout"],
        ),
        (
            "cancel-modes",
            script(&[
                &[0],
                &h(0, PLAIN),
                &h(1, callee),
                &[op::REGISTER, 1, 0, 0, 0, op::READ, 1],
                &[op::CALL, 0, 0, 0, op::READ, 0, op::CANCEL, 0, 0, 1],
                &[
                    op::READ,
                    0,
                    op::CALL,
                    0,
                    0,
                    0,
                    op::READ,
                    0,
                    op::CANCEL,
                    0,
                    0,
                    4,
                ],
                &[
                    op::READ,
                    0,
                    op::CALL,
                    0,
                    0,
                    0,
                    op::READ,
                    0,
                    op::CANCEL,
                    0,
                    0,
                    3,
                ],
                &[op::READ, 0, op::READ, 1, op::ERROR, 1, 0, 0],
            ]),
            &[
                "ERROR wamp.error.canceled",
                "ERROR wamp.error.invalid_argument",
                "INTERRUPT",
            ],
        ),
        (
            // A request id used again after its call was canceled with
            // `skip`, while the callee still holds the first invocation:
            // the second call's CANCEL `kill` must still reach the callee.
            "regression-call-id-reused-after-skip",
            script(&[
                &[0],
                &h(0, PLAIN),
                &h(1, [0, hello::CALL_CANCELING]),
                &[op::REGISTER, 1, 0, 0, 0, op::READ, 1],
                &[op::CALL, 0, 0, 0, op::READ, 0, op::CANCEL, 0, 0, 1],
                &[op::READ, 0, op::CALL, 0, 0, call::ANSWERED_REQUEST],
                &[op::READ, 1, op::YIELD, 1, 0, 0, op::READ, 0],
                &[op::CANCEL, 0, 0, 2, op::READ, 1],
            ]),
            &["INTERRUPT"],
        ),
        (
            "kill-across-cores",
            script(&[
                &[TWO_CORES],
                &h(0, PLAIN),
                &h(1, callee),
                &[op::REGISTER, 1, 0, 0, 0, op::CALL, 0, 0, 0],
                &[op::READ, 1, op::META, 0, KILL, 1, op::DELIVER, 1],
                &[op::DELIVER, 0, op::READ, 0],
            ]),
            &["GOODBYE", "ERROR wamp.error.canceled"],
        ),
        (
            "testament-on-disconnect",
            script(&[
                &[0],
                &h(0, PLAIN),
                &h(1, PLAIN),
                &[op::SUBSCRIBE, 1, 0, 0, 0, op::READ, 1],
                &[op::META, 0, ADD_TESTAMENT, 0, op::READ, 0],
                &[op::DISCONNECT, 0, op::READ, 1],
            ]),
            &["EVENT"],
        ),
        (
            "refusals",
            script(&[
                &[setup::SMALL_QUEUES | setup::DISCONNECT_SLOW],
                &[op::SUBSCRIBE, 0, 0, 0, 0],
                &h(1, [2, 0]),
                &h(2, [1, 0]),
                &[op::REGISTER, 2, 0, 0, 0, op::PUBLISH, 2, 5, 1],
                &[op::SUBSCRIBE, 2, 0, 3, 0, op::READ, 2],
            ]),
            &["ABORT", "ERROR wamp.error.not_authorized"],
        ),
    ]
}

#[test]
fn each_seed_takes_its_path() {
    for (name, bytes, expected) in seeds() {
        let seen = super::run(&bytes);
        for message in expected {
            assert!(
                seen.contains_key(*message),
                "{name}: no {message} read; the clients read {seen:?}"
            );
        }
    }
}

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

#[test]
fn the_committed_seeds_are_the_seed_scripts() {
    let dir = fuzz_dir().join("seeds/router_core");
    let write = std::env::var_os(WRITE_SEEDS).is_some();
    for (name, bytes, _) in seeds() {
        let path = dir.join(name);
        if write {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let committed = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (write it with {WRITE_SEEDS}=1)", path.display()));
        assert_eq!(
            committed, bytes,
            "{name}: out of date (rewrite with {WRITE_SEEDS}=1)"
        );
    }
}

/// Every seed (hand-written and regressions) and any local corpus.
#[test]
fn the_seed_corpus_runs_clean() {
    let mut ran = 0;
    for dir in ["seeds/router_core", "corpus/router_core"] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir().join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            router_core(&std::fs::read(&path).unwrap());
            ran += 1;
        }
    }
    assert!(ran >= seeds().len(), "ran {ran} seeds");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Random scripts after every slot said HELLO (so that most steps act
    /// on joined sessions).
    #[test]
    fn random_scripts_keep_the_invariants(
        setup in any::<u8>(),
        features in any::<[u8; SLOTS]>(),
        steps in proptest::collection::vec(any::<u8>(), 0..800),
    ) {
        let mut data = vec![setup];
        for (slot, features) in features.iter().enumerate() {
            data.extend([op::HELLO, slot as u8, 0, *features]);
        }
        data.extend(steps);
        router_core(&data);
    }
}
