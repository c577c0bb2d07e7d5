//! `"type": "srdp-bridge"` workers (ringbar's; Crossbar.io has no SRDP
//! bridge): devices on an SRDP adapter, reached by a serial line or UDP,
//! as procedures and topics under `prefix`, typed by the EDS files of the
//! folder `eds`, which is loaded (and checked) here.

use std::collections::BTreeMap;
use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::Duration;

use ringbar_bridges::config::{BridgeWorker, Component, ComponentKind, SrdpBridge, SrdpTransport};
use ringbar_bridges::srdp::config::{DEFAULT_TIMEOUT, UDP_PORT};
use ringbar_bridges::srdp::eds::EdsDatabase;
use ringbar_bridges::srdp::frame::{DEFAULT_MAX_DATA_BYTES, HEADER_BYTES, MAX_DEVICE};
use ringbar_protocol::uri::MatchPolicy;
use serde::Deserialize;
use serde_json::Value;

use super::Reader;
use super::component::{bounded, uri};
use super::router::{self, RouterFile};
use crate::config::convert;
use crate::config::diag::{Diagnostics, Path};
use crate::config::guest::check_id;
use crate::config::read::{Accept, read, read_with};

/// The worker type.
pub(super) const TYPE: &str = "srdp-bridge";

/// The largest `timeout_ms`: a minute.
const MAX_TIMEOUT_MS: i64 = 60_000;
/// The largest frame: positions and lengths are u16.
const MAX_FRAME_DATA: i64 = u16::MAX as i64 - HEADER_BYTES as i64;
/// The default `baudrate`.
const DEFAULT_BAUDRATE: i64 = 115_200;

/// An `srdp-bridge` worker.
#[derive(Debug, Deserialize)]
#[serde(expecting = "an srdp-bridge worker object")]
struct SrdpWorkerFile {
    #[serde(default)]
    id: Option<String>,
    router: Value,
    transport: Value,
    eds: String,
    prefix: String,
    #[serde(default)]
    devices: BTreeMap<String, String>,
    #[serde(default)]
    timeout_ms: Option<i64>,
    #[serde(default)]
    max_frame_data: Option<i64>,
}

/// `transport` of `"type": "serial"`.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a serial transport object of port, baudrate")]
struct SerialFile {
    port: String,
    #[serde(default)]
    baudrate: Option<i64>,
}

/// `transport` of `"type": "udp"`.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a udp transport object of host, port")]
struct UdpFile {
    host: String,
    #[serde(default)]
    port: Option<Value>,
}

impl Reader<'_> {
    /// An `srdp-bridge` worker: one component, the bridge.
    pub(super) fn srdp(
        &mut self,
        worker: &Value,
        path: &Path,
        default_id: Option<String>,
        diag: &mut Diagnostics,
    ) -> Option<BridgeWorker> {
        let disabled = convert::disabled(worker, path, true, self.env, diag);
        let file: SrdpWorkerFile =
            read_with(worker, path, diag, Accept::silent(&["type", "options"]))?;
        let errors = diag.error_count();
        let id = match file.id {
            Some(id) => check_id(id, &path.key("id"), diag),
            None => default_id,
        };
        let router_file: Option<RouterFile> = read(&file.router, &path.key("router"), diag);
        let transport = transport(
            &file.transport,
            &path.key("transport"),
            self.dir,
            self.env,
            diag,
        );
        let eds = eds(&file.eds, &path.key("eds"), self.dir, diag);
        uri(&file.prefix, MatchPolicy::Prefix, &path.key("prefix"), diag);
        let devices = devices(&file.devices, &path.key("devices"), diag);
        let timeout = bounded(
            file.timeout_ms,
            i64::try_from(DEFAULT_TIMEOUT.as_millis()).unwrap_or(i64::MAX),
            1..=MAX_TIMEOUT_MS,
            &path.key("timeout_ms"),
            "milliseconds",
            diag,
        );
        let max_frame_data = bounded(
            file.max_frame_data,
            DEFAULT_MAX_DATA_BYTES as i64,
            1..=MAX_FRAME_DATA,
            &path.key("max_frame_data"),
            "bytes",
            diag,
        );
        let id = id?;
        let (router, credentials, realm) =
            router::target(self, router_file?, &id, &path.key("router"), diag)?;
        if diag.error_count() != errors || disabled {
            return None;
        }
        let bridge = SrdpBridge {
            transport: transport?,
            eds_folder: self.dir.join(&file.eds),
            eds: Arc::new(eds?),
            prefix: file.prefix,
            devices: devices?,
            timeout: Duration::from_millis(u64::try_from(timeout?).ok()?),
            max_frame_data: usize::try_from(max_frame_data?).ok()?,
        };
        Some(BridgeWorker {
            id,
            components: vec![Component {
                name: format!("SRDP bridge {}", bridge.prefix),
                realm,
                router,
                credentials,
                kind: ComponentKind::Srdp(bridge),
            }],
        })
    }
}

fn transport(
    value: &Value,
    path: &Path,
    dir: &FsPath,
    env: convert::Env<'_>,
    diag: &mut Diagnostics,
) -> Option<SrdpTransport> {
    let accept = Accept::silent(&["type"]);
    match value.get("type").and_then(Value::as_str) {
        Some("serial") => {
            let file: SerialFile = read_with(value, path, diag, accept)?;
            let baudrate = bounded(
                file.baudrate,
                DEFAULT_BAUDRATE,
                1..=i64::from(u32::MAX),
                &path.key("baudrate"),
                "baud",
                diag,
            )?;
            if file.port.is_empty() {
                diag.error(
                    &path.key("port"),
                    "empty: give the serial device, e.g. \"/dev/ttyACM0\"",
                );
                return None;
            }
            Some(SrdpTransport::Serial {
                port: dir.join(file.port),
                baudrate: u32::try_from(baudrate).ok()?,
            })
        }
        Some("udp") => {
            let file: UdpFile = read_with(value, path, diag, accept)?;
            let port = match &file.port {
                Some(port) => convert::port(port, &path.key("port"), env, diag)?,
                None => UDP_PORT,
            };
            if file.host.is_empty() {
                diag.error(
                    &path.key("host"),
                    "empty: give the adapter's address or name",
                );
                return None;
            }
            Some(SrdpTransport::Udp {
                host: file.host,
                port,
            })
        }
        Some(other) => {
            diag.error(
                &path.key("type"),
                format!("\"{other}\" is not an SRDP transport type (serial, udp)"),
            );
            None
        }
        None => {
            diag.error(path, "missing \"type\": \"serial\" or \"udp\"");
            None
        }
    }
}

fn eds(folder: &str, path: &Path, dir: &FsPath, diag: &mut Diagnostics) -> Option<EdsDatabase> {
    match EdsDatabase::load(&dir.join(folder)) {
        Ok(database) => {
            if database.is_empty() {
                diag.warn(path, format!("the folder \"{folder}\" holds no EDS (*.json) file: no device can be mapped"));
            }
            Some(database)
        }
        Err(error) => {
            diag.error(path, error);
            None
        }
    }
}

/// `devices`: `{"<index>": "<name>"}`, each name one URI component.
fn devices(
    names: &BTreeMap<String, String>,
    path: &Path,
    diag: &mut Diagnostics,
) -> Option<BTreeMap<u16, String>> {
    let errors = diag.error_count();
    let mut devices = BTreeMap::new();
    for (key, name) in names {
        let at = path.key(key);
        let Some(index) = key
            .parse::<u16>()
            .ok()
            .filter(|i| (1..=MAX_DEVICE).contains(i))
        else {
            diag.error(
                &at,
                format!("\"{key}\" is not a device index (1-{MAX_DEVICE})"),
            );
            continue;
        };
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            diag.error(
                &at,
                format!("{name:?} is not one URI component (letters, digits, _ or -)"),
            );
            continue;
        }
        let shadows = name.parse::<u16>().ok().filter(|n| *n != index);
        if let Some(other) = shadows {
            diag.error(&at, format!("{name:?} is how device {other} is named when it has no name: choose a name that is not a number"));
            continue;
        }
        if let Some((first, _)) = devices.iter().find(|(_, n)| *n == name) {
            diag.error(
                &at,
                format!(
                    "{name:?} is also the name of device {first}: give each device its own name"
                ),
            );
            continue;
        }
        devices.insert(index, name.clone());
    }
    (diag.error_count() == errors).then_some(devices)
}

#[cfg(test)]
mod tests;
