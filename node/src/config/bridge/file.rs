//! Serde types of the bridge parts of Crossbar.io's `config.json`: a
//! `container` worker, its components, their connecting transports, and
//! the `extra` of `RESTCallee` and `MessageForwarder` (with ringbar's
//! limits beside Crossbar.io's keys).

use serde::Deserialize;
use serde_json::Value;

/// A worker of `"type": "container"`.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a container worker object")]
pub(crate) struct ContainerWorkerFile {
    /// `id`: the worker's name (`worker<NNN>` when absent).
    #[serde(default)]
    pub(crate) id: Option<String>,
    /// `components`.
    #[serde(default)]
    pub(crate) components: Vec<Value>,
}

/// A `class` component of a container: it connects by `transport`.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a container component object")]
pub(crate) struct ContainerComponentFile {
    /// `realm`: the realm it joins.
    pub(crate) realm: String,
    /// `transport`: how it reaches the router.
    pub(crate) transport: Value,
    /// `classname`: the Python class Crossbar.io runs.
    pub(crate) classname: String,
    /// `extra`: the component's own settings.
    #[serde(default)]
    pub(crate) extra: Option<Value>,
}

/// A `class` component of a router worker: it joins in the router with
/// `role`.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a router component object")]
pub(crate) struct RouterComponentFile {
    /// `realm`: the realm it joins.
    pub(crate) realm: String,
    /// `role`: its authrole (Crossbar.io's default: `anonymous`).
    #[serde(default)]
    pub(crate) role: Option<String>,
    /// `classname`: the Python class Crossbar.io runs.
    pub(crate) classname: String,
    /// `extra`: the component's own settings.
    #[serde(default)]
    pub(crate) extra: Option<Value>,
}

/// A connecting `websocket` transport.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a websocket transport object")]
pub(crate) struct ClientWebSocketFile {
    /// `endpoint`: where to connect.
    pub(crate) endpoint: Value,
    /// `url`: the WebSocket URL (its path is requested).
    pub(crate) url: String,
}

/// A connecting `rawsocket` transport.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a rawsocket transport object")]
pub(crate) struct ClientRawSocketFile {
    /// `endpoint`: where to connect.
    pub(crate) endpoint: Value,
    /// `serializer`: `json`, `msgpack`, `cbor` or `ubjson`.
    pub(crate) serializer: String,
}

/// A connecting `tcp` endpoint.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a tcp endpoint object")]
pub(crate) struct ConnectingTcpFile {
    /// `host`: the router's name or address.
    pub(crate) host: String,
    /// `port`: a number or `"$VAR"`.
    pub(crate) port: Value,
    /// `tls`: connect with TLS (not supported yet).
    #[serde(default)]
    pub(crate) tls: Option<Value>,
}

/// A connecting `unix` endpoint.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a unix endpoint object")]
pub(crate) struct ConnectingUnixFile {
    /// `path`: the socket file, relative to the node directory.
    pub(crate) path: String,
}

/// `RESTCallee`'s `extra`.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a RESTCallee extra object of procedure, baseurl")]
pub(crate) struct RestCalleeExtraFile {
    /// `procedure`: the URI registered.
    pub(crate) procedure: String,
    /// `baseurl`: what each call's `url` is resolved against.
    pub(crate) baseurl: String,
    /// `timeout_ms` (ringbar): how long one HTTP request may take.
    #[serde(default)]
    pub(crate) timeout_ms: Option<i64>,
    /// `max_response_bytes` (ringbar): the largest response body read.
    #[serde(default)]
    pub(crate) max_response_bytes: Option<i64>,
}

/// `MessageForwarder`'s `extra`.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a MessageForwarder extra object of subscriptions, method, expectedcode")]
pub(crate) struct ForwarderExtraFile {
    /// `subscriptions`: `{topic, url, match}` each.
    pub(crate) subscriptions: Vec<Value>,
    /// `method`: `POST` by default.
    #[serde(default)]
    pub(crate) method: Option<String>,
    /// `expectedcode`: the status that means delivered.
    #[serde(default)]
    pub(crate) expectedcode: Option<i64>,
    /// `timeout_ms` (ringbar): how long one HTTP request may take.
    #[serde(default)]
    pub(crate) timeout_ms: Option<i64>,
    /// `max_response_bytes` (ringbar): the largest response body read.
    #[serde(default)]
    pub(crate) max_response_bytes: Option<i64>,
    /// `max_queued_events` (ringbar): events each target may hold.
    #[serde(default)]
    pub(crate) max_queued_events: Option<i64>,
    /// `retries` (ringbar): further attempts for a failed request.
    #[serde(default)]
    pub(crate) retries: Option<i64>,
}

/// One of `MessageForwarder`'s `subscriptions`.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a subscription object of topic, url, match")]
pub(crate) struct ForwardFile {
    /// `topic`: the topic or pattern.
    pub(crate) topic: String,
    /// `url`: where its events are sent.
    pub(crate) url: String,
    /// `match`: `exact` (the default), `prefix` or `wildcard`.
    #[serde(default, rename = "match")]
    pub(crate) match_policy: Option<String>,
}
