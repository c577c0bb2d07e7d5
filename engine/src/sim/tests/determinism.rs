//! One seed, one run: the ids the router draws follow from the
//! simulation's seed.

use super::*;

/// The session, subscription, publication and registration ids of a small
/// scenario on a router seeded with `seed`.
fn ids(seed: u64) -> Vec<u64> {
    let mut setup = Setup::new(2);
    setup.seed = seed;
    let mut sim = Sim::new(setup);
    let (subscriber, first) = joined(&mut sim, 0, Serializer::Json, "realm1");
    let (publisher, second) = joined(&mut sim, 1, Serializer::Cbor, "realm1");
    let subscription = subscribe(&mut sim, subscriber, "com.seeded", Dict::new());
    publish(&mut sim, publisher, "com.seeded", Dict::new(), &[]);
    let publication = event(&mut sim, subscriber).publication;
    let registration = register(&mut sim, publisher, "com.seeded", Dict::new());
    vec![
        first.get(),
        second.get(),
        subscription.get(),
        publication.get(),
        registration.get(),
    ]
}

#[test]
fn the_same_seed_draws_the_same_ids_and_another_seed_others() {
    let run = ids(42);
    assert_eq!(ids(42), run);
    let other = ids(43);
    assert!(
        run.iter().zip(&other).all(|(a, b)| a != b),
        "{run:?} and {other:?}"
    );
}
