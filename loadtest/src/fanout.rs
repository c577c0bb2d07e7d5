//! `fanout`: S subscribers on one topic, one publisher, a payload size and a
//! rate; reports delivered events per second, loss, order, latency, and the
//! router's CPU time per delivered event.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ringbar_protocol::codec;
use ringbar_protocol::id::RequestId;
use ringbar_protocol::message::{Message, Payload, Publish, Subscribe};
use ringbar_protocol::value::{Dict, Value};

use crate::client::{Session, Target};
use crate::proc_stat;

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Fanout {
    pub(crate) target: Target,
    pub(crate) subscribers: usize,
    pub(crate) payload_bytes: usize,
    /// Publications per second; `None` is as fast as the router takes them.
    pub(crate) rate: Option<u64>,
    pub(crate) duration: Duration,
    pub(crate) router_pid: Option<u32>,
}

/// What one subscriber saw.
struct Seen {
    received: u64,
    out_of_order: u64,
    latency_us: Histogram<u64>,
}

const TOPIC: &str = "com.ringbar.loadtest.fanout";

/// Runs the scenario and prints its report.
pub(crate) async fn run(f: Fanout) -> std::io::Result<()> {
    let clock = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    let ready = Arc::new(AtomicU64::new(0));
    for i in 0..f.subscribers {
        let target = f.target.clone();
        let stop = stop.clone();
        let ready = ready.clone();
        tasks.push(tokio::spawn(async move {
            subscriber(target, i, clock, stop, ready).await
        }));
    }
    while ready.load(Ordering::Acquire) < f.subscribers as u64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("{} subscribers joined and subscribed", f.subscribers);
    let mut publisher = Session::join(&f.target, [0xee; 16]).await?;
    let filler = "x".repeat(f.payload_bytes.saturating_sub(24).max(1));
    let router_cpu_start = f.router_pid.and_then(proc_stat::cpu_seconds);
    let own_cpu_start = proc_stat::own_cpu_seconds();
    let started = Instant::now();
    let mut published: u64 = 0;
    while started.elapsed() < f.duration {
        let due = match f.rate {
            Some(rate) => (started.elapsed().as_secs_f64() * rate as f64) as u64,
            None => published + 256,
        };
        while published < due && publisher.queued() < 256 * 1024 {
            published += 1;
            let now_ns = clock.elapsed().as_nanos() as u64;
            let args = [
                Value::UInt(published),
                Value::UInt(now_ns),
                Value::from(filler.as_str()),
            ];
            let payload = Payload::from_values(publisher.serializer(), &args, None)
                .map_err(std::io::Error::other)?;
            publisher.queue(&Message::Publish(Publish {
                request: RequestId::new(published % (1 << 53)).unwrap_or_default(),
                options: Dict::new(),
                topic: TOPIC.into(),
                payload,
            }))?;
        }
        publisher.flush().await?;
        if f.rate.is_some() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let publish_seconds = started.elapsed().as_secs_f64();
    // Let the last events arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let router_cpu = router_cpu_start
        .zip(f.router_pid.and_then(proc_stat::cpu_seconds))
        .map(|(a, b)| b - a);
    let own_cpu = own_cpu_start
        .zip(proc_stat::own_cpu_seconds())
        .map(|(a, b)| b - a);
    stop.store(true, Ordering::Release);
    let mut received = 0;
    let mut out_of_order = 0;
    let mut latency = Histogram::<u64>::new(3).map_err(std::io::Error::other)?;
    for task in tasks {
        if let Ok(Ok(seen)) = task.await {
            received += seen.received;
            out_of_order += seen.out_of_order;
            let _ = latency.add(&seen.latency_us);
        }
    }
    let expected = published * f.subscribers as u64;
    println!(
        "fanout: {} subscribers, {} B payload, {}",
        f.subscribers,
        f.payload_bytes,
        match f.rate {
            Some(r) => format!("{r} publications/s"),
            None => "max rate".to_owned(),
        }
    );
    println!(
        "  publications/s      {:>12.0}",
        published as f64 / publish_seconds
    );
    println!(
        "  events/s delivered  {:>12.0}",
        received as f64 / publish_seconds
    );
    println!(
        "  delivery ratio      {:>12.6}  ({received} of {expected}, lost {})",
        received as f64 / expected.max(1) as f64,
        expected.saturating_sub(received)
    );
    println!("  out of order        {out_of_order:>12}");
    for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)] {
        println!(
            "  latency {name:<6}      {:>9} us",
            latency.value_at_quantile(q)
        );
    }
    println!("  latency max         {:>9} us", latency.max());
    if let Some(cpu) = router_cpu {
        println!(
            "  router CPU          {:>12.2} s  ({:.0} ns per delivered event, {:.2} cores)",
            cpu,
            cpu * 1e9 / received.max(1) as f64,
            cpu / publish_seconds
        );
    }
    if let Some(cpu) = own_cpu {
        println!(
            "  load generator CPU  {:>12.2} s  ({:.2} cores)",
            cpu,
            cpu / publish_seconds
        );
    }
    if let Some(rss) = f.router_pid.and_then(proc_stat::rss_bytes) {
        println!("  router RSS          {:>9} MiB", rss >> 20);
    }
    Ok(())
}

async fn subscriber(
    target: Target,
    index: usize,
    clock: Instant,
    stop: Arc<AtomicBool>,
    ready: Arc<AtomicU64>,
) -> std::io::Result<Seen> {
    let mut nonce = [0u8; 16];
    nonce[..8].copy_from_slice(&(index as u64).to_le_bytes());
    let mut session = Session::join(&target, nonce).await?;
    session.queue(&Message::Subscribe(Subscribe {
        request: RequestId::new(1).unwrap_or_default(),
        options: Dict::new(),
        topic: TOPIC.into(),
    }))?;
    session.flush().await?;
    match session.recv().await? {
        Some(Message::Subscribed(_)) => {}
        other => {
            return Err(std::io::Error::other(format!(
                "expected SUBSCRIBED, got {other:?}"
            )));
        }
    }
    ready.fetch_add(1, Ordering::Release);
    let mut seen = Seen {
        received: 0,
        out_of_order: 0,
        latency_us: Histogram::new(3).map_err(std::io::Error::other)?,
    };
    let mut last = 0;
    let serializer = session.serializer();
    loop {
        let raw = tokio::select! {
            r = session.recv_raw() => r?,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                if stop.load(Ordering::Acquire) { break } else { continue }
            }
        };
        let Some(raw) = raw else { break };
        let Ok(Message::Event(event)) = codec::decode(serializer, raw) else {
            continue;
        };
        seen.received += 1;
        if let Payload::Arguments(a) = &event.payload
            && let Ok(Value::List(args)) = codec::decode_value(a.serializer, &a.args)
            && let (Some(seq), Some(sent)) = (
                args.first().and_then(Value::as_u64),
                args.get(1).and_then(Value::as_u64),
            )
        {
            if seq <= last {
                seen.out_of_order += 1;
            }
            last = seq;
            let now = clock.elapsed().as_nanos() as u64;
            let _ = seen.latency_us.record(now.saturating_sub(sent) / 1000);
        }
    }
    Ok(seen)
}
