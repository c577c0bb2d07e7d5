//! The `router` object of ringbar's own bridge worker types
//! (`srdp-bridge`, `postgresql-bridge`): `{"realm", "role", "authid"}`
//! joins this node's router over the worker socket; with `"url"` a remote
//! router, anonymously, with WAMP-ticket (`ticket` or `ticket_env`, and
//! `authid`), with WAMP-CRA (`secret` or `secret_env`, and `authid`) or
//! with WAMP-cryptosign (`private_key`).

use ringbar_client::{Credentials, Url};
use serde::Deserialize;

use super::postgresql::from_env;
use super::{DEFAULT_ROUTER_COMPONENT_ROLE, Reader};
use crate::config::diag::{Diagnostics, Path};

/// A bridge worker's `router`.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a router object of realm, role, authid (and url for a remote router)")]
pub(super) struct RouterFile {
    /// `realm`: the realm the bridge joins.
    realm: String,
    /// `role`: its role on this node's router (`anonymous` by default, as
    /// for router components).
    #[serde(default)]
    role: Option<String>,
    /// `authid`: who the bridge is.
    #[serde(default)]
    authid: Option<String>,
    /// `url`: a remote router; this node's router without.
    #[serde(default)]
    url: Option<String>,
    /// `ticket`: WAMP-ticket's secret for a remote router.
    #[serde(default)]
    ticket: Option<String>,
    /// `ticket_env`: the variable holding the ticket.
    #[serde(default)]
    ticket_env: Option<String>,
    /// `secret`: WAMP-CRA's shared secret for a remote router.
    #[serde(default)]
    secret: Option<String>,
    /// `secret_env`: the variable holding the WAMP-CRA secret.
    #[serde(default)]
    secret_env: Option<String>,
    /// `private_key` (WAMP-cryptosign): the Ed25519 seed in hex.
    #[serde(default)]
    private_key: Option<String>,
}

/// Where the bridge worker `worker` joins, how, and which realm.
pub(super) fn target(
    reader: &mut Reader<'_>,
    file: RouterFile,
    worker: &str,
    path: &Path,
    diag: &mut Diagnostics,
) -> Option<(Url, Credentials, String)> {
    let Some(url) = &file.url else {
        let remote_only = [
            ("ticket", file.ticket.is_some()),
            ("ticket_env", file.ticket_env.is_some()),
            ("secret", file.secret.is_some()),
            ("secret_env", file.secret_env.is_some()),
            ("private_key", file.private_key.is_some()),
        ];
        if let Some((key, _)) = remote_only.iter().find(|(_, given)| *given) {
            diag.error(
                &path.key(key),
                "credentials are for a remote router (\"url\"): this node's router admits its workers by a ticket of its own",
            );
            return None;
        }
        let role = file
            .role
            .unwrap_or_else(|| DEFAULT_ROUTER_COMPONENT_ROLE.to_owned());
        let authid = file
            .authid
            .unwrap_or_else(|| format!("ringbar-bridge:{worker}:0"));
        let (url, credentials) = reader.own(authid, role, &file.realm, path, diag)?;
        return Some((url, credentials, file.realm));
    };
    if file.role.is_some() {
        diag.error(
            &path.key("role"),
            "a remote router gives the role itself: remove \"role\"",
        );
        return None;
    }
    let url = Url::parse(url)
        .map_err(|e| diag.error(&path.key("url"), e))
        .ok()?;
    let credentials = remote_credentials(&file, reader, path, diag)?;
    Some((url, credentials, file.realm))
}

/// The credentials `file` gives for a remote router.
fn remote_credentials(
    file: &RouterFile,
    reader: &Reader<'_>,
    path: &Path,
    diag: &mut Diagnostics,
) -> Option<Credentials> {
    let ticket = secret(&file.ticket, &file.ticket_env, "ticket", reader, path, diag)?;
    let secret = secret(&file.secret, &file.secret_env, "secret", reader, path, diag)?;
    let credentials = match (ticket, secret, &file.private_key) {
        (Some(ticket), None, None) => Credentials::Ticket {
            authid: authid(file, "a ticket", path, diag)?,
            ticket,
        },
        (None, Some(secret), None) => Credentials::WampCra {
            authid: authid(file, "a WAMP-CRA secret", path, diag)?,
            secret,
        },
        (None, None, Some(hex_key)) => {
            let seed: Option<[u8; 32]> = hex::decode(hex_key)
                .ok()
                .and_then(|bytes| bytes.try_into().ok());
            let Some(seed) = seed else {
                diag.error(
                    &path.key("private_key"),
                    "not an Ed25519 private key: give its 32-byte seed as 64 hex digits",
                );
                return None;
            };
            Credentials::Cryptosign {
                authid: file.authid.clone(),
                key: ed25519_dalek::SigningKey::from_bytes(&seed),
            }
        }
        (None, None, None) if file.authid.is_some() => {
            diag.error(
                &path.key("ticket"),
                "an authid needs a ticket, a secret (WAMP-CRA) or a private_key (anonymous sessions get theirs from the router)",
            );
            return None;
        }
        (None, None, None) => Credentials::Anonymous,
        _ => {
            diag.error(
                path,
                "give one of a ticket, a secret (WAMP-CRA) and a private_key, not several",
            );
            return None;
        }
    };
    Some(credentials)
}

/// The authid `method` needs, named at `path` when missing.
fn authid(file: &RouterFile, method: &str, path: &Path, diag: &mut Diagnostics) -> Option<String> {
    if file.authid.is_none() {
        diag.error(
            &path.key("authid"),
            format!("{method} needs the authid it is for"),
        );
    }
    file.authid.clone()
}

/// The secret given as `key` itself or in the variable `key`_env: `None`
/// inside when neither, `None` outside after an error.
fn secret(
    given: &Option<String>,
    env: &Option<String>,
    key: &str,
    reader: &Reader<'_>,
    path: &Path,
    diag: &mut Diagnostics,
) -> Option<Option<String>> {
    match (given, env) {
        (Some(given), None) => Some(Some(given.clone())),
        (None, Some(name)) => {
            from_env(name, &path.key(&format!("{key}_env")), reader.env, diag).map(Some)
        }
        (None, None) => Some(None),
        (Some(_), Some(_)) => {
            diag.error(path, format!("give \"{key}\" or \"{key}_env\", not both"));
            None
        }
    }
}
