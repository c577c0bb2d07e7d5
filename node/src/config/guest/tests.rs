//! Reading guest workers: defaults, every option, paths, and the errors.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::*;

/// A node directory with an executable `run.sh`, a plain file `data.txt`
/// and a directory `app`.
fn node_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ringbar-guest-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("app")).unwrap();
    fs::write(dir.join("run.sh"), "#!/bin/sh\n").unwrap();
    fs::set_permissions(dir.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(dir.join("data.txt"), "").unwrap();
    dir
}

fn path_env(name: &str) -> Option<String> {
    (name == "PATH").then(|| "/usr/bin:/bin".to_owned())
}

fn run(dir: &FsPath, workers: Value) -> (Vec<GuestWorker>, Vec<String>, Vec<String>) {
    let mut diag = Diagnostics::new("config.json");
    let root = json!({"version": 2, "workers": workers});
    let guests = from_root(&root, dir, &path_env, &mut diag);
    let errors = diag.errors().iter().map(ToString::to_string).collect();
    let warnings = diag.warnings().iter().map(ToString::to_string).collect();
    (guests, errors, warnings)
}

#[test]
fn a_minimal_guest_gets_crossbar_defaults() {
    let dir = node_dir("minimal");
    let (guests, errors, warnings) = run(
        &dir,
        json!([{"type": "router"}, {"type": "guest", "executable": "run.sh"}]),
    );
    assert!(
        errors.is_empty() && warnings.is_empty(),
        "{errors:?} {warnings:?}"
    );
    assert_eq!(
        guests,
        [GuestWorker {
            // The router without an id is worker001.
            id: "worker002".into(),
            executable: dir.join("run.sh"),
            arguments: Vec::new(),
            workdir: dir.clone(),
            env: ProcessEnv {
                inherit: Inherit::All,
                vars: Vec::new()
            },
            stdin: StdinPolicy::Open,
            stdout: OutputPolicy::Log,
            stderr: OutputPolicy::Log,
            restart: Restart::default(),
        }]
    );
    assert_eq!(guests[0].restart.policy, RestartPolicy::Never);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_option_is_read() {
    let dir = node_dir("options");
    let (guests, errors, warnings) = run(
        &dir,
        json!([{"type": "guest", "id": "backend", "executable": "sh", "arguments": ["-c", "true"],
                "options": {"workdir": "app", "env": {"inherit": ["HOME"], "vars": {"A": "1"}},
                            "stdin": {"type": "json", "value": {"k": [1]}, "close": false},
                            "stdout": "drop", "stderr": "close",
                            "watch": {"directories": ["."], "action": "restart"}},
                "restart": {"policy": "on-failure", "delay_ms": 10, "max_delay_ms": 100, "reset_after_ms": 0}}]),
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        warnings,
        [
            "config.json: workers[0].options.watch: not supported: ringbar does not watch directories for changes; ignored (`ringbar stop` and `start` restart the guest)"
        ]
    );
    let guest = &guests[0];
    assert_eq!(guest.id, "backend");
    assert!(
        guest.executable == FsPath::new("/usr/bin/sh")
            || guest.executable == FsPath::new("/bin/sh"),
        "{:?}",
        guest.executable
    );
    assert_eq!(guest.arguments, ["-c", "true"]);
    assert_eq!(guest.workdir, dir.join("app"));
    assert_eq!(
        guest.env,
        ProcessEnv {
            inherit: Inherit::Only(vec!["HOME".into()]),
            vars: vec![("A".into(), "1".into())]
        }
    );
    assert_eq!(
        guest.stdin,
        StdinPolicy::Write {
            text: r#"{"k":[1]}"#.into(),
            close: false
        }
    );
    assert_eq!(
        (guest.stdout, guest.stderr),
        (OutputPolicy::Drop, OutputPolicy::Close)
    );
    assert_eq!(
        guest.restart,
        Restart {
            policy: RestartPolicy::OnFailure,
            delay_ms: 10,
            max_delay_ms: 100,
            reset_after_ms: 0
        }
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_executable_is_found_in_the_workdir_first() {
    let dir = node_dir("workdir-exe");
    fs::copy(dir.join("run.sh"), dir.join("app/run.sh")).unwrap();
    let (guests, errors, _) = run(
        &dir,
        json!([{"type": "guest", "executable": "./run.sh", "options": {"workdir": "app", "stdin": "close"},
                "restart": "always"}]),
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(guests[0].executable, dir.join("app/./run.sh"));
    assert_eq!(guests[0].stdin, StdinPolicy::Close);
    assert_eq!(guests[0].restart.policy, RestartPolicy::Always);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mistakes_are_named_with_their_path_and_fix() {
    let dir = node_dir("errors");
    let d = dir.display();
    let (guests, errors, warnings) = run(
        &dir,
        json!([
            {"type": "guest", "executable": "data.txt", "argments": []},
            {"type": "guest", "executable": "./missing.sh", "options": {"workdir": "nowhere"}},
            {"type": "guest", "executable": "no-such-program-here", "id": "a",
             "options": {"stdout": "file", "env": {"inherit": "yes", "vars": {"PORT": 8080}},
                         "stdin": {"type": "msgpack", "value": 1}}},
            {"type": "guest", "executable": "run.sh", "id": "a",
             "restart": {"policy": "sometimes", "delay_ms": 0, "max_delay_ms": 5}},
            {"type": "guest", "executable": "run.sh", "restart": 3},
            {"type": "guest", "executable": "run.sh", "restart": {"policy": "always", "delay_ms": 500, "max_delay_ms": 100}},
            {"type": "guest"},
        ]),
    );
    assert!(guests.is_empty());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        errors,
        [
            "config.json: workers[0].argments: unknown key: did you mean `arguments`?".to_owned(),
            format!("config.json: workers[0].executable: {d}/data.txt is not executable: `chmod +x` it, or run it through its interpreter (\"executable\": \"/bin/sh\", \"arguments\": [\"data.txt\"])"),
            format!("config.json: workers[1].options.workdir: {d}/nowhere is not a directory: create it, or give a path relative to the node directory"),
            format!("config.json: workers[2].executable: \"no-such-program-here\" is neither in the worker's workdir ({d}) nor on PATH: give its full path"),
            "config.json: workers[2].options.env.inherit: \"yes\" is not true, false or a list of variable names".to_owned(),
            "config.json: workers[2].options.env.vars.PORT: 8080 is not a string: quote it (\"8080\")".to_owned(),
            "config.json: workers[2].options.stdin.type: \"msgpack\" is not supported (json)".to_owned(),
            "config.json: workers[2].options.stdout: \"file\" is not one of log, drop, close".to_owned(),
            "config.json: workers[3].restart.policy: \"sometimes\" is not one of never, on-failure, always".to_owned(),
            "config.json: workers[3].restart.delay_ms: 0 is not a duration (1 ms or more)".to_owned(),
            "config.json: workers[4].restart: 3 is not a restart policy (\"never\", \"on-failure\", \"always\", or an object with \"policy\")".to_owned(),
            "config.json: workers[5].restart.max_delay_ms: 100 is less than delay_ms (500): make it at least as long".to_owned(),
            "config.json: workers[6]: missing field `executable`".to_owned(),
        ]
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ids_are_unique() {
    let dir = node_dir("ids");
    let (guests, errors, _) = run(
        &dir,
        json!([
            {"type": "guest", "executable": "run.sh", "id": "worker001"},
            {"type": "guest", "executable": "run.sh"},
            {"type": "guest", "executable": "run.sh", "id": ""},
        ]),
    );
    assert_eq!(guests.len(), 1);
    assert_eq!(
        errors,
        [
            "config.json: workers[1].id: worker id \"worker001\" is used twice (also at workers[0]): give each guest worker its own id",
            "config.json: workers[2].id: \"\" is not a worker id (1 to 64 printable characters, e.g. \"backend\")",
        ]
    );
    fs::remove_dir_all(&dir).unwrap();
}
