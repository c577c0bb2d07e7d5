//! Typed, validated views of the `Options` and `Details` the router acts on.
//!
//! A [`Dict`] is what arrived; these structs are what it means. Reading one
//! checks every known key's type once, so the broker and dealer never
//! re-check them, and a wrong type is a protocol violation naming the key
//! (`PUBLISH.Options.acknowledge must be a boolean`). Unknown keys are left
//! alone: the spec lets peers add their own.

use crate::id::SessionId;
use crate::uri::MatchPolicy;
use crate::value::{Dict, Value};

/// A known option with a value of the wrong type or outside its range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}.{key} must be {expected}")]
pub struct OptionError {
    /// Where the option was: `PUBLISH.Options`, `EVENT.Details`, ...
    pub message: &'static str,
    /// The option's key.
    pub key: &'static str,
    /// What the spec allows.
    pub expected: &'static str,
}

/// The `enc_algo` values of end-to-end encrypted payloads the spec defines.
const ENC_ALGOS: &[&str] = &["cryptobox", "mqtt"];
/// The `enc_serializer` values the spec defines.
const PAYLOAD_SERIALIZERS: &[&str] =
    &["native", "json", "msgpack", "cbor", "ubjson", "flatbuffers"];

/// Payload passthru mode: how a transparent payload is to be read by the
/// receivers. The router forwards these options and never parses the payload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayloadPassthru {
    /// `ppt_scheme`: `wamp`, `mqtt`, or a custom `x_...` scheme.
    pub scheme: String,
    /// `ppt_serializer`: how the payload is serialized.
    pub serializer: Option<String>,
    /// `ppt_cipher`: how the payload is encrypted.
    pub cipher: Option<String>,
    /// `ppt_keyid`: which key encrypted it.
    pub keyid: Option<String>,
}

impl PayloadPassthru {
    /// Writes these options into a receiver's details (EVENT, INVOCATION,
    /// RESULT), as they arrived.
    pub fn insert_into(&self, details: &mut Dict) {
        details.insert("ppt_scheme", self.scheme.as_str());
        for (key, value) in [
            ("ppt_serializer", &self.serializer),
            ("ppt_cipher", &self.cipher),
            ("ppt_keyid", &self.keyid),
        ] {
            if let Some(v) = value {
                details.insert(key, v.as_str());
            }
        }
    }
}

/// `PUBLISH.Options`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishOptions {
    /// `acknowledge`: answer with PUBLISHED.
    pub acknowledge: bool,
    /// `exclude_me`: keep the event from the publisher (default true).
    pub exclude_me: bool,
    /// `disclose_me`: tell subscribers who published.
    pub disclose_me: bool,
    /// `retain`: keep the event as the topic's retained event.
    pub retain: bool,
    /// `exclude`: sessions that must not receive the event.
    pub exclude: Vec<SessionId>,
    /// `exclude_authid`: authids that must not receive the event.
    pub exclude_authid: Vec<String>,
    /// `exclude_authrole`: authroles that must not receive the event.
    pub exclude_authrole: Vec<String>,
    /// `eligible`: if given, only these sessions may receive the event.
    pub eligible: Option<Vec<SessionId>>,
    /// `eligible_authid`: if given, only these authids may receive it.
    pub eligible_authid: Option<Vec<String>>,
    /// `eligible_authrole`: if given, only these authroles may receive it.
    pub eligible_authrole: Option<Vec<String>>,
    /// The `ppt_*` options, when the payload is in passthru mode.
    pub passthru: Option<PayloadPassthru>,
}

impl Default for PublishOptions {
    /// Every option absent: the spec's defaults, of which only
    /// `exclude_me` is true.
    fn default() -> Self {
        Self {
            acknowledge: false,
            exclude_me: true,
            disclose_me: false,
            retain: false,
            exclude: Vec::new(),
            exclude_authid: Vec::new(),
            exclude_authrole: Vec::new(),
            eligible: None,
            eligible_authid: None,
            eligible_authrole: None,
            passthru: None,
        }
    }
}

impl PublishOptions {
    /// Reads and checks `options`.
    pub fn from_dict(options: &Dict) -> Result<Self, OptionError> {
        // Most publications have none: every option absent, read without
        // a lookup.
        if options.is_empty() {
            return Ok(Self::default());
        }
        let r = Reader::new(options, "PUBLISH.Options");
        r.common_payload_options()?;
        r.string("transaction_hash")?;
        Ok(Self {
            acknowledge: r.bool("acknowledge")?.unwrap_or(false),
            exclude_me: r.bool("exclude_me")?.unwrap_or(true),
            disclose_me: r.bool("disclose_me")?.unwrap_or(false),
            retain: r.bool("retain")?.unwrap_or(false),
            exclude: r.session_ids("exclude")?.unwrap_or_default(),
            exclude_authid: r.strings("exclude_authid")?.unwrap_or_default(),
            exclude_authrole: r.strings("exclude_authrole")?.unwrap_or_default(),
            eligible: r.session_ids("eligible")?,
            eligible_authid: r.strings("eligible_authid")?,
            eligible_authrole: r.strings("eligible_authrole")?,
            passthru: r.passthru()?,
        })
    }

    /// Whether any black- or whitelist narrows the receivers.
    pub fn filters_receivers(&self) -> bool {
        !self.exclude.is_empty()
            || !self.exclude_authid.is_empty()
            || !self.exclude_authrole.is_empty()
            || self.eligible.is_some()
            || self.eligible_authid.is_some()
            || self.eligible_authrole.is_some()
    }
}

/// `SUBSCRIBE.Options`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeOptions {
    /// `match`: how the topic is matched (default exact).
    pub match_policy: MatchPolicy,
    /// `get_retained`: send the topic's retained event on subscribe.
    pub get_retained: bool,
}

impl SubscribeOptions {
    /// Reads and checks `options`.
    pub fn from_dict(options: &Dict) -> Result<Self, OptionError> {
        let r = Reader::new(options, "SUBSCRIBE.Options");
        r.forward_for()?;
        Ok(Self {
            match_policy: r.match_policy()?,
            get_retained: r.bool("get_retained")?.unwrap_or(false),
        })
    }
}

/// `REGISTER.Options` (the keys the router reads at registration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterOptions {
    /// `match`: how the procedure is matched (default exact).
    pub match_policy: MatchPolicy,
    /// `invoke`: the shared-registration policy, as sent (default `single`).
    pub invoke: String,
    /// `disclose_caller`: callees of this registration learn who called.
    pub disclose_caller: bool,
    /// `forward_timeout`: the callee, not the dealer, enforces call timeouts.
    pub forward_timeout: bool,
}

impl RegisterOptions {
    /// Reads and checks `options`.
    pub fn from_dict(options: &Dict) -> Result<Self, OptionError> {
        let r = Reader::new(options, "REGISTER.Options");
        r.forward_for()?;
        Ok(Self {
            match_policy: r.match_policy()?,
            invoke: r
                .one_of(
                    "invoke",
                    &["single", "roundrobin", "random", "first", "last"],
                    "one of single, roundrobin, random, first, last",
                )?
                .unwrap_or("single")
                .to_owned(),
            disclose_caller: r.bool("disclose_caller")?.unwrap_or(false),
            forward_timeout: r.bool("forward_timeout")?.unwrap_or(false),
        })
    }
}

/// `CALL.Options`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallOptions {
    /// `timeout` in milliseconds; 0 or absent means none.
    pub timeout_ms: u64,
    /// `receive_progress`: the caller accepts progressive results.
    pub receive_progress: bool,
    /// `progress`: this CALL is one of a progressive invocation's parts.
    pub progress: bool,
    /// `disclose_me`: tell the callee who calls.
    pub disclose_me: bool,
    /// The `ppt_*` options, when the payload is in passthru mode.
    pub passthru: Option<PayloadPassthru>,
}

impl CallOptions {
    /// Reads and checks `options`.
    pub fn from_dict(options: &Dict) -> Result<Self, OptionError> {
        // Most calls have none: every option absent, read without a lookup.
        if options.is_empty() {
            return Ok(Self::default());
        }
        let r = Reader::new(options, "CALL.Options");
        r.common_payload_options()?;
        Ok(Self {
            timeout_ms: r
                .uint("timeout", "a non-negative integer (milliseconds)")?
                .unwrap_or(0),
            receive_progress: r.bool("receive_progress")?.unwrap_or(false),
            progress: r.bool("progress")?.unwrap_or(false),
            disclose_me: r.bool("disclose_me")?.unwrap_or(false),
            passthru: r.passthru()?,
        })
    }
}

/// `YIELD.Options`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct YieldOptions {
    /// `progress`: a progressive result; more follow.
    pub progress: bool,
    /// The `ppt_*` options, when the payload is in passthru mode.
    pub passthru: Option<PayloadPassthru>,
}

impl YieldOptions {
    /// Reads and checks `options`.
    pub fn from_dict(options: &Dict) -> Result<Self, OptionError> {
        // Most results have none: every option absent, read without a
        // lookup.
        if options.is_empty() {
            return Ok(Self::default());
        }
        let r = Reader::new(options, "YIELD.Options");
        r.common_payload_options()?;
        Ok(Self {
            progress: r.bool("progress")?.unwrap_or(false),
            passthru: r.passthru()?,
        })
    }
}

/// `EVENT.Details`: what a subscriber (the load generator) reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventDetails {
    /// `publisher`: the publishing session, when disclosed.
    pub publisher: Option<SessionId>,
    /// `publisher_authid`, when disclosed.
    pub publisher_authid: Option<String>,
    /// `publisher_authrole`, when disclosed.
    pub publisher_authrole: Option<String>,
    /// `topic`: the concrete topic, for pattern-based subscriptions.
    pub topic: Option<String>,
    /// `retained`: this is a retained event sent on subscribe.
    pub retained: bool,
}

impl EventDetails {
    /// Reads and checks `details`.
    pub fn from_dict(details: &Dict) -> Result<Self, OptionError> {
        let r = Reader::new(details, "EVENT.Details");
        r.common_payload_options()?;
        r.string("transaction_hash")?;
        r.bool("x_acknowledged_delivery")?;
        Ok(Self {
            publisher: r.session_id("publisher")?,
            publisher_authid: r.string("publisher_authid")?.map(str::to_owned),
            publisher_authrole: r.string("publisher_authrole")?.map(str::to_owned),
            topic: r.string("topic")?.map(str::to_owned),
            retained: r.bool("retained")?.unwrap_or(false),
        })
    }
}

/// Typed reads from one dictionary, with errors naming the key.
struct Reader<'a> {
    dict: &'a Dict,
    message: &'static str,
}

impl<'a> Reader<'a> {
    fn new(dict: &'a Dict, message: &'static str) -> Self {
        Self { dict, message }
    }

    fn wrong(&self, key: &'static str, expected: &'static str) -> OptionError {
        OptionError {
            message: self.message,
            key,
            expected,
        }
    }

    /// The value under `key`; an explicit null counts as absent.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.dict.get(key).filter(|v| **v != Value::Null)
    }

    fn bool(&self, key: &'static str) -> Result<Option<bool>, OptionError> {
        self.get(key)
            .map(|v| v.as_bool().ok_or_else(|| self.wrong(key, "a boolean")))
            .transpose()
    }

    fn uint(&self, key: &'static str, expected: &'static str) -> Result<Option<u64>, OptionError> {
        self.get(key)
            .map(|v| v.as_u64().ok_or_else(|| self.wrong(key, expected)))
            .transpose()
    }

    fn string(&self, key: &'static str) -> Result<Option<&'a str>, OptionError> {
        self.get(key)
            .map(|v| v.as_str().ok_or_else(|| self.wrong(key, "a string")))
            .transpose()
    }

    fn one_of(
        &self,
        key: &'static str,
        allowed: &[&str],
        expected: &'static str,
    ) -> Result<Option<&'a str>, OptionError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .filter(|s| allowed.contains(s))
                .map(Some)
                .ok_or_else(|| self.wrong(key, expected)),
        }
    }

    fn session_id(&self, key: &'static str) -> Result<Option<SessionId>, OptionError> {
        self.get(key)
            .map(|v| {
                v.as_u64()
                    .and_then(SessionId::new)
                    .ok_or_else(|| self.wrong(key, "a session id"))
            })
            .transpose()
    }

    fn list(
        &self,
        key: &'static str,
        expected: &'static str,
    ) -> Result<Option<&'a [Value]>, OptionError> {
        self.get(key)
            .map(|v| v.as_list().ok_or_else(|| self.wrong(key, expected)))
            .transpose()
    }

    fn session_ids(&self, key: &'static str) -> Result<Option<Vec<SessionId>>, OptionError> {
        const EXPECTED: &str = "a list of session ids";
        let Some(items) = self.list(key, EXPECTED)? else {
            return Ok(None);
        };
        items
            .iter()
            .map(|v| {
                v.as_u64()
                    .and_then(SessionId::new)
                    .ok_or_else(|| self.wrong(key, EXPECTED))
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }

    fn strings(&self, key: &'static str) -> Result<Option<Vec<String>>, OptionError> {
        const EXPECTED: &str = "a list of strings";
        let Some(items) = self.list(key, EXPECTED)? else {
            return Ok(None);
        };
        items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| self.wrong(key, EXPECTED))
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }

    fn match_policy(&self) -> Result<MatchPolicy, OptionError> {
        Ok(
            match self.one_of(
                "match",
                &["exact", "prefix", "wildcard"],
                "one of exact, prefix, wildcard",
            )? {
                Some("prefix") => MatchPolicy::Prefix,
                Some("wildcard") => MatchPolicy::Wildcard,
                _ => MatchPolicy::Exact,
            },
        )
    }

    /// `forward_for`: the router-to-router chain, a list of dictionaries
    /// each with `session`, `authid`, `authrole`.
    fn forward_for(&self) -> Result<(), OptionError> {
        const EXPECTED: &str = "a list of {session, authid, authrole} dictionaries";
        let Some(items) = self.list("forward_for", EXPECTED)? else {
            return Ok(());
        };
        let valid = items.iter().all(|item| {
            item.as_dict().is_some_and(|d| {
                d.get("session").and_then(Value::as_u64).is_some()
                    && d.get("authid").and_then(Value::as_str).is_some()
                    && d.get("authrole").and_then(Value::as_str).is_some()
            })
        });
        if valid {
            Ok(())
        } else {
            Err(self.wrong("forward_for", EXPECTED))
        }
    }

    /// The options every payload-carrying message may have: `forward_for`
    /// and the end-to-end encryption keys.
    fn common_payload_options(&self) -> Result<(), OptionError> {
        self.forward_for()?;
        self.one_of("enc_algo", ENC_ALGOS, "one of cryptobox, mqtt")?;
        self.one_of(
            "enc_serializer",
            PAYLOAD_SERIALIZERS,
            "one of native, json, msgpack, cbor, ubjson, flatbuffers",
        )?;
        self.string("enc_key")?;
        Ok(())
    }

    /// The `ppt_*` options, if `ppt_scheme` is present.
    fn passthru(&self) -> Result<Option<PayloadPassthru>, OptionError> {
        let scheme = self.string("ppt_scheme")?;
        // The router must not interpret ppt_* values (the spec lists `mqtt`
        // and custom `x_` values): only their types are checked.
        let serializer = self.string("ppt_serializer")?;
        let cipher = self.string("ppt_cipher")?;
        let keyid = self.string("ppt_keyid")?;
        match scheme {
            None if serializer.is_some() || cipher.is_some() || keyid.is_some() => {
                Err(self.wrong("ppt_scheme", "present when any other ppt_* option is"))
            }
            None => Ok(None),
            Some(scheme) => Ok(Some(PayloadPassthru {
                scheme: scheme.to_owned(),
                serializer: serializer.map(str::to_owned),
                cipher: cipher.map(str::to_owned),
                keyid: keyid.map(str::to_owned),
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_spec() {
        let p = PublishOptions::from_dict(&Dict::new()).unwrap();
        assert!(p.exclude_me && !p.acknowledge && !p.retain && !p.filters_receivers());
        let s = SubscribeOptions::from_dict(&Dict::new()).unwrap();
        assert_eq!(s.match_policy, MatchPolicy::Exact);
    }

    #[test]
    fn errors_name_the_key() {
        let d: Dict = [("exclude", Value::List(vec![Value::from("x")]))]
            .into_iter()
            .collect();
        let e = PublishOptions::from_dict(&d).unwrap_err();
        assert_eq!(
            e.to_string(),
            "PUBLISH.Options.exclude must be a list of session ids"
        );
        let d: Dict = [("ppt_cipher", "xsalsa20poly1305")].into_iter().collect();
        assert_eq!(PublishOptions::from_dict(&d).unwrap_err().key, "ppt_scheme");
        let d: Dict = [("timeout", Value::Int(-1))].into_iter().collect();
        assert_eq!(CallOptions::from_dict(&d).unwrap_err().key, "timeout");
        let d: Dict = [("progress", Value::from("yes"))].into_iter().collect();
        assert_eq!(
            YieldOptions::from_dict(&d).unwrap_err().to_string(),
            "YIELD.Options.progress must be a boolean"
        );
    }

    /// Explicit nulls count as absent but take the reading path: the
    /// shortcut for an empty dict must give what that path gives.
    fn assert_empty_reads_as_nulls<T: PartialEq + std::fmt::Debug>(
        from_dict: fn(&Dict) -> Result<T, OptionError>,
        keys: &[&str],
    ) {
        let nulls: Dict = keys.iter().map(|k| (*k, Value::Null)).collect();
        assert_eq!(from_dict(&Dict::new()), from_dict(&nulls), "{keys:?}");
    }

    #[test]
    fn no_options_read_as_every_option_absent() {
        assert_empty_reads_as_nulls(
            CallOptions::from_dict,
            &[
                "timeout",
                "receive_progress",
                "progress",
                "disclose_me",
                "ppt_scheme",
            ],
        );
        assert_empty_reads_as_nulls(YieldOptions::from_dict, &["progress", "ppt_scheme"]);
        assert_empty_reads_as_nulls(
            PublishOptions::from_dict,
            &[
                "acknowledge",
                "exclude_me",
                "disclose_me",
                "retain",
                "exclude",
                "exclude_authid",
                "exclude_authrole",
                "eligible",
                "eligible_authid",
                "eligible_authrole",
                "ppt_scheme",
            ],
        );
    }

    #[test]
    fn passthru_options_are_written_back_as_they_came() {
        let d: Dict = [("ppt_scheme", "mqtt"), ("ppt_keyid", "k1")]
            .into_iter()
            .collect();
        let y = YieldOptions::from_dict(&d).unwrap();
        assert!(!y.progress);
        let mut details = Dict::new();
        y.passthru.unwrap().insert_into(&mut details);
        assert_eq!(details, d);
    }
}
