//! `ringbar management ...`: the management service that nodes pair with.
//! Its directory holds a ringbar router config with the management realm,
//! the service's own instance key, and its state database.

mod authenticator;
mod backend;
mod codes;
mod config;
mod console;
mod node_config;
mod owner;
pub(crate) mod password;
pub(crate) mod store;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use ed25519_dalek::SigningKey;

use crate::cli::ManagementCommand;
use crate::config::Overrides;
use crate::{EXIT_FAILURE, init, start};
use authenticator::StateAuthenticator;
use config::MANAGEMENT_CONFIG_JSON;
pub(crate) use config::MANAGEMENT_REALM;
use node_config::NODE_CONFIG_FILE;
use store::Store;

/// Runs one `ringbar management` subcommand.
pub(crate) fn run(command: ManagementCommand) -> ExitCode {
    match command {
        ManagementCommand::Init { dir } => init_dir(&dir),
        ManagementCommand::Adduser {
            dir,
            name,
            password_file,
            pubkey,
        } => owner::add(&dir, &name, password_file.as_deref(), pubkey.as_deref()),
        ManagementCommand::Users { dir } => owner::list(&dir),
        ManagementCommand::Nodes { dir } => list_nodes(&dir),
        ManagementCommand::Start { dir, run } => start_service(&dir, run.overrides()),
    }
}

/// `ringbar management init DIR`: the config, the instance key and the
/// state database.
fn init_dir(dir: &Path) -> ExitCode {
    let made = init::create(dir, MANAGEMENT_CONFIG_JSON)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            let path = dir.join(NODE_CONFIG_FILE);
            let text = node_config::default_text()?;
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
        })
        .and_then(|()| Store::create(dir).map_err(|e| e.to_string()));
    match made {
        Ok(store) => {
            tracing::info!("Management state created in {}.", store.path().display());
            println!(
                "Add an owner with `ringbar management adduser {0} NAME`, start it with `ringbar management start {0}`; nodes connect to ws://127.0.0.1:9000/ws, realm \"{MANAGEMENT_REALM}\"; owners log into the console at http://127.0.0.1:9000/.",
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(error) => fail(&format!(
            "cannot initialise the management service in {}: {error}",
            dir.display()
        )),
    }
}

/// `ringbar management nodes DIR`: every node the service knows.
fn list_nodes(dir: &Path) -> ExitCode {
    let nodes = match Store::open(dir).and_then(|store| store.nodes()) {
        Ok(nodes) => nodes,
        Err(error) => return fail(&error.to_string()),
    };
    if nodes.is_empty() {
        println!("No nodes yet.");
    }
    for (pubkey, node) in nodes {
        let state = match (&node.owner, node.paired) {
            (Some(owner), true) => format!("paired, owner '{owner}'"),
            _ => "not paired".to_owned(),
        };
        let seen = node.last_seen.map_or_else(
            || "never seen".to_owned(),
            |secs| format!("last seen {}", timestamp(secs)),
        );
        let name = node.name.as_deref().unwrap_or("-");
        println!("{pubkey}  {name}  {state}  {seen}");
    }
    ExitCode::SUCCESS
}

/// `ringbar management start DIR`: the router of the management config,
/// authenticating with cryptosign from the state database, which it holds
/// open (and so locked) while it runs.
fn start_service(dir: &Path, overrides: Overrides) -> ExitCode {
    let store = match Store::open(dir) {
        Ok(store) => store,
        Err(error) => return fail(&error.to_string()),
    };
    match (store.owners(), store.nodes()) {
        (Ok(owners), Ok(nodes)) => tracing::info!(
            "Management state loaded from {}: {} owner{}, {} node{}.",
            store.path().display(),
            owners.len(),
            plural(owners.len()),
            nodes.len(),
            plural(nodes.len())
        ),
        (Err(error), _) | (_, Err(error)) => return fail(&error.to_string()),
    }
    let key = match crate::key::load_or_generate(dir) {
        Ok((key, _)) => key.signing_key().clone(),
        Err(error) => return fail(&format!("instance key: {error}")),
    };
    tracing::info!(
        "Management service key: {} (nodes pin it; give it to `ringbar init --management-key`).",
        hex::encode(key.verifying_key().to_bytes())
    );
    // The instance key signs any challenge a client sends: the backend
    // joins with a key of its own, which lives as long as this process.
    let mut seed = [0u8; 32];
    if let Err(error) = getrandom::fill(&mut seed) {
        return fail(&format!("no randomness for the backend's key: {error}"));
    }
    let backend_key = SigningKey::from_bytes(&seed);
    let store = Arc::new(store);
    let authenticator =
        StateAuthenticator::new(store.clone(), backend_key.verifying_key().to_bytes(), key);
    start::run_with(dir, None, overrides, |router| {
        authenticator.install(router);
        for url in console::mount(router) {
            tracing::info!("Management console at {url}.");
        }
        let started = backend::local_url(router).and_then(|url| {
            backend::spawn(dir, store, backend_key, url)
                .map_err(|e| format!("cannot start the management backend: {e}"))
        });
        if let Err(error) = started {
            tracing::error!("{error}; nodes cannot pair.");
        }
    })
}

/// `secs` since the Unix epoch as an ISO 8601 UTC time.
fn timestamp(secs: u64) -> String {
    crate::key::utc_timestamp(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("ringbar: {message}");
    ExitCode::from(EXIT_FAILURE)
}
