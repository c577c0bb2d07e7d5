//! The Getting Started of issue 7 as a user types it, with processes on
//! free loopback ports: a management service, a node showing its
//! activation code, `ringbar pair` (wrong code, wrong password, right),
//! the node configured as a router and serving a WAMP client, then the
//! service stopped (the node keeps routing) and restarted (the node
//! reconnects), and the node restarted (still paired, no new code).

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ringbar_client::{Credentials, Dict, Session, Url, Value};
use support::{Scratch, free_port, ringbar, run, text};

/// How long any expected log line may take.
const WAIT: Duration = Duration::from_secs(30);

/// A running `ringbar` whose stderr lines are collected; killed on drop.
struct Running {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    name: &'static str,
}

impl Running {
    fn start(name: &'static str, args: &[&str]) -> Self {
        let mut child = ringbar()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let collected = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                collected.lock().unwrap().push(line);
            }
        });
        Running { child, lines, name }
    }

    /// How many lines contain `needle` so far.
    fn count(&self, needle: &str) -> usize {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|line| line.contains(needle))
            .count()
    }

    /// Waits until `times` lines contain `needle`; returns the last one.
    fn wait_for_nth(&self, needle: &str, times: usize) -> String {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            let lines = self.lines.lock().unwrap();
            let found: Vec<&String> = lines.iter().filter(|l| l.contains(needle)).collect();
            if found.len() >= times {
                return found[times - 1].clone();
            }
            drop(lines);
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "{} did not log '{needle}' ({times}x) within {WAIT:?}; it logged:\n{}",
            self.name,
            self.lines.lock().unwrap().join("\n")
        );
    }

    fn wait_for(&self, needle: &str) -> String {
        self.wait_for_nth(needle, 1)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ringbar pair CODE ...` with the password in the environment.
fn pair(code: &str, url: &str, password: &str) -> Output {
    ringbar()
        .args([
            "pair",
            code,
            "--management",
            url,
            "--user",
            "alice",
            "--name",
            "edge1",
        ])
        .env("RINGBAR_PASSWORD", password)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// A session on the node's router publishes with acknowledgement and
/// calls a procedure another session registered.
fn use_router(port: u16) {
    let url = Url::parse(&format!("ws://127.0.0.1:{port}/ws")).unwrap();
    runtime().block_on(async {
        let join = || Session::join(&url, "realm1", &Credentials::Anonymous);
        let mut callee = join().await.unwrap();
        let mut caller = join().await.unwrap();
        callee
            .register("com.example.echo", Dict::new())
            .await
            .unwrap();
        caller
            .publish(
                "com.example.hello",
                vec![Value::from("hi")],
                Dict::new(),
                Dict::new(),
            )
            .await
            .unwrap();
        let serve = async {
            if let ringbar_client::Incoming::Invocation(call) = callee.next().await.unwrap() {
                callee
                    .yield_result(call.request, call.args, Dict::new())
                    .await
                    .unwrap();
            }
        };
        let ask = caller.call("com.example.echo", vec![Value::from(42u64)], Dict::new());
        let ((), result) = tokio::join!(serve, ask);
        assert_eq!(result.unwrap().args, vec![Value::from(42u64)]);
    });
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// An owner's session on the management realm (WAMP-ticket).
async fn owner(url: &str, name: &str, password: &str) -> Session {
    let credentials = Credentials::Ticket {
        authid: name.into(),
        ticket: password.into(),
    };
    Session::join(
        &Url::parse(url).unwrap(),
        "ringbar.management",
        &credentials,
    )
    .await
    .unwrap()
}

/// The management API as owners use it: alice sees and configures her
/// node; bob, another owner, sees nothing of it and cannot act as a node.
fn manage(url: &str, node_key: &str, node: &Running) {
    runtime().block_on(async {
        let mut alice = owner(url, "alice", "correct horse").await;
        let api = |name: &str| format!("ringbar.management.owner.{name}");
        let listed = alice
            .call(&api("list_nodes"), Vec::new(), Dict::new())
            .await
            .unwrap();
        let nodes = listed.args[0].as_list().unwrap();
        assert_eq!(nodes.len(), 1, "{listed:?}");
        let entry = nodes[0].as_dict().unwrap();
        assert_eq!(entry.get("node").and_then(Value::as_str), Some(node_key));
        assert_eq!(entry.get("name").and_then(Value::as_str), Some("edge1"));

        alice
            .subscribe(&api("on_node_status"), Dict::new())
            .await
            .unwrap();
        let key = || vec![Value::from(node_key)];
        // the node reports its status (what `ringbar status` shows)
        let deadline = Instant::now() + WAIT;
        loop {
            let status = alice
                .call(&api("get_node_status"), key(), Dict::new())
                .await
                .unwrap();
            let status = status.args[0].as_dict().unwrap().clone();
            if status.get("online") == Some(&Value::Bool(true)) {
                assert!(status.get("sessions").is_some(), "{status:?}");
                assert!(status.get("transports").is_some(), "{status:?}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the node never reported: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let config = alice
            .call(&api("get_node_config"), key(), Dict::new())
            .await
            .unwrap();
        let config = config.args[0].as_str().unwrap().to_owned();
        assert!(config.contains("realm1"), "{config}");
        let broken = alice
            .call(
                &api("set_node_config"),
                vec![
                    Value::from(node_key),
                    Value::from("{\"version\": 2, \"workers\": []}"),
                ],
                Dict::new(),
            )
            .await
            .unwrap_err();
        assert_eq!(
            broken.uri(),
            Some("ringbar.management.error.invalid_config"),
            "{broken}"
        );
        let changed = config.replace("realm1", "realm2");
        let set = alice
            .call(
                &api("set_node_config"),
                vec![Value::from(node_key), Value::from(changed)],
                Dict::new(),
            )
            .await
            .unwrap();
        assert!(
            set.args[0].as_str().unwrap().contains("next start"),
            "{set:?}"
        );
        node.wait_for("New configuration from the management service cached");
        // back to realm1 for the rest of the test
        alice
            .call(
                &api("set_node_config"),
                vec![Value::from(node_key), Value::from(config)],
                Dict::new(),
            )
            .await
            .unwrap();
        node.wait_for_nth("New configuration from the management service cached", 2);
        // the node's periodic reports reach its owner as events
        let event = tokio::time::timeout(WAIT, alice.next())
            .await
            .unwrap()
            .unwrap();
        let ringbar_client::Incoming::Event(event) = event else {
            panic!("expected a status event, got {event:?}");
        };
        let report = event.args[0].as_dict().unwrap();
        assert_eq!(report.get("node").and_then(Value::as_str), Some(node_key));
        assert_eq!(report.get("online"), Some(&Value::Bool(true)));
        alice.leave().await.unwrap();

        let mut bob = owner(url, "bob", "battery staple").await;
        let listed = bob
            .call(&api("list_nodes"), Vec::new(), Dict::new())
            .await
            .unwrap();
        assert_eq!(listed.args[0].as_list().map(<[Value]>::len), Some(0));
        let theirs = bob
            .call(&api("get_node_config"), key(), Dict::new())
            .await
            .unwrap_err();
        assert_eq!(
            theirs.uri(),
            Some("ringbar.management.error.no_such_node"),
            "{theirs}"
        );
        let as_node = bob
            .call(
                "ringbar.management.node.get_config",
                Vec::new(),
                Dict::new(),
            )
            .await
            .unwrap_err();
        assert_eq!(
            as_node.uri(),
            Some("wamp.error.not_authorized"),
            "{as_node}"
        );
        bob.leave().await.unwrap();
    });
}

/// alice unpairs her node.
fn unpair(url: &str, node_key: &str) {
    runtime().block_on(async {
        let mut alice = owner(url, "alice", "correct horse").await;
        alice
            .call(
                "ringbar.management.owner.unpair_node",
                vec![Value::from(node_key)],
                Dict::new(),
            )
            .await
            .unwrap();
        let listed = alice
            .call(
                "ringbar.management.owner.list_nodes",
                Vec::new(),
                Dict::new(),
            )
            .await
            .unwrap();
        assert_eq!(listed.args[0].as_list().map(<[Value]>::len), Some(0));
        alice.leave().await.unwrap();
    });
}

#[test]
fn getting_started_pairs_a_node_that_then_routes_and_survives_restarts() {
    let root = Scratch::new("pairing");
    std::fs::create_dir_all(&root.path).unwrap();
    let mgmt = root.path.join("mgmt");
    let node = root.path.join("node");
    let (mgmt_arg, node_arg) = (mgmt.to_str().unwrap(), node.to_str().unwrap());
    let (mgmt_port, node_port) = (free_port(), free_port());
    let url = format!("ws://127.0.0.1:{mgmt_port}/ws");

    assert!(run(&["management", "init", mgmt_arg]).status.success());
    for (file, from, to) in [
        ("config.json", 9000, mgmt_port),
        ("node-config.json", 8080, node_port),
    ] {
        let path = mgmt.join(file);
        let config = std::fs::read_to_string(&path).unwrap();
        let edited = config.replace(&format!("\"port\": {from}"), &format!("\"port\": {to}"));
        assert_ne!(config, edited, "{file} has port {from}");
        std::fs::write(&path, edited).unwrap();
    }
    for (name, password) in [("alice", "correct horse"), ("bob", "battery staple")] {
        let added = ringbar()
            .args(["management", "adduser", mgmt_arg, name])
            .env("RINGBAR_PASSWORD", password)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(added.status.success(), "{}", text(&added.stderr));
    }
    let service = Running::start("the management service", &["management", "start", mgmt_arg]);
    service.wait_for("Management API ready");

    assert!(
        run(&["init", node_arg, "--management", &url])
            .status
            .success()
    );
    // no fixed ports in tests: drop any other node-wide listener `init`
    // configures (e.g. a metrics endpoint), keep the uplink
    let node_config = node.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&node_config).unwrap()).unwrap();
    let settings = config["ringbar"].as_object_mut().unwrap();
    settings.retain(|key, _| key == "management");
    std::fs::write(&node_config, config.to_string()).unwrap();
    let first = Running::start("the node", &["start", node_arg, "--cores", "1"]);
    first.wait_for(&format!("Connected to management service at {url}."));
    let line = first.wait_for("Activation code: ");
    let code = line
        .rsplit("Activation code: ")
        .next()
        .unwrap()
        .trim()
        .to_owned();

    // a wrong code, a wrong password, then the right ones
    assert!(
        code.len() == 14 && code.split('-').all(|group| group.len() == 4),
        "not an activation code of Crossbar.io's form: {code}"
    );
    let wrong_code = if code == "AAAA-AAAA-AAAA" {
        "CCCC-CCCC-CCCC"
    } else {
        "AAAA-AAAA-AAAA"
    };
    let wrong = pair(wrong_code, &url, "correct horse");
    assert_eq!(wrong.status.code(), Some(2), "{}", text(&wrong.stderr));
    assert!(text(&wrong.stderr).contains("ringbar.management.error.invalid_code"));
    let refused = pair(&code, &url, "wrong horse");
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("check the user name and password"));
    let paired = pair(&code, &url, "correct horse");
    assert!(paired.status.success(), "{}", text(&paired.stderr));
    assert!(
        text(&paired.stdout).contains("Node 'edge1' ("),
        "{}",
        text(&paired.stdout)
    );
    assert!(text(&paired.stdout).contains("is paired with owner 'alice'."));
    // the code was one-time
    let again = pair(&code, &url, "correct horse");
    assert_eq!(again.status.code(), Some(2));

    first.wait_for("Instance paired. Owner is 'alice'.");
    first.wait_for("Configured as router.");
    first.wait_for("Starting routing service.");
    first.wait_for(&format!(
        "Starting WebSocket transport on port {node_port}."
    ));
    first.wait_for("Instance started.");
    assert!(node.join("managed-config.json").is_file());
    use_router(node_port);
    let stdout = text(&paired.stdout);
    let node_key = stdout.split(['(', ')']).nth(1).unwrap().to_owned();
    manage(&url, &node_key, &first);

    // the service goes away: the node keeps routing; it comes back: the
    // node reconnects
    assert!(run(&["stop", mgmt_arg]).status.success());
    drop(service);
    first.wait_for(&format!("Management service at {url} lost"));
    use_router(node_port);
    let service = Running::start("the management service", &["management", "start", mgmt_arg]);
    first.wait_for_nth(&format!("Connected to management service at {url}."), 3);

    // the node restarts: still paired, same config, no new code
    assert!(run(&["stop", node_arg]).status.success());
    drop(first);
    let second = Running::start("the restarted node", &["start", node_arg, "--cores", "1"]);
    second.wait_for("Configured as router.");
    second.wait_for("Instance started.");
    second.wait_for(&format!("Connected to management service at {url}."));
    use_router(node_port);
    assert_eq!(second.count("Activation code"), 0);
    assert!(run(&["stop", node_arg]).status.success());
    drop(second);
    unpair(&url, &node_key);
    assert!(run(&["stop", mgmt_arg]).status.success());
    drop(service);

    let nodes = run(&["management", "nodes", mgmt_arg]);
    assert!(
        text(&nodes.stdout).contains("edge1  not paired"),
        "{}",
        text(&nodes.stdout)
    );
}
