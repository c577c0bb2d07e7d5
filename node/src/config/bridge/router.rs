//! The `router` object of ringbar's own bridge worker types (such as
//! `srdp-bridge`): `{"realm", "role", "authid"}` joins this node's router
//! over the worker socket; with `"url"` (a `ws://`, `rs://` or `rs+unix://`
//! URL) a remote router, anonymously or with a `ticket`.

use ringbar_client::{Credentials, Url};
use serde::Deserialize;

use super::{DEFAULT_ROUTER_COMPONENT_ROLE, Reader};
use crate::config::diag::{Diagnostics, Path};

/// A bridge worker's `router`.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a router object of realm, role, authid, url, ticket")]
pub(super) struct RouterFile {
    /// `realm`: the realm the bridge joins.
    realm: String,
    /// `role`: its role on this node's router (`anonymous` by default).
    #[serde(default)]
    role: Option<String>,
    /// `authid`: its authid.
    #[serde(default)]
    authid: Option<String>,
    /// `url`: a remote router.
    #[serde(default)]
    url: Option<String>,
    /// `ticket`: WAMP-ticket for the remote router (with `authid`).
    #[serde(default)]
    ticket: Option<String>,
}

/// Where the bridge worker `worker` joins, how, and which realm.
pub(super) fn target(
    reader: &mut Reader<'_>,
    file: RouterFile,
    worker: &str,
    path: &Path,
    diag: &mut Diagnostics,
) -> Option<(Url, Credentials, String)> {
    let Some(url) = file.url else {
        if file.ticket.is_some() {
            diag.error(
                &path.key("ticket"),
                "a ticket is for a remote router (\"url\"): this node's router admits its workers by a ticket of its own",
            );
            return None;
        }
        let role = file
            .role
            .unwrap_or_else(|| DEFAULT_ROUTER_COMPONENT_ROLE.to_owned());
        let (url, credentials) = reader.own(
            file.authid
                .unwrap_or_else(|| format!("ringbar-bridge:{worker}:0")),
            role,
            &file.realm,
            path,
            diag,
        )?;
        return Some((url, credentials, file.realm));
    };
    if file.role.is_some() {
        diag.error(
            &path.key("role"),
            "a remote router gives the role itself: remove \"role\"",
        );
        return None;
    }
    let url = match Url::parse(&url) {
        Ok(url) => url,
        Err(error) => {
            diag.error(&path.key("url"), error);
            return None;
        }
    };
    let credentials = match (file.authid, file.ticket) {
        (Some(authid), Some(ticket)) => Credentials::Ticket { authid, ticket },
        (None, None) => Credentials::Anonymous,
        (None, Some(_)) => {
            diag.error(&path.key("authid"), "a ticket needs the authid it is for");
            return None;
        }
        (Some(_), None) => {
            diag.error(
                &path.key("ticket"),
                "an authid needs a ticket (anonymous sessions get theirs from the router)",
            );
            return None;
        }
    };
    Some((url, credentials, file.realm))
}
