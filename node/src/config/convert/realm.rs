//! Realms, roles and permissions.

use std::collections::HashMap;

use ringbar_engine::config::{
    Allow, Disclose, Permission, REALM_TEMPLATE, RealmConfig, RoleConfig,
};
use ringbar_protocol::uri::{MatchPolicy, Uri, UriCheck, UriPattern};
use serde_json::Value;

use super::Converter;
use crate::config::diag::Path;
use crate::config::file::{PermissionFile, RealmFile, RealmOptionsFile, RoleFile};
use crate::config::read::{Accept, read, read_with};

impl Converter<'_> {
    /// One realm of a router worker.
    pub(super) fn realm(&mut self, value: &Value, path: &Path) -> Option<RealmConfig> {
        let file: RealmFile = read(value, path, self.diag)?;
        let errors_before = self.diag.error_count();
        let template = file.name == REALM_TEMPLATE;
        if let Err(error) = Uri::check(&file.name, UriCheck::Loose)
            && !template
        {
            self.diag.error(
                &path.key("name"),
                format!("\"{}\" is not a valid realm URI ({error})", file.name),
            );
        }
        let uri_check = self.uri_check(file.options.as_ref(), &path.key("options"));
        let event_history = self.store(file.store.as_ref(), &path.key("store"));
        let mut roles = Vec::with_capacity(file.roles.len());
        let mut names: HashMap<String, usize> = HashMap::new();
        for (index, value) in file.roles.iter().enumerate() {
            let role_path = path.key("roles").index(index);
            if let Some(name) = value.get("name").and_then(Value::as_str) {
                if let Some(first) = names.get(name) {
                    self.diag.error(
                        &role_path.key("name"),
                        format!(
                            "role \"{name}\" is defined twice in this realm (also at roles[{first}]): merge their permissions"
                        ),
                    );
                    continue;
                }
                names.insert(name.to_owned(), index);
            }
            if let Some(role) = self.role(value, &role_path) {
                if role.create && !template {
                    self.diag.warn(
                        &role_path.key("create"),
                        "only used in the realm template (\"name\": \"*\"); ignored",
                    );
                }
                roles.push(role);
            }
        }
        (self.diag.error_count() == errors_before).then(|| RealmConfig {
            name: file.name,
            roles,
            uri_check: uri_check.unwrap_or_default(),
            event_history,
        })
    }

    /// A realm's `options.uri_check`; strict by default, as in Crossbar.io.
    fn uri_check(&mut self, options: Option<&Value>, path: &Path) -> Option<UriCheck> {
        let Some(options) = options else {
            return Some(UriCheck::Strict);
        };
        let accept = Accept::silent(&[
            "enable_meta_api",
            "bridge_meta_api",
            "event_dispatching_chunk_size",
        ]);
        let file: RealmOptionsFile = read_with(options, path, self.diag, accept)?;
        match file.uri_check.as_deref() {
            None | Some("strict") => Some(UriCheck::Strict),
            Some("loose") => Some(UriCheck::Loose),
            Some(other) => {
                self.diag.error(
                    &path.key("uri_check"),
                    format!("\"{other}\" is not one of strict, loose"),
                );
                None
            }
        }
    }

    fn role(&mut self, value: &Value, path: &Path) -> Option<RoleConfig> {
        let file: RoleFile = read(value, path, self.diag)?;
        let errors_before = self.diag.error_count();
        if file.name.is_empty() {
            self.diag
                .error(&path.key("name"), "empty role name: give the role a name");
        }
        let authorizer = match file.authorizer {
            None => None,
            Some(Value::String(procedure)) if !procedure.is_empty() => Some(procedure),
            Some(other) => {
                self.diag.error(
                    &path.key("authorizer"),
                    format!(
                        "{} is not a procedure URI (the dynamic authorizer)",
                        crate::config::read::show(&other)
                    ),
                );
                None
            }
        };
        let mut permissions = Vec::with_capacity(file.permissions.len());
        for (index, value) in file.permissions.iter().enumerate() {
            if let Some(permission) = self.permission(value, &path.key("permissions").index(index))
            {
                permissions.push(permission);
            }
        }
        (self.diag.error_count() == errors_before).then_some(RoleConfig {
            name: file.name,
            permissions,
            authorizer,
            create: file.create.unwrap_or(false),
        })
    }

    fn permission(&mut self, value: &Value, path: &Path) -> Option<Permission> {
        let file: PermissionFile = read(value, path, self.diag)?;
        let (uri, match_policy) = match file.match_policy.as_deref() {
            None => starred_uri(&file.uri),
            Some(name) => match name.parse::<MatchPolicy>() {
                Ok(policy) => (file.uri.clone(), policy),
                Err(_) => {
                    self.diag.error(
                        &path.key("match"),
                        format!("\"{name}\" is not one of exact, prefix, wildcard"),
                    );
                    return None;
                }
            },
        };
        if let Err(error) = UriPattern::parse(&uri, match_policy, UriCheck::Loose) {
            self.diag.error(
                &path.key("uri"),
                format!(
                    "\"{}\" is not a valid URI for {match_policy} matching ({error})",
                    file.uri
                ),
            );
            return None;
        }
        if file.validate.is_some() {
            self.diag.warn(
                &path.key("validate"),
                "payload validation is not supported yet; ignored",
            );
        }
        let allow = file.allow.unwrap_or_default();
        let disclose = file.disclose.unwrap_or_default();
        Some(Permission {
            uri,
            match_policy,
            allow: Allow {
                publish: allow.publish,
                subscribe: allow.subscribe,
                call: allow.call,
                register: allow.register,
                list: allow.list,
            },
            disclose: Disclose {
                caller: disclose.caller,
                publisher: disclose.publisher,
            },
            cache: file.cache.unwrap_or(false),
        })
    }
}

/// A permission URI without `match`, read the way Crossbar.io does
/// (Autobahn's `convert_starred_uri`): no `*` is exact; one trailing `*` is
/// a prefix without it; any other `*` makes a wildcard with every `*`
/// removed (`com.*.create` matches `com.<any>.create`).
fn starred_uri(uri: &str) -> (String, MatchPolicy) {
    let stars = uri.matches('*').count();
    if stars == 0 {
        (uri.to_owned(), MatchPolicy::Exact)
    } else if stars == 1 && uri.ends_with('*') {
        (uri[..uri.len() - 1].to_owned(), MatchPolicy::Prefix)
    } else {
        (uri.replace('*', ""), MatchPolicy::Wildcard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starred_uris_follow_autobahn() {
        assert_eq!(
            starred_uri("com.example.add"),
            ("com.example.add".into(), MatchPolicy::Exact)
        );
        assert_eq!(
            starred_uri("com.example.*"),
            ("com.example.".into(), MatchPolicy::Prefix)
        );
        assert_eq!(starred_uri("*"), ("".into(), MatchPolicy::Prefix));
        assert_eq!(
            starred_uri("com.*.create"),
            ("com..create".into(), MatchPolicy::Wildcard)
        );
        assert_eq!(
            starred_uri("com.*.*"),
            ("com..".into(), MatchPolicy::Wildcard)
        );
    }
}
