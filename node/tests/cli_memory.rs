//! What a node costs at rest: memory grows with the core count, not with
//! the square of it (the mailboxes between cores are made on first use).

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use support::{Scratch, UNIX_CONFIG, signal, spawn, stderr_of, wait_exit, wait_for_file};

const STARTUP: Duration = Duration::from_secs(60);
const SHUTDOWN: Duration = Duration::from_secs(30);

/// The bound at rest for 64 cores: about 1.6 MiB per core on epoll and
/// 2.2 MiB on io_uring (its rings), measured at 105 and 145 MiB; with a
/// full mailbox per pair of cores it was 835 MiB.
const MAX_RSS_64_CORES_KIB: u64 = 192 * 1024;

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
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
        let rss_kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        signal(&child, "TERM");
        let exit = wait_exit(&mut child, SHUTDOWN);
        assert_eq!(exit.code(), Some(0), "{}", stderr_of(child));
        assert!(
            rss_kib < MAX_RSS_64_CORES_KIB,
            "--cores 64 --io {io} at rest: {rss_kib} KiB of RSS, the bound is {MAX_RSS_64_CORES_KIB} KiB"
        );
    }
}
