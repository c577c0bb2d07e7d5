//! The Getting Started of issue 7 as a user types it, with processes on
//! free loopback ports: a management service, a node showing its
//! activation code, `ringbar pair` (wrong code, wrong password, right),
//! the node configured as a router and serving a WAMP client, then the
//! service stopped (the node keeps routing) and restarted (the node
//! reconnects), and the node restarted (still paired, no new code). The
//! owner hands the node a config with a PostgreSQL bridge beside the
//! router, and the node says it is both (issue 15, §5).

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
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

/// `ringbar pair CODE ... EXTRA...` with the password in the environment.
fn pair(code: &str, url: &str, password: &str, extra: &[&str]) -> Output {
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
        .args(extra)
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
            set.args[0].as_str().unwrap().contains("starts again"),
            "{set:?}"
        );
        node.wait_for("New configuration from the management service cached");
        node.wait_for("Reconfiguring: stopping the router to start the node again");
        // back to realm1 for the rest of the test, now with a PostgreSQL
        // bridge beside the router (its database need not be there)
        alice
            .call(
                &api("set_node_config"),
                vec![
                    Value::from(node_key),
                    Value::from(with_postgresql_bridge(&config)),
                ],
                Dict::new(),
            )
            .await
            .unwrap();
        node.wait_for_nth("New configuration from the management service cached", 2);
        node.wait_for_nth("Reconfiguring: ", 2);
        node.wait_for_nth("Instance started.", 3);
        node.wait_for("Configured as PostgreSQL bridge.");
        node.wait_for_nth("Configured as router.", 3);
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

/// `config` (a node config's text) with a `postgresql-bridge` worker
/// joined to the node's own router.
fn with_postgresql_bridge(config: &str) -> String {
    let mut config: serde_json::Value = serde_json::from_str(config).unwrap();
    config["workers"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "type": "postgresql-bridge", "id": "pg1",
            "router": {"realm": "realm1"},
            "database": {"host": "127.0.0.1", "port": free_port(), "dbname": "app",
                         "user": "app", "password": "app", "connect_timeout_ms": 1000},
            "publisher": true
        }));
    config.to_string()
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

/// `ringbar management init DIR` with the service on `mgmt_port` and
/// paired nodes' routers on `node_port`, and the owners alice and bob.
fn management_dir(dir: &Path, mgmt_port: u16, node_port: u16) {
    assert!(
        run(&["management", "init", dir.to_str().unwrap()])
            .status
            .success()
    );
    for (file, from, to) in [
        ("config.json", 9000, mgmt_port),
        ("node-config.json", 8080, node_port),
    ] {
        let path = dir.join(file);
        let config = std::fs::read_to_string(&path).unwrap();
        let edited = config.replace(&format!("\"port\": {from}"), &format!("\"port\": {to}"));
        assert_ne!(config, edited, "{file} has port {from}");
        std::fs::write(&path, edited).unwrap();
    }
    for (name, password) in [("alice", "correct horse"), ("bob", "battery staple")] {
        let added = ringbar()
            .args(["management", "adduser", dir.to_str().unwrap(), name])
            .env("RINGBAR_PASSWORD", password)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(added.status.success(), "{}", text(&added.stderr));
    }
}

/// `ringbar init DIR ARGS...` (e.g. `--management URL`), with no
/// node-wide listener but the uplink (no fixed ports in tests: `init` may
/// configure e.g. a metrics endpoint).
fn init_node(dir: &Path, args: &[&str]) {
    let output = run(&[&["init", dir.to_str().unwrap()], args].concat());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let node_config = dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&node_config).unwrap()).unwrap();
    let settings = config["ringbar"].as_object_mut().unwrap();
    settings.retain(|key, _| key == "management");
    std::fs::write(&node_config, config.to_string()).unwrap();
}

/// The activation code in a node's `Log into URL to configure your
/// instance using the activation code: CODE` line.
fn activation_code(line: &str) -> String {
    line.rsplit("using the activation code: ")
        .next()
        .unwrap()
        .trim()
        .to_owned()
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

    management_dir(&mgmt, mgmt_port, node_port);
    let service = Running::start("the management service", &["management", "start", mgmt_arg]);
    service.wait_for("Management API ready");

    init_node(&node, &["--management", &url]);
    let first = Running::start("the node", &["start", node_arg, "--cores", "1"]);
    first.wait_for(&format!("Connected to management service at {url}."));
    let code = activation_code(&first.wait_for("using the activation code: "));

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
    let wrong = pair(wrong_code, &url, "correct horse", &[]);
    assert_eq!(wrong.status.code(), Some(2), "{}", text(&wrong.stderr));
    assert!(text(&wrong.stderr).contains("ringbar.management.error.invalid_code"));
    let refused = pair(&code, &url, "wrong horse", &[]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("check the user name and password"));
    let paired = pair(&code, &url, "correct horse", &[]);
    assert!(paired.status.success(), "{}", text(&paired.stderr));
    assert!(
        text(&paired.stdout).contains("Node 'edge1' ("),
        "{}",
        text(&paired.stdout)
    );
    assert!(text(&paired.stdout).contains("is paired with owner 'alice'."));
    // the code was one-time
    let again = pair(&code, &url, "correct horse", &[]);
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
    // the API is there once the backend joined, which may be after the node
    service.wait_for("Management API ready");
    first.wait_for_nth(&format!("Connected to management service at {url}."), 3);

    // the node restarts: still paired, same config, no new code
    assert!(run(&["stop", node_arg]).status.success());
    drop(first);
    let second = Running::start("the restarted node", &["start", node_arg, "--cores", "1"]);
    second.wait_for("Configured as PostgreSQL bridge.");
    second.wait_for("Configured as router.");
    second.wait_for("Instance started.");
    second.wait_for(&format!("Connected to management service at {url}."));
    use_router(node_port);
    assert_eq!(second.count("using the activation code"), 0);
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

/// A test CA and a certificate for 127.0.0.1 that it signed, in `dir`:
/// `ca.pem`, `server.crt`, `server.key`; the CA file.
fn test_certificates(dir: &Path) -> std::path::PathBuf {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("server.crt"), server.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    dir.join("ca.pem")
}

/// Adds a WebSocket transport on TLS on `port` to the management
/// service's config in `dir` (its certificate from [`test_certificates`]);
/// the plain one stays on loopback for the service's own backend.
fn serve_wss(dir: &Path, port: u16) {
    let path = dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let transports = config["workers"][0]["transports"].as_array_mut().unwrap();
    let mut tls = transports[0].clone();
    tls["endpoint"]["port"] = port.into();
    tls["endpoint"]["tls"] = serde_json::json!({"key": "server.key", "certificate": "server.crt"});
    transports.push(tls);
    std::fs::write(&path, config.to_string()).unwrap();
}

/// The key a management service logs at start.
fn service_key(service: &Running) -> String {
    let line = service.wait_for("Management service key: ");
    let key = line.split("Management service key: ").nth(1).unwrap();
    key.split(' ').next().unwrap().to_owned()
}

#[test]
fn over_wss_the_node_pins_its_service_and_refuses_another() {
    let root = Scratch::new("pairing-wss");
    std::fs::create_dir_all(&root.path).unwrap();
    let (mgmt, node) = (root.path.join("mgmt"), root.path.join("node"));
    let (mgmt_arg, node_arg) = (mgmt.to_str().unwrap(), node.to_str().unwrap());
    let (mgmt_port, wss_port, node_port) = (free_port(), free_port(), free_port());
    let wss = format!("wss://127.0.0.1:{wss_port}/ws");
    management_dir(&mgmt, mgmt_port, node_port);
    let ca = test_certificates(&mgmt);
    let ca_arg = ca.to_str().unwrap();
    serve_wss(&mgmt, wss_port);
    let service = Running::start("the management service", &["management", "start", mgmt_arg]);
    service.wait_for("Management API ready");
    let key = service_key(&service);

    // the node learns the service's key when it is first paired
    init_node(&node, &["--management", &wss, "--management-ca", ca_arg]);
    let first = Running::start("the node", &["start", node_arg, "--cores", "1"]);
    let code = activation_code(&first.wait_for("using the activation code: "));
    assert!(
        !node.join("management-key.pub").exists(),
        "pinned before pairing"
    );
    // the password crosses a network only on TLS; the system's roots do
    // not know the test CA
    let plain = pair(&code, "ws://192.0.2.1:9000/ws", "correct horse", &[]);
    assert_eq!(plain.status.code(), Some(2), "{}", text(&plain.stderr));
    assert!(
        text(&plain.stderr).contains("--allow-plain-ws"),
        "{}",
        text(&plain.stderr)
    );
    let unknown_ca = pair(&code, &wss, "correct horse", &[]);
    assert_eq!(
        unknown_ca.status.code(),
        Some(1),
        "{}",
        text(&unknown_ca.stderr)
    );
    assert!(
        text(&unknown_ca.stderr).contains("TLS handshake"),
        "{}",
        text(&unknown_ca.stderr)
    );
    let paired = pair(&code, &wss, "correct horse", &["--management-ca", ca_arg]);
    assert!(paired.status.success(), "{}", text(&paired.stderr));
    first.wait_for("Instance paired. Owner is 'alice'.");
    let pinned = first.wait_for("(trust on first use)");
    assert!(
        pinned.contains(&format!("Management service key {key} pinned in ")),
        "{pinned}"
    );
    let file = std::fs::read_to_string(node.join("management-key.pub")).unwrap();
    assert!(
        file.contains(&format!("public-key-ed25519: {key}\n")),
        "{file}"
    );
    first.wait_for("Instance started.");

    // a managed config may not serve the node directory
    let node_key = text(&paired.stdout)
        .split(['(', ')'])
        .nth(1)
        .unwrap()
        .to_owned();
    let served = serde_json::json!({
        "version": 2,
        "workers": [{"type": "router",
            "realms": [{"name": "realm1", "roles": [{"name": "anonymous", "permissions": []}]}],
            "transports": [{"type": "web", "endpoint": {"type": "tcp", "port": node_port},
                "paths": {"/": {"type": "static", "directory": node_arg}}}]}]
    });
    let url = format!("ws://127.0.0.1:{mgmt_port}/ws");
    runtime().block_on(async {
        let mut alice = owner(&url, "alice", "correct horse").await;
        alice
            .call(
                "ringbar.management.owner.set_node_config",
                vec![
                    Value::from(node_key.as_str()),
                    Value::from(served.to_string()),
                ],
                Dict::new(),
            )
            .await
            .unwrap();
        alice.leave().await.unwrap();
    });
    let refused = first.wait_for("cannot run; keeping the current one");
    let refusal = first.wait_for("which holds the node's private key");
    assert!(
        refusal.contains("paths./.directory"),
        "{refused}\n{refusal}"
    );

    // another service at the same address, after a restart of the node:
    // the pinned key is kept, the impostor is refused with both keys named
    assert!(run(&["stop", mgmt_arg]).status.success());
    drop(service);
    assert!(run(&["stop", node_arg]).status.success());
    drop(first);
    let impostor = root.path.join("impostor");
    management_dir(&impostor, mgmt_port, node_port);
    std::fs::copy(mgmt.join("server.crt"), impostor.join("server.crt")).unwrap();
    std::fs::copy(mgmt.join("server.key"), impostor.join("server.key")).unwrap();
    serve_wss(&impostor, wss_port);
    let impostor_arg = impostor.to_str().unwrap();
    let other = Running::start("the impostor", &["management", "start", impostor_arg]);
    let other_key = service_key(&other);
    assert_ne!(other_key, key);
    let second = Running::start("the restarted node", &["start", node_arg, "--cores", "1"]);
    second.wait_for("Instance started.");
    let refusal = second.wait_for("Refusing the management service at ");
    assert!(
        refusal.contains(&format!(
            "it proved the key {other_key}, but this node trusts {key}"
        )),
        "{refusal}"
    );
    assert!(refusal.contains("management-key.pub"), "{refusal}");
    assert_eq!(second.count("Connected to management service"), 0);

    // a node given the service's key at init joins only that service
    let given = root.path.join("given");
    init_node(
        &given,
        &[
            "--management",
            &wss,
            "--management-ca",
            ca_arg,
            "--management-key",
            &key,
        ],
    );
    let third = Running::start("the node given a key", &["start", given.to_str().unwrap()]);
    let refusal = third.wait_for("Refusing the management service at ");
    assert!(
        refusal.contains(&format!("but this node trusts {key}")),
        "{refusal}"
    );
    assert_eq!(third.count("using the activation code"), 0);
    drop(third);
    assert!(run(&["stop", impostor_arg]).status.success());
    drop(other);
    let service = Running::start("the management service", &["management", "start", mgmt_arg]);
    let third = Running::start("the node given a key", &["start", given.to_str().unwrap()]);
    third.wait_for(&format!("Connected to management service at {wss}."));
    third.wait_for("using the activation code: ");
    drop(third);
    assert!(run(&["stop", node_arg]).status.success());
    drop(second);
    assert!(run(&["stop", mgmt_arg]).status.success());
    drop(service);
}
