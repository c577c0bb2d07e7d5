//! A transport's `auth`: the authentication methods and their static
//! principals, in Crossbar.io's schema (`ticket` and `cryptosign` and `tls`
//! have `principals`, `wampcra` has `users`).

use std::collections::BTreeMap;
use std::sync::Arc;

use ringbar_engine::config::{
    AnonymousAuth, AuthConfig, AuthenticatorProcedure, CryptosignPrincipal, Grant, Pbkdf2Params,
    Provider, Secret, TicketPrincipal, TlsPrincipal, TransportKind, WampCraPrincipal,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::Converter;
use crate::config::diag::Path;
use crate::config::file::{
    AnonymousAuthFile, CryptosignPrincipalFile, MethodAuthFile, TicketPrincipalFile,
    TlsPrincipalFile, WampCraUserFile,
};
use crate::config::read::{Accept, read, read_with};

/// The methods ringbar authenticates with.
const METHODS: &str = "anonymous, ticket, wampcra, cryptosign, tls";

/// Crossbar.io's methods that ringbar does not have.
const OTHER_METHODS: &[&str] = &["cookie", "scram", "cryptosign-proxy", "anonymous-proxy"];

/// The most PBKDF2 iterations accepted (a bigger number would stall a
/// core for every CHALLENGE).
const MAX_ITERATIONS: i64 = 1_000_000;
/// The longest PBKDF2 key accepted, bytes.
const MAX_KEYLEN: i64 = 1024;

/// The `authenticator-realm`s of the dynamic authenticators of a
/// transport, by method.
pub(super) fn authenticator_realms(kind: &TransportKind) -> Vec<(&'static str, String)> {
    // A copy, so the one walk over a transport's services serves here too.
    let mut kind = kind.clone();
    let auths: Vec<&AuthConfig> = kind.auths_mut().into_iter().map(|a| &**a).collect();
    let realm = |name: &'static str, procedure: Option<&AuthenticatorProcedure>| {
        procedure.and_then(|p| p.realm.clone().map(|realm| (name, realm)))
    };
    auths
        .into_iter()
        .flat_map(|auth| {
            [
                realm("ticket", procedure_of(auth.ticket.as_ref())),
                realm("wampcra", procedure_of(auth.wampcra.as_ref())),
                realm("cryptosign", procedure_of(auth.cryptosign.as_ref())),
            ]
        })
        .flatten()
        .collect()
}

/// The dynamic authenticator of `provider`, when it is one.
fn procedure_of<P>(provider: Option<&Provider<P>>) -> Option<&AuthenticatorProcedure> {
    match provider {
        Some(Provider::Procedure(p)) => Some(p),
        _ => None,
    }
}

impl Converter<'_> {
    /// A transport's `auth`; anonymous with role `anonymous` when absent.
    pub(super) fn auth(
        &mut self,
        auth: Option<&Map<String, Value>>,
        transport_path: &Path,
    ) -> Option<Arc<AuthConfig>> {
        let Some(methods) = auth else {
            let config = AuthConfig::default();
            if let Some(anonymous) = &config.anonymous {
                self.anonymous_roles
                    .push((transport_path.clone(), anonymous.role.clone()));
            }
            return Some(Arc::new(config));
        };
        let path = transport_path.key("auth");
        if methods.is_empty() {
            self.diag.warn(
                &path,
                "no authentication method: this transport refuses every session",
            );
        }
        let mut config = AuthConfig::none();
        let errors_before = self.diag.error_count();
        for (method, value) in methods {
            let path = path.key(method);
            match method.as_str() {
                "anonymous" => {
                    if let Some(anonymous) = self.anonymous(value, &path) {
                        self.anonymous_roles.push((path, anonymous.role.clone()));
                        config.anonymous = Some(anonymous);
                    }
                }
                "ticket" => {
                    config.ticket = self.method(value, &path, "principals", true, |c, v, p| {
                        c.ticket_principal(v, p)
                    })
                }
                "wampcra" => {
                    config.wampcra =
                        self.method(value, &path, "users", true, |c, v, p| c.wampcra_user(v, p))
                }
                "cryptosign" => {
                    config.cryptosign = self.method(value, &path, "principals", true, |c, v, p| {
                        c.cryptosign_principal(v, p)
                    })
                }
                "tls" => {
                    config.tls = self.method(value, &path, "principals", false, |c, v, p| {
                        c.tls_principal(v, p)
                    })
                }
                other if OTHER_METHODS.contains(&other) => self.diag.error(
                    &path,
                    format!("authentication method {other} is not supported yet ({METHODS})"),
                ),
                other => self.diag.error(
                    &path,
                    format!("\"{other}\" is not an authentication method ({METHODS})"),
                ),
            }
        }
        (self.diag.error_count() == errors_before).then(|| Arc::new(config))
    }

    /// `auth.anonymous`: the role and authid anonymous sessions get.
    fn anonymous(&mut self, value: &Value, path: &Path) -> Option<AnonymousAuth> {
        let file: AnonymousAuthFile = read_with(value, path, self.diag, Accept::NONE)?;
        if !self.static_type(&file.kind, path) {
            return None;
        }
        if file.realm.is_some() {
            self.diag.error(
                &path.key("realm"),
                "limiting anonymous sessions to one realm is not supported yet; remove \"realm\"",
            );
            return None;
        }
        Some(AnonymousAuth {
            role: file.role.unwrap_or_else(|| "anonymous".to_owned()),
            authid: file.authid,
        })
    }

    /// Whether `kind` (a method's `type`) is `static`; errors otherwise.
    fn static_type(&mut self, kind: &str, path: &Path) -> bool {
        match kind {
            "static" => true,
            "dynamic" | "function" => {
                self.diag.error(
                    &path.key("type"),
                    format!(
                        "\"{kind}\" authentication is not supported yet: list \"static\" principals"
                    ),
                );
                false
            }
            other => {
                self.diag.error(
                    &path.key("type"),
                    format!("\"{other}\" is not one of static, dynamic, function"),
                );
                false
            }
        }
    }

    /// A method with static principals under `key`, each read by
    /// `principal`, or (when `dynamic` is allowed) a dynamic authenticator.
    fn method<P>(
        &mut self,
        value: &Value,
        path: &Path,
        key: &str,
        dynamic: bool,
        principal: impl Fn(&mut Self, &Value, &Path) -> Option<P>,
    ) -> Option<Provider<P>> {
        let file: MethodAuthFile = read(value, path, self.diag)?;
        if dynamic && file.kind == "dynamic" {
            return self.authenticator(file, path).map(Provider::Procedure);
        }
        if !self.static_type(&file.kind, path) {
            return None;
        }
        let (given, other) = match key {
            "users" => (file.users, file.principals.map(|_| "principals")),
            _ => (file.principals, file.users.map(|_| "users")),
        };
        if let Some(other) = other {
            self.diag.error(
                &path.key(other),
                format!("this method lists its principals under \"{key}\", not \"{other}\""),
            );
            return None;
        }
        if file.trustroots.is_some() {
            self.diag.error(
                &path.key("trustroots"),
                "cryptosign trustroots are not supported yet: list \"principals\"",
            );
            return None;
        }
        for (name, given) in [
            ("authenticator", file.authenticator.is_some()),
            ("authenticator-realm", file.authenticator_realm.is_some()),
            ("authenticator-role", file.authenticator_role.is_some()),
            ("create", file.create.is_some()),
        ] {
            if given {
                self.diag.warn(
                    &path.key(name),
                    "only used by dynamic authentication; ignored",
                );
            }
        }
        let Some(given) = given else {
            self.diag
                .error(path, format!("missing \"{key}\": the principals by authid"));
            return None;
        };
        let mut principals = BTreeMap::new();
        let errors_before = self.diag.error_count();
        for (authid, value) in &given {
            if let Some(p) = principal(self, value, &path.key(key).key(authid)) {
                principals.insert(authid.clone(), p);
            }
        }
        (self.diag.error_count() == errors_before).then_some(Provider::Static(principals))
    }

    /// A dynamic authenticator: `authenticator`, the procedure, and
    /// `authenticator-realm`.
    fn authenticator(
        &mut self,
        file: MethodAuthFile,
        path: &Path,
    ) -> Option<AuthenticatorProcedure> {
        for (name, given) in [
            ("principals", file.principals.is_some()),
            ("users", file.users.is_some()),
        ] {
            if given {
                self.diag.warn(
                    &path.key(name),
                    "only used by static authentication; ignored",
                );
            }
        }
        let text = |c: &mut Self, value: Option<Value>, key: &str| match value {
            None => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            Some(other) => {
                c.diag.error(
                    &path.key(key),
                    format!("{} is not a URI", crate::config::read::show(&other)),
                );
                None
            }
        };
        let realm = text(self, file.authenticator_realm, "authenticator-realm");
        let Some(procedure) = text(self, file.authenticator, "authenticator") else {
            self.diag.error(
                path,
                "missing \"authenticator\": the procedure that dynamic authentication calls",
            );
            return None;
        };
        Some(AuthenticatorProcedure { procedure, realm })
    }

    fn ticket_principal(&mut self, value: &Value, path: &Path) -> Option<TicketPrincipal> {
        let file: TicketPrincipalFile = self.principal(value, path)?;
        let ticket = self.secret(&file.ticket, &path.key("ticket"));
        let grant = self.grant(file.role, file.realm, path);
        Some(TicketPrincipal {
            ticket: ticket?,
            grant: grant?,
        })
    }

    fn wampcra_user(&mut self, value: &Value, path: &Path) -> Option<WampCraPrincipal> {
        let file: WampCraUserFile = self.principal(value, path)?;
        let secret = self.secret(&file.secret, &path.key("secret"));
        let grant = self.grant(file.role, file.realm, path);
        let salt = match (file.salt, file.iterations, file.keylen) {
            (None, None, None) => Some(None),
            (Some(salt), iterations, keylen) => {
                // Autobahn's defaults when only the salt is given
                let iterations = self.bounded(
                    iterations.unwrap_or(1000),
                    MAX_ITERATIONS,
                    &path.key("iterations"),
                );
                let keylen = self.bounded(keylen.unwrap_or(32), MAX_KEYLEN, &path.key("keylen"));
                iterations.zip(keylen).map(|(iterations, keylen)| {
                    Some(Pbkdf2Params {
                        salt,
                        iterations,
                        keylen,
                    })
                })
            }
            (None, _, _) => {
                self.diag.error(
                    &path.key("salt"),
                    "\"iterations\" and \"keylen\" need a \"salt\"",
                );
                None
            }
        };
        Some(WampCraPrincipal::new(&secret?, salt?, grant?))
    }

    fn cryptosign_principal(&mut self, value: &Value, path: &Path) -> Option<CryptosignPrincipal> {
        let file: CryptosignPrincipalFile = self.principal(value, path)?;
        let grant = self.grant(file.role, file.realm, path);
        let mut keys = Vec::with_capacity(file.authorized_keys.len());
        for (i, text) in file.authorized_keys.iter().enumerate() {
            let mut key = [0u8; 32];
            if hex::decode_to_slice(text.trim(), &mut key).is_ok() {
                keys.push(key);
            } else {
                self.diag.error(
                    &path.key("authorized_keys").index(i),
                    format!("\"{text}\" is not an Ed25519 public key (64 hex digits)"),
                );
            }
        }
        if keys.len() != file.authorized_keys.len() {
            return None;
        }
        if keys.is_empty() {
            self.diag.warn(
                &path.key("authorized_keys"),
                "no key: this principal can never authenticate",
            );
        }
        Some(CryptosignPrincipal {
            authorized_keys: keys,
            grant: grant?,
        })
    }

    fn tls_principal(&mut self, value: &Value, path: &Path) -> Option<TlsPrincipal> {
        let file: TlsPrincipalFile = self.principal(value, path)?;
        let grant = self.grant(file.role, file.realm, path);
        let digits: String = file
            .certificate_sha1
            .chars()
            .filter(|c| *c != ':')
            .collect();
        let mut sha1 = [0u8; 20];
        if hex::decode_to_slice(digits.trim(), &mut sha1).is_err() {
            self.diag.error(
                &path.key("certificate-sha1"),
                format!(
                    "\"{}\" is not a SHA-1 fingerprint (40 hex digits, colons allowed)",
                    file.certificate_sha1
                ),
            );
            return None;
        }
        Some(TlsPrincipal {
            certificate_sha1: sha1,
            grant: grant?,
        })
    }

    /// Reads one principal.
    fn principal<T: DeserializeOwned>(&mut self, value: &Value, path: &Path) -> Option<T> {
        read(value, path, self.diag)
    }

    /// A principal's role (required) and realm.
    fn grant(&mut self, role: Option<String>, realm: Option<String>, path: &Path) -> Option<Grant> {
        let Some(role) = role else {
            self.diag
                .error(path, "missing \"role\": the authrole this principal gets");
            return None;
        };
        self.anonymous_roles.push((path.key("role"), role.clone()));
        Some(Grant { role, realm })
    }

    /// A secret, or the environment variable a `"$VAR"` secret names.
    pub(super) fn secret(&mut self, text: &str, path: &Path) -> Option<Secret> {
        match super::endpoint::env_var_name(text) {
            None => Some(Secret(text.to_owned())),
            Some(name) => match (self.env)(name) {
                Some(value) => Some(Secret(value)),
                None => {
                    self.diag.error(
                        path,
                        format!("environment variable {name} is not set (it holds this secret)"),
                    );
                    None
                }
            },
        }
    }

    /// `value` in `1..=max`.
    fn bounded(&mut self, value: i64, max: i64, path: &Path) -> Option<u32> {
        match u32::try_from(value) {
            Ok(v @ 1..) if value <= max => Some(v),
            _ => {
                self.diag
                    .error(path, format!("{value} is out of range (1-{max})"));
                None
            }
        }
    }
}
