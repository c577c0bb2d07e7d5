//! `ringbar pair CODE --management URL --user NAME [--name NODE]`: an owner
//! pairs the node that printed CODE (the "Pair Instance" action). The owner
//! joins the management realm by WAMP-ticket, which sends the password as
//! it is: over `wss://` (the service's certificate checked against the
//! system's roots or `--management-ca`), or plain `ws://` to this machine;
//! plain `ws://` to another host only with `--allow-plain-ws`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use ringbar_client::{Credentials, Dict, Error, JoinOptions, Session, TlsRoots, Url, Value};

use crate::management::MANAGEMENT_REALM;
use crate::management::password;
use crate::{EXIT_CONFIG, EXIT_FAILURE};

/// The owner's pairing procedure.
pub(crate) const PAIR_PROCEDURE: &str = "ringbar.management.owner.pair";

/// How long pairing may take in all: a service that accepts the connection
/// but never answers ends the command with an error.
const PAIR_TIMEOUT: Duration = Duration::from_secs(30);

/// What `ringbar pair` was asked.
#[derive(Debug)]
pub(crate) struct Pairing<'a> {
    /// The activation code the node printed.
    pub(crate) code: &'a str,
    /// The management service's URL.
    pub(crate) management: &'a str,
    /// The CA file that vouches for a `wss://` service.
    pub(crate) management_ca: Option<&'a Path>,
    /// Whether the password may cross a network in clear text.
    pub(crate) allow_plain_ws: bool,
    /// The owner.
    pub(crate) user: &'a str,
    /// A name for the node.
    pub(crate) name: Option<&'a str>,
    /// Where the password is, if not in the environment or a prompt.
    pub(crate) password_file: Option<&'a Path>,
}

/// Runs `ringbar pair`; the exit code says how it went.
pub(crate) fn run(pairing: &Pairing<'_>) -> ExitCode {
    let user = pairing.user;
    let url = match Url::parse(pairing.management) {
        Ok(url) => url,
        Err(error) => return fail(EXIT_CONFIG, &error.to_string()),
    };
    if !url.tls && !url.is_loopback() && !pairing.allow_plain_ws {
        return fail(
            EXIT_CONFIG,
            &format!(
                "refusing to send the password of '{user}' in clear text to {url}: use the service's wss:// URL, or --allow-plain-ws on a network you trust"
            ),
        );
    }
    let roots = match (url.tls, pairing.management_ca) {
        (true, Some(ca)) => TlsRoots::from_ca_files(&[ca]).map(Some),
        _ => Ok(None),
    };
    let options = match roots {
        Ok(roots) => JoinOptions {
            roots,
            ..JoinOptions::default()
        },
        Err(error) => return fail(EXIT_CONFIG, &format!("--management-ca: {error}")),
    };
    let password = match password::read_existing(pairing.password_file) {
        Ok(password) => password,
        Err(error) => return fail(EXIT_FAILURE, &error.to_string()),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(EXIT_FAILURE, &format!("cannot start a runtime: {error}")),
    };
    let credentials = Credentials::Ticket {
        authid: user.to_owned(),
        ticket: password,
    };
    let paired = runtime.block_on(async {
        let pair = pair(&url, &options, &credentials, pairing.code, pairing.name);
        tokio::time::timeout(PAIR_TIMEOUT, pair)
            .await
            .unwrap_or_else(|_| Err(Error::Timeout(format!("pairing at {url}"))))
    });
    match paired {
        Ok((node, name)) => {
            println!("Node '{name}' ({node}) is paired with owner '{user}'.");
            ExitCode::SUCCESS
        }
        Err(Error::Refused { reason, .. }) => fail(
            EXIT_FAILURE,
            &format!("{url} refused owner '{user}' ({reason}): check the user name and password"),
        ),
        Err(Error::Wamp { error, message, .. }) => fail(
            EXIT_CONFIG,
            &format!(
                "cannot pair: {} ({error})",
                message
                    .as_deref()
                    .unwrap_or("the management service refused")
            ),
        ),
        Err(error) => fail(
            EXIT_FAILURE,
            &format!("cannot reach the management service: {error}"),
        ),
    }
}

/// Joins as the owner and pairs; the node's key and name.
async fn pair(
    url: &Url,
    options: &JoinOptions,
    credentials: &Credentials,
    code: &str,
    name: Option<&str>,
) -> Result<(String, String), Error> {
    let mut session = Session::join_with(url, MANAGEMENT_REALM, credentials, options).await?;
    let mut kwargs = Dict::new();
    if let Some(name) = name {
        kwargs.insert("name", name);
    }
    let result = session
        .call(PAIR_PROCEDURE, vec![Value::from(code.trim())], kwargs)
        .await;
    let _ = session.leave().await;
    let result = result?;
    let field = |key: &str| {
        result
            .args
            .first()
            .and_then(Value::as_dict)
            .and_then(|d| d.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Ok((field("node"), field("name")))
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("ringbar: {message}");
    ExitCode::from(code)
}
