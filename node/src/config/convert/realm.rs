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
        let accept = Accept {
            silent: &["id"],
            ignored: &["rlinks"],
            ignored_message: "router-to-router links are not supported yet; ignored",
        };
        let file: RealmFile = read_with(value, path, self.diag, accept)?;
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
        let options = self.realm_options(file.options.as_ref(), &path.key("options"));
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
        let options = options?;
        (self.diag.error_count() == errors_before).then_some(RealmConfig {
            name: file.name,
            roles,
            uri_check: options.uri_check,
            event_history,
            enable_meta_api: options.enable_meta_api,
        })
    }

    /// A realm's `options`; Crossbar.io's defaults: strict URIs, the meta
    /// API on.
    fn realm_options(&mut self, options: Option<&Value>, path: &Path) -> Option<RealmOptions> {
        let Some(options) = options else {
            return Some(RealmOptions::default());
        };
        let accept = Accept::silent(&["bridge_meta_api", "event_dispatching_chunk_size"]);
        let file: RealmOptionsFile = read_with(options, path, self.diag, accept)?;
        let uri_check = match file.uri_check.as_deref() {
            None | Some("strict") => UriCheck::Strict,
            Some("loose") => UriCheck::Loose,
            Some(other) => {
                self.diag.error(
                    &path.key("uri_check"),
                    format!("\"{other}\" is not one of strict, loose"),
                );
                return None;
            }
        };
        Some(RealmOptions {
            uri_check,
            enable_meta_api: file.enable_meta_api.unwrap_or(true),
        })
    }

    fn role(&mut self, value: &Value, path: &Path) -> Option<RoleConfig> {
        let file: RoleFile = read_with(value, path, self.diag, Accept::silent(&["id"]))?;
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

/// What a realm's `options` set.
struct RealmOptions {
    uri_check: UriCheck,
    enable_meta_api: bool,
}

impl Default for RealmOptions {
    fn default() -> Self {
        RealmOptions {
            uri_check: UriCheck::Strict,
            enable_meta_api: true,
        }
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
