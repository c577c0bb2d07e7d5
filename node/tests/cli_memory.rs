//! What a node costs at rest: memory grows with the core count, not with
//! the square of it (the mailboxes between cores are made on first use);
//! and under a peer that sends requests and reads no answers, it stays
//! bounded.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use support::{Scratch, UNIX_CONFIG, signal, spawn, stderr_of, wait_exit, wait_for_file};

const STARTUP: Duration = Duration::from_secs(60);
const SHUTDOWN: Duration = Duration::from_secs(30);

/// The bound at rest for 64 cores: about 1.6 MiB per core on epoll and
/// 2.2 MiB on io_uring (its rings), measured at 105 and 145 MiB; with a
/// full mailbox per pair of cores it was 835 MiB.
const MAX_RSS_64_CORES_KIB: u64 = 192 * 1024;

/// The bound for a router with the default 4 MiB queue limit under 1 GiB of
/// RawSocket Pings that it must answer and nobody reads.
const MAX_RSS_UNDER_PING_FLOOD_KIB: u64 = 64 * 1024;

/// The resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_gibibyte_of_unread_pongs_stays_bounded() {
    let dir = Scratch::new("rss-pings").with_config(UNIX_CONFIG);
    let mut child = spawn(&["start", dir.arg()]);
    let socket = dir.path.join("router.sock");
    assert!(
        wait_for_file(&socket, &mut child, STARTUP),
        "no router.sock: {}",
        stderr_of(child)
    );
    let mut stream = UnixStream::connect(&socket).unwrap();
    // RawSocket handshake: JSON, messages up to 16 MiB.
    stream.write_all(&[0x7f, 0xf1, 0, 0]).unwrap();
    let mut reply = [0; 4];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(reply[0], 0x7f, "RawSocket handshake refused: {reply:?}");
    // Pings of 64 KiB each (frame type 1): 16,384 of them are 1 GiB.
    let payload = 64 << 10;
    let mut ping = vec![1, 0x01, 0x00, 0x00];
    ping.resize(4 + payload, 7);
    stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut sent = 0usize;
    for _ in 0..16_384 {
        if stream.write_all(&ping).is_err() {
            break;
        }
        sent += ping.len();
    }
    let rss = rss_kib(child.id());
    println!("{rss} KiB of RSS after {sent} bytes of unread Pings");
    signal(&child, "TERM");
    let exit = wait_exit(&mut child, SHUTDOWN);
    assert_eq!(exit.code(), Some(0), "{}", stderr_of(child));
    assert!(
        rss < MAX_RSS_UNDER_PING_FLOOD_KIB,
        "{rss} KiB of RSS after {sent} bytes of unread Pings, the bound is {MAX_RSS_UNDER_PING_FLOOD_KIB} KiB"
    );
}

#[test]
fn sixty_four_cores_at_rest_stay_small() {
    for io in ["epoll", "uring"] {
        let dir = Scratch::new(&format!("rss64-{io}")).with_config(UNIX_CONFIG);
        let mut child = spawn(&["start", dir.arg(), "--cores", "64", "--io", io]);
        assert!(
            wait_for_file(&dir.path.join("node.sock"), &mut child, STARTUP),
            "no node.sock: {}",
            stderr_of(child)
        );
        std::thread::sleep(Duration::from_millis(500));
        let rss_kib = rss_kib(child.id());
        signal(&child, "TERM");
        let exit = wait_exit(&mut child, SHUTDOWN);
        assert_eq!(exit.code(), Some(0), "{}", stderr_of(child));
        assert!(
            rss_kib < MAX_RSS_64_CORES_KIB,
            "--cores 64 --io {io} at rest: {rss_kib} KiB of RSS, the bound is {MAX_RSS_64_CORES_KIB} KiB"
        );
    }
}
