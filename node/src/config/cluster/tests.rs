//! `ringbar.cluster`: what each setting becomes, and the exact message of
//! every mistake.

use super::*;
use crate::config::diag::ReadOn;
use crate::config::settings::Overrides;
use serde_json::json;

const SEED: &str = "SUAMLK2ZNL35WSMW37E7UD4VZ7ELPKW7DHC3BWBSD2GCZ7IUQQXZIORRBU";

fn env(name: &str) -> Option<String> {
    match name {
        "NATS_TOKEN" => Some("token-from-env".into()),
        "NATS_PASSWORD" => Some("password-from-env".into()),
        "NATS_SEED" => Some(SEED.into()),
        _ => None,
    }
}

/// A node directory with the files a cluster may name.
struct NodeDir(PathBuf);

impl NodeDir {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("ringbar-cluster-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for file in ["ca.pem", "client.pem", "client.key", "node.creds"] {
            std::fs::write(dir.join(file), "x").unwrap();
        }
        NodeDir(dir)
    }
}

impl Drop for NodeDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run_on(dir: &FsPath, cluster: &Value, read_on: ReadOn) -> (Option<ClusterConfig>, Vec<String>) {
    let mut diag = Diagnostics::read_on("config.json", read_on);
    let realms = ["realm1".to_owned(), "realm2".to_owned()];
    let cores = Cores {
        count: 4,
        from: CoresFrom::File,
    };
    let config = convert(cluster, &realms, cores, dir, &env, &mut diag);
    let errors = diag.errors().iter().map(ToString::to_string).collect();
    (config, errors)
}

fn run(dir: &FsPath, cluster: &Value) -> (Option<ClusterConfig>, Vec<String>) {
    run_on(dir, cluster, ReadOn::TheNode)
}

/// The smallest valid cluster, with `nats` merged into its `nats` and
/// `extra` into it.
fn cluster(nats: Value, extra: Value) -> Value {
    let mut cluster = json!({
        "node": "node-a",
        "realms": ["realm1"],
        "nats": {"servers": ["nats://127.0.0.1:4222"]}
    });
    if let (Some(to), Some(from)) = (cluster["nats"].as_object_mut(), nats.as_object()) {
        to.extend(from.clone());
    }
    if let (Some(to), Some(from)) = (cluster.as_object_mut(), extra.as_object()) {
        to.extend(from.clone());
    }
    cluster
}

#[test]
fn a_full_cluster_is_read() {
    let dir = NodeDir::new("full");
    let value = json!({
        "node": "node_A-1",
        "realms": ["realm2", "realm1"],
        "nats": {
            "servers": ["nats://127.0.0.1:4222", "tls://nats.example.com:4443", "nats://[::1]:4222"],
            "user": "ringbar",
            "password": "p",
            "tls": {
                "ca_certificates": ["ca.pem"],
                "certificate": "client.pem",
                "key": "client.key"
            }
        },
        "subject_prefix": "prod.ringbar",
        "heartbeat_ms": 500,
        "failure_timeout_ms": 1500
    });
    let (config, errors) = run(&dir.0, &value);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        config,
        Some(ClusterConfig {
            node: "node_A-1".into(),
            realms: vec!["realm2".into(), "realm1".into()],
            nats: NatsConfig {
                servers: vec![
                    "nats://127.0.0.1:4222".into(),
                    "tls://nats.example.com:4443".into(),
                    "nats://[::1]:4222".into()
                ],
                auth: NatsAuth::UserPassword {
                    user: "ringbar".into(),
                    password: "p".into()
                },
                tls: Some(NatsTls {
                    ca_certificates: vec![dir.0.join("ca.pem")],
                    client: Some((dir.0.join("client.pem"), dir.0.join("client.key"))),
                }),
            },
            subject_prefix: "prod.ringbar".into(),
            heartbeat: Duration::from_millis(500),
            failure_timeout: Duration::from_millis(1500),
        })
    );
}

#[test]
fn defaults() {
    let dir = NodeDir::new("defaults");
    let (config, errors) = run(&dir.0, &cluster(json!({}), json!({})));
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        config,
        Some(ClusterConfig {
            node: "node-a".into(),
            realms: vec!["realm1".into()],
            nats: NatsConfig {
                servers: vec!["nats://127.0.0.1:4222".into()],
                auth: NatsAuth::None,
                tls: None,
            },
            subject_prefix: DEFAULT_SUBJECT_PREFIX.into(),
            heartbeat: DEFAULT_CLUSTER_HEARTBEAT,
            failure_timeout: DEFAULT_CLUSTER_FAILURE_TIMEOUT,
        })
    );
    let (config, _) = run(&dir.0, &cluster(json!({"tls": {}}), json!({})));
    assert_eq!(config.unwrap().nats.tls, Some(NatsTls::default()));
}

#[test]
fn each_way_to_log_in_is_read() {
    let dir = NodeDir::new("auth");
    let cases = [
        (json!({"token": "s3cret"}), NatsAuth::Token("s3cret".into())),
        (json!({"nkey_seed": SEED}), NatsAuth::Nkey(SEED.into())),
        (
            json!({"credentials": "node.creds"}),
            NatsAuth::CredentialsFile(dir.0.join("node.creds")),
        ),
    ];
    for (nats, auth) in cases {
        let (config, errors) = run(&dir.0, &cluster(nats.clone(), json!({})));
        assert!(errors.is_empty(), "{nats}: {errors:?}");
        assert_eq!(config.unwrap().nats.auth, auth, "{nats}");
    }
}

#[test]
fn secrets_may_name_environment_variables() {
    let dir = NodeDir::new("env");
    let cases = [
        (
            json!({"token": "$NATS_TOKEN"}),
            NatsAuth::Token("token-from-env".into()),
        ),
        (
            json!({"user": "u", "password": "${NATS_PASSWORD}"}),
            NatsAuth::UserPassword {
                user: "u".into(),
                password: "password-from-env".into(),
            },
        ),
        (
            json!({"nkey_seed": "$NATS_SEED"}),
            NatsAuth::Nkey(SEED.into()),
        ),
    ];
    for (nats, auth) in cases {
        let (config, errors) = run(&dir.0, &cluster(nats.clone(), json!({})));
        assert!(errors.is_empty(), "{nats}: {errors:?}");
        assert_eq!(config.unwrap().nats.auth, auth, "{nats}");
    }
    let (config, errors) = run(&dir.0, &cluster(json!({"token": "$NO_SUCH"}), json!({})));
    assert_eq!(config, None);
    assert_eq!(
        errors,
        [
            "config.json: ringbar.cluster.nats.token: environment variable NO_SUCH is not set (it holds this secret)"
        ]
    );
}

#[test]
fn every_mistake_is_named_with_the_fix() {
    let dir = NodeDir::new("errors");
    let d = dir.0.display();
    let cases = [
        (
            cluster(json!({}), json!({"node": "node a"})),
            "ringbar.cluster.node: \"node a\" is not a node name: give this node a name unique in the cluster, 1 to 64 of A-Z, a-z, 0-9, _, -".to_owned(),
        ),
        (
            cluster(json!({}), json!({"node": "n".repeat(65)})),
            format!(
                "ringbar.cluster.node: \"{}\" is not a node name: give this node a name unique in the cluster, 1 to 64 of A-Z, a-z, 0-9, _, -",
                "n".repeat(65)
            ),
        ),
        (
            cluster(json!({}), json!({"realms": []})),
            "ringbar.cluster.realms: no realms: list the realms this node shares with the cluster, e.g. [\"realm1\"]".to_owned(),
        ),
        (
            cluster(json!({}), json!({"realms": ["realm9"]})),
            "ringbar.cluster.realms[0]: \"realm9\" is not a realm of the router (its realms are: realm1, realm2)".to_owned(),
        ),
        (
            cluster(json!({}), json!({"realms": ["realm1", "realm2", "realm1"]})),
            "ringbar.cluster.realms[2]: \"realm1\" is listed twice (also at realms[0]): list each realm once".to_owned(),
        ),
        (
            cluster(json!({"servers": []}), json!({})),
            "ringbar.cluster.nats.servers: no servers: give at least one NATS server URL, e.g. \"nats://127.0.0.1:4222\"".to_owned(),
        ),
        (
            cluster(json!({"servers": ["nats://a:4222", "http://x:4222"]}), json!({})),
            "ringbar.cluster.nats.servers[1]: \"http://x:4222\" is not a NATS server URL (nats://HOST:PORT or tls://HOST:PORT)".to_owned(),
        ),
        (
            cluster(json!({"token": "t", "credentials": "node.creds"}), json!({})),
            "ringbar.cluster.nats: give one of token, user and password, nkey_seed, credentials (not token and credentials)".to_owned(),
        ),
        (
            cluster(json!({"token": "t", "user": "u", "password": "p", "nkey_seed": SEED}), json!({})),
            "ringbar.cluster.nats: give one of token, user and password, nkey_seed, credentials (not token, user and password and nkey_seed)".to_owned(),
        ),
        (
            cluster(json!({"user": "u"}), json!({})),
            "ringbar.cluster.nats.user: a user needs its password: give \"password\" too".to_owned(),
        ),
        (
            cluster(json!({"password": "p"}), json!({})),
            "ringbar.cluster.nats.password: a password needs its user: give \"user\" too".to_owned(),
        ),
        (
            cluster(json!({"nkey_seed": "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"}), json!({})),
            "ringbar.cluster.nats.nkey_seed: not an NKey user seed (one starts with \"SU\"): give the seed of the user's NKey, not its public key".to_owned(),
        ),
        (
            cluster(json!({"credentials": "gone.creds"}), json!({})),
            format!("ringbar.cluster.nats.credentials: {d}/gone.creds is not a file: give this node's NATS credentials (.creds) file, relative to the node directory"),
        ),
        (
            cluster(json!({"tls": {"ca_certificates": ["ca.pem", "gone.pem"]}}), json!({})),
            format!("ringbar.cluster.nats.tls.ca_certificates[1]: {d}/gone.pem is not a file: give the PEM file of a CA the NATS servers' certificates chain to, relative to the node directory"),
        ),
        (
            cluster(json!({"tls": {"certificate": "gone.pem", "key": "client.key"}}), json!({})),
            format!("ringbar.cluster.nats.tls.certificate: {d}/gone.pem is not a file: give this node's client certificate (PEM), relative to the node directory"),
        ),
        (
            cluster(json!({"tls": {"certificate": "client.pem", "key": "gone.key"}}), json!({})),
            format!("ringbar.cluster.nats.tls.key: {d}/gone.key is not a file: give the private key of this node's client certificate (PEM), relative to the node directory"),
        ),
        (
            cluster(json!({"tls": {"certificate": "client.pem"}}), json!({})),
            "ringbar.cluster.nats.tls.certificate: a certificate without its key: give \"certificate\" and \"key\" together, or neither".to_owned(),
        ),
        (
            cluster(json!({"tls": {"key": "client.key"}}), json!({})),
            "ringbar.cluster.nats.tls.key: a key without its certificate: give \"certificate\" and \"key\" together, or neither".to_owned(),
        ),
        (
            cluster(json!({}), json!({"subject_prefix": "ringbar..prod"})),
            "ringbar.cluster.subject_prefix: \"ringbar..prod\" is not a subject prefix: give one or more NATS tokens of A-Z, a-z, 0-9, _, - separated by dots, e.g. \"ringbar\"".to_owned(),
        ),
        (
            cluster(json!({}), json!({"subject_prefix": "ringbar.*"})),
            "ringbar.cluster.subject_prefix: \"ringbar.*\" is not a subject prefix: give one or more NATS tokens of A-Z, a-z, 0-9, _, - separated by dots, e.g. \"ringbar\"".to_owned(),
        ),
        (
            cluster(json!({}), json!({"heartbeat_ms": 99, "failure_timeout_ms": 10000})),
            "ringbar.cluster.heartbeat_ms: 99 is not a heartbeat interval (100-60000 ms)".to_owned(),
        ),
        (
            cluster(json!({}), json!({"heartbeat_ms": 60001, "failure_timeout_ms": 600000})),
            "ringbar.cluster.heartbeat_ms: 60001 is not a heartbeat interval (100-60000 ms)".to_owned(),
        ),
        (
            cluster(json!({}), json!({"failure_timeout_ms": 600001})),
            "ringbar.cluster.failure_timeout_ms: 600001 is not a failure timeout (more than twice heartbeat_ms, at most 600000 ms)".to_owned(),
        ),
        (
            cluster(json!({}), json!({"heartbeat_ms": 1000, "failure_timeout_ms": 2000})),
            "ringbar.cluster.failure_timeout_ms: 2000 ms is too short for heartbeat_ms 1000: a node is taken for gone only after it missed two heartbeats; give more than 2000 ms".to_owned(),
        ),
        (
            cluster(json!({}), json!({"heartbeat_ms": 2000})),
            "ringbar.cluster.failure_timeout_ms: the default 3000 ms is too short for heartbeat_ms 2000: a node is taken for gone only after it missed two heartbeats; give more than 4000 ms".to_owned(),
        ),
        (
            cluster(json!({"tokn": "t"}), json!({})),
            "ringbar.cluster.nats.tokn: unknown key: did you mean `token`?".to_owned(),
        ),
        (
            cluster(json!({}), json!({"heartbeat": 500})),
            "ringbar.cluster.heartbeat: unknown key: did you mean `heartbeat_ms`?".to_owned(),
        ),
        (
            json!({"node": "a", "realms": ["realm1"]}),
            "ringbar.cluster: missing field `nats`".to_owned(),
        ),
    ];
    for (value, expected) in cases {
        let (config, errors) = run(&dir.0, &value);
        assert_eq!(errors, [format!("config.json: {expected}")], "{value}");
        // An unknown key is an error of the file, not of the cluster.
        if !expected.contains("unknown key") {
            assert_eq!(config, None, "{value}");
        }
    }
}

#[test]
fn a_router_without_realms_is_named() {
    let dir = NodeDir::new("no-realms");
    let mut diag = Diagnostics::new("config.json");
    let cores = Cores {
        count: 1,
        from: CoresFrom::File,
    };
    let value = cluster(json!({}), json!({}));
    assert_eq!(convert(&value, &[], cores, &dir.0, &env, &mut diag), None);
    assert_eq!(
        diag.errors()[0].to_string(),
        "config.json: ringbar.cluster.realms[0]: \"realm1\" is not a realm of the router (the router has no realms)"
    );
}

#[test]
fn off_the_node_its_files_and_environment_are_not_read() {
    let dir = NodeDir::new("elsewhere");
    let value = cluster(
        json!({"token": "$NO_SUCH", "tls": {"ca_certificates": ["gone.pem"]}}),
        json!({}),
    );
    let (config, errors) = run_on(&dir.0, &value, ReadOn::Elsewhere);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        config.unwrap().nats.auth,
        NatsAuth::Token("$NO_SUCH".into())
    );
    let value = cluster(json!({"credentials": "gone.creds"}), json!({}));
    let (_, errors) = run_on(&dir.0, &value, ReadOn::Elsewhere);
    assert!(errors.is_empty(), "{errors:?}");
    // Its shape is checked all the same.
    let value = cluster(json!({"servers": ["nats://x"]}), json!({}));
    let (_, errors) = run_on(&dir.0, &value, ReadOn::Elsewhere);
    assert_eq!(errors.len(), 1, "{errors:?}");
}

#[test]
fn server_urls() {
    for url in [
        "nats://127.0.0.1:4222",
        "nats://localhost:4222",
        "tls://nats-1.example.com:4443",
        "nats://[::1]:4222",
        "nats://h:1",
        "nats://h:65535",
    ] {
        assert!(is_server_url(url), "{url}");
    }
    for url in [
        "http://x:4222",
        "nats://x",
        "nats://:4222",
        "nats://x:0",
        "nats://x:65536",
        "nats://x:+4222",
        "nats://x:4222/",
        "nats://user:pass@x:4222",
        "nats://[::1]",
        "nats://[nope]:4222",
        "NATS://x:4222",
        "x:4222",
    ] {
        assert!(!is_server_url(url), "{url}");
    }
}

#[test]
fn a_cluster_node_runs_at_most_63_cores() {
    let check = |count, from, read_on| {
        let mut diag = Diagnostics::read_on("config.json", read_on);
        check_cores(Cores { count, from }, &mut diag);
        diag.errors()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(MAX_CLUSTER_CORES, 63);
    assert!(check(63, CoresFrom::File, ReadOn::TheNode).is_empty());
    assert_eq!(
        check(64, CoresFrom::File, ReadOn::TheNode),
        [
            "config.json: ringbar.cores: 64 cores are too many with ringbar.cluster: a cluster node runs at most 63 (the cluster link takes the last slot of the core mesh); set ringbar.cores to 63 or fewer"
        ]
    );
    assert_eq!(
        check(100, CoresFrom::CommandLine, ReadOn::TheNode),
        [
            "config.json: ringbar.cores: --cores 100 is too many with ringbar.cluster: a cluster node runs at most 63 (the cluster link takes the last slot of the core mesh); give --cores 63 or fewer"
        ]
    );
    assert_eq!(
        check(128, CoresFrom::Machine, ReadOn::TheNode),
        [
            "config.json: ringbar.cores: this machine has 128 cores, too many with ringbar.cluster: a cluster node runs at most 63 (the cluster link takes the last slot of the core mesh); set ringbar.cores to 63 or fewer"
        ]
    );
    assert!(check(128, CoresFrom::Machine, ReadOn::Elsewhere).is_empty());
    assert_eq!(check(64, CoresFrom::File, ReadOn::Elsewhere).len(), 1);
}

/// Through the whole file: the router's realms (`realm1` and `realm2`)
/// and core count are the ones the cluster is checked against.
fn node(
    ringbar: Value,
    realm2: Value,
    overrides: Overrides,
) -> (Option<ClusterConfig>, Vec<String>) {
    let root = json!({
        "version": 2,
        "workers": [{"type": "router",
            "realms": [{"name": "realm1", "roles": []}, realm2],
            "transports": [{"type": "rawsocket", "endpoint": {"type": "tcp", "port": 8081}}]}],
        "ringbar": ringbar
    });
    let mut diag = Diagnostics::new("config.json");
    let config = convert::convert(&root, FsPath::new("/srv/node"), &env, overrides, &mut diag);
    let errors = diag.errors().iter().map(ToString::to_string).collect();
    (config.and_then(|config| config.cluster), errors)
}

fn realm2() -> Value {
    json!({"name": "realm2", "roles": []})
}

#[test]
fn the_router_config_carries_the_cluster() {
    let (cluster, errors) = node(
        json!({"cores": 2, "cluster": cluster(json!({}), json!({}))}),
        realm2(),
        Overrides::default(),
    );
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(cluster.unwrap().realms, ["realm1"]);
    let (cluster, errors) = node(json!({"cores": 2}), realm2(), Overrides::default());
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(cluster, None);
}

#[test]
fn a_realm_with_errors_of_its_own_is_still_a_realm_of_the_router() {
    let value = cluster(json!({}), json!({"realms": ["realm2"]}));
    let broken = json!({"name": "realm2", "roles": [], "store": {"type": "nosuch"}});
    let (_, errors) = node(
        json!({"cores": 2, "cluster": value}),
        broken,
        Overrides::default(),
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("config.json: workers[0].realms[1].store"),
        "{errors:?}"
    );
}

#[test]
fn too_many_cores_in_the_file_or_on_the_command_line_are_refused() {
    let value = cluster(json!({}), json!({}));
    let (_, errors) = node(
        json!({"cores": 64, "cluster": value.clone()}),
        realm2(),
        Overrides::default(),
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]
            .starts_with("config.json: ringbar.cores: 64 cores are too many with ringbar.cluster"),
        "{errors:?}"
    );
    let overrides = Overrides {
        cores: Some(64),
        io: None,
    };
    let (_, errors) = node(json!({"cores": 2, "cluster": value}), realm2(), overrides);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("config.json: ringbar.cores: --cores 64 is too many"),
        "{errors:?}"
    );
}
