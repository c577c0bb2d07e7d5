//! A deterministic simulation of a router, for tests (quinn-proto's test
//! `Pair` is the model): its cores on one thread, the mail between them
//! delivered by the simulation (in order, core by core or until the router
//! is quiet), a manual clock, and clients that send and read WAMP messages.
//! No port is bound and no thread started, but for authentication's slow
//! work (password hashes), which the simulation waits for.
//!
//! One seed drives everything random in the router: session, publication,
//! subscription and registration ids, and the `random` invocation policy.
//! The same seed and the same steps give the same run.
//!
//! Time is tokio's paused clock today; only this module knows, so that the
//! tests stay as they are when the sans-IO router core takes `now`.

pub(crate) mod invariants;
mod link;
pub(crate) mod setup;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use ringbar_protocol::codec::Serializer;
use ringbar_protocol::message::Message;
use tokio::runtime::Runtime;
use tokio::task::LocalSet;

use crate::config::AuthConfig;
use crate::drivers::RuntimeClock;
use crate::slow_work::SlowWork;
use link::Link;
use ringbar_router::core::realms::Realms;
use ringbar_router::core::seed::Seeds;
use ringbar_router::core::{Core, Drivers, Shared};
pub(crate) use setup::Setup;

/// A client connection of a simulation (the order it was made in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ClientId(usize);

/// Rounds of "run the tasks, deliver the mail, read the queues" before a
/// router that does not go quiet is a bug (each round moves a message one
/// hop: call, invocation, answer, ...).
const MAX_ROUNDS: usize = 1000;

/// Polls of the simulation's tasks per round: enough for a message to go
/// through a session's reader and the timers that fired.
const TASK_TURNS: usize = 16;

/// How long the simulation waits for slow work on other threads.
const MAX_SLOW_WORK: Duration = Duration::from_secs(60);

/// A router of [`Setup`]'s cores and realms, and its clients.
pub(crate) struct Sim {
    /// Dropped before the clock that runs its tasks.
    world: World,
    clock: Clock,
}

/// The router and the clients.
struct World {
    shared: Arc<Shared>,
    /// The slow-work pool of `shared`, whose jobs a step waits for.
    slow_work: Arc<SlowWork>,
    cores: Vec<Rc<Core>>,
    auth: Arc<AuthConfig>,
    links: Vec<Link>,
}

/// The runtime the cores' tasks (session readers, timers) run on, with its
/// clock paused: time moves only when [`Sim::advance`] says.
struct Clock {
    local: LocalSet,
    runtime: Runtime,
}

impl Sim {
    /// The router `setup` describes, with no client yet.
    pub(crate) fn new(setup: Setup) -> Self {
        let slow_work = Arc::new(SlowWork::new(setup.cores / 2));
        let drivers = Drivers {
            clock: Arc::new(RuntimeClock),
            slow_work: slow_work.clone(),
        };
        let shared = Arc::new(Shared::new(
            Realms::new(
                &setup.realms,
                Seeds::replay(setup.seed),
                std::time::SystemTime::now(),
            ),
            setup.cores,
            setup.flow,
            setup.limits,
            "simulated",
            drivers,
        ));
        let cores = (0..setup.cores)
            .map(|id| Rc::new(Core::new(id, shared.clone())))
            .collect();
        Self {
            world: World {
                shared,
                slow_work,
                cores,
                auth: Arc::new(setup.auth),
                links: Vec::new(),
            },
            clock: Clock::new(),
        }
    }

    /// A new client connection on core `core` (modulo the cores), speaking
    /// `serializer`.
    pub(crate) fn connect(&mut self, core: usize, serializer: Serializer) -> ClientId {
        let world = &mut self.world;
        let core = world.cores[core % world.cores.len()].clone();
        let auth = world.auth.clone();
        let link = self
            .clock
            .run(async move { Link::open(&core, serializer, auth) });
        world.links.push(link);
        ClientId(world.links.len() - 1)
    }

    /// The client sends `message`; its session handles it at once, as a
    /// transport that read it. Mail it causes waits for delivery.
    pub(crate) fn send(&mut self, client: ClientId, message: Message) {
        self.world.link(client).send(&message);
        self.clock.run(run_tasks());
    }

    /// The client sends `messages` at once: the router finds them in one
    /// read, each followed at once by the next.
    pub(crate) fn send_together(&mut self, client: ClientId, messages: &[Message]) {
        for message in messages {
            self.world.link(client).send(message);
        }
        self.clock.run(run_tasks());
    }

    /// The client hangs up; its session leaves.
    pub(crate) fn hang_up(&mut self, client: ClientId) {
        self.world.link_mut(client).hang_up();
        self.clock.run(run_tasks());
    }

    /// Whether the client may still send (it did not hang up, and the
    /// router did not close its connection).
    pub(crate) fn is_open(&self, client: ClientId) -> bool {
        self.world.link(client).is_open()
    }

    /// The client reads what is queued for it now, delivering nothing.
    pub(crate) fn read(&mut self, client: ClientId) {
        let link = self.world.link_mut(client);
        self.clock.run(link.read());
    }

    /// The next message the client read, without driving the router.
    pub(crate) fn take(&mut self, client: ClientId) -> Option<Message> {
        self.world.link_mut(client).inbox.pop_front()
    }

    /// Core `core` takes the mail other cores sent it, in the order sent;
    /// returns how much.
    pub(crate) fn deliver(&mut self, core: usize) -> usize {
        let delivered = self.world.deliver(core);
        self.clock.run(run_tasks());
        delivered
    }

    /// Runs the router until it is quiet: tasks run, every core takes its
    /// mail, reading clients read, connections the router closed end;
    /// again, until nothing moves. Time stands still.
    pub(crate) fn drive(&mut self) {
        let world = &mut self.world;
        self.clock.run(world.drive());
    }

    /// Moves the clock by `by`; the timers that ran out fire: each core's
    /// (as its timer task would serve them) and the tasks' own.
    pub(crate) fn advance(&mut self, by: Duration) {
        let cores = self.world.cores.clone();
        self.clock.run(async move {
            tokio::time::advance(by).await;
            for core in &cores {
                ringbar_router::core::inputs::expire_timers(core);
            }
            run_tasks().await;
        });
    }

    /// What the cores share (realms, mailboxes, session ids).
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.world.shared
    }

    /// The cores.
    pub(crate) fn cores(&self) -> &[Rc<Core>] {
        &self.world.cores
    }

    /// The clients whose connection ended but is still held by the router
    /// (a session that left and leaked).
    pub(crate) fn held_after_the_end(&self) -> Vec<ClientId> {
        (0..self.world.links.len())
            .map(ClientId)
            .filter(|c| {
                let link = self.world.link(*c);
                !link.is_open() && !link.is_released()
            })
            .collect()
    }
}

/// What only the tests ask of a simulation (the fuzz target drives it
/// step by step).
#[cfg(test)]
impl Sim {
    /// What the client speaks.
    pub(crate) fn serializer(&self, client: ClientId) -> Serializer {
        self.world.link(client).serializer
    }

    /// Whether the client reads what the router queues for it; one that
    /// does not lets its queue fill.
    pub(crate) fn set_reading(&mut self, client: ClientId, reading: bool) {
        self.world.link_mut(client).reading = reading;
    }

    /// Drives the router until it is quiet, then the next message the
    /// client got.
    pub(crate) fn recv(&mut self, client: ClientId) -> Option<Message> {
        self.drive();
        self.read(client);
        self.take(client)
    }

    /// Every message the client got, once the router is quiet.
    pub(crate) fn recv_all(&mut self, client: ClientId) -> Vec<Message> {
        self.drive();
        self.read(client);
        self.world.link_mut(client).inbox.drain(..).collect()
    }
}

impl World {
    fn link(&self, client: ClientId) -> &Link {
        &self.links[client.0]
    }

    fn link_mut(&mut self, client: ClientId) -> &mut Link {
        &mut self.links[client.0]
    }

    fn deliver(&self, core: usize) -> usize {
        let Some(core) = self.cores.get(core) else {
            return 0;
        };
        ringbar_router::core::inputs::handle_all_mail(core)
    }

    async fn drive(&mut self) {
        for _ in 0..MAX_ROUNDS {
            run_tasks().await;
            let waited = self.wait_for_slow_work().await;
            let mut moved = usize::from(waited);
            for core in 0..self.cores.len() {
                moved += self.deliver(core);
            }
            for link in &mut self.links {
                if link.reading {
                    moved += link.read().await;
                }
                moved += usize::from(link.notice_close());
            }
            if moved == 0 {
                return;
            }
        }
        fail("the router never went quiet");
    }

    /// Waits for the slow work sessions asked for (it runs on other
    /// threads); returns whether there was any.
    async fn wait_for_slow_work(&self) -> bool {
        let started = std::time::Instant::now();
        let mut waited = false;
        while !self.slow_work.is_idle() {
            if started.elapsed() > MAX_SLOW_WORK {
                fail("slow work never finished");
            }
            waited = true;
            std::thread::sleep(Duration::from_micros(200));
            run_tasks().await;
        }
        waited
    }
}

impl Clock {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap_or_else(|e| fail(&format!("no runtime for the simulation: {e}")));
        Self {
            local: LocalSet::new(),
            runtime,
        }
    }

    /// Runs `f` with the cores' tasks.
    fn run<F: Future>(&self, f: F) -> F::Output {
        self.local.block_on(&self.runtime, f)
    }
}

/// Lets the tasks that can run (session readers, timers that fired) run.
async fn run_tasks() {
    for _ in 0..TASK_TURNS {
        tokio::task::yield_now().await;
    }
}

/// A simulation broke: the router did what it must never do, or a test
/// misused the simulation.
// Failing loudly is a test harness's job.
#[allow(clippy::panic)]
fn fail(what: &str) -> ! {
    panic!("simulation: {what}")
}
