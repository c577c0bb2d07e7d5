//! The WAMP face of the discovered devices. For a bridge with prefix
//! `com.example.lab`, device `<device>` (its index, or the name the config
//! gives it) and a register of path `/light#flashrate`:
//!
//! - `com.example.lab.<device>.light.flashrate.read` (readable registers)
//! - `com.example.lab.<device>.light.flashrate.write` (writable registers)
//! - `com.example.lab.<device>.light.flashrate.on_change` (the topic of
//!   its CHANGE events)
//! - `com.example.lab.devices`: the devices, their EDS and registers.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ringbar_client::{Dict, Value};

use super::discovery::Found;
use super::eds::{Eds, EdsDatabase, Register};

/// The procedure that lists the devices, below the prefix.
pub const DEVICES: &str = "devices";

/// A device as the bridge knows it.
#[derive(Debug, Clone)]
pub struct Device {
    /// Its index on the adapter.
    pub index: u16,
    /// Its URI component: the config's name, else the index.
    pub name: String,
    /// Its UUID (register 1).
    pub uuid: String,
    /// The URI of its EDS (register 2).
    pub eds_uri: String,
    /// Its EDS, when the folder has it.
    pub eds: Option<Arc<Eds>>,
}

/// What a procedure does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read the register.
    Read,
    /// Write the register.
    Write,
}

/// The register a procedure reaches.
#[derive(Debug, Clone)]
pub struct Target {
    /// The device index.
    pub device: u16,
    /// The register.
    pub register: Register,
    /// Read or write.
    pub action: Action,
}

/// The devices of one discovery, and their procedures.
#[derive(Debug, Default)]
pub struct DeviceTable {
    prefix: String,
    devices: Vec<Device>,
    procedures: HashMap<String, Target>,
}

impl DeviceTable {
    /// The table of the devices `found`, named by `names`, their EDS
    /// taken from `database`; with a warning for each device whose EDS
    /// the folder lacks.
    pub fn new(
        prefix: &str,
        names: &BTreeMap<u16, String>,
        found: Vec<Found>,
        database: &EdsDatabase,
    ) -> (DeviceTable, Vec<String>) {
        let mut warnings = Vec::new();
        let mut procedures = HashMap::new();
        let devices: Vec<Device> = found
            .into_iter()
            .map(|found| {
                let name = names
                    .get(&found.device)
                    .cloned()
                    .unwrap_or_else(|| found.device.to_string());
                let eds = database.get(&found.eds).cloned();
                match &eds {
                    Some(eds) => {
                        for register in &eds.registers {
                            let base = format!("{prefix}.{name}.{}", register.uri_path);
                            let actions = [
                                (register.access.readable(), Action::Read, "read"),
                                (register.access.writable(), Action::Write, "write"),
                            ];
                            for (allowed, action, verb) in actions {
                                if allowed {
                                    procedures.insert(
                                        format!("{base}.{verb}"),
                                        Target {
                                            device: found.device,
                                            register: register.clone(),
                                            action,
                                        },
                                    );
                                }
                            }
                        }
                    }
                    None => warnings.push(format!(
                        "device {} ({name}) has the EDS {:?}, which no file of the EDS folder has: its registers are not mapped",
                        found.device, found.eds
                    )),
                }
                Device {
                    index: found.device,
                    name,
                    uuid: found.uuid,
                    eds_uri: found.eds,
                    eds,
                }
            })
            .collect();
        (
            DeviceTable {
                prefix: prefix.to_owned(),
                devices,
                procedures,
            },
            warnings,
        )
    }

    /// The register `procedure` reaches.
    pub fn resolve(&self, procedure: &str) -> Option<&Target> {
        self.procedures.get(procedure)
    }

    /// The devices.
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    /// The register `register` of device `device`, and its CHANGE topic.
    pub fn change_topic(&self, device: u16, register: u16) -> Option<(String, &Register)> {
        let known = self.devices.iter().find(|d| d.index == device)?;
        let register = known.eds.as_ref()?.register(register)?;
        Some((
            format!(
                "{}.{}.{}.on_change",
                self.prefix, known.name, register.uri_path
            ),
            register,
        ))
    }

    /// `<prefix>.devices`' result: each device with its EDS and registers
    /// and their URIs.
    pub fn describe(&self) -> Value {
        Value::List(
            self.devices
                .iter()
                .map(|device| {
                    let mut entry = Dict::new();
                    entry.insert("index", u64::from(device.index));
                    entry.insert("name", device.name.as_str());
                    entry.insert("uuid", device.uuid.as_str());
                    entry.insert("eds", device.eds_uri.as_str());
                    let registers = device.eds.as_ref().map_or_else(Vec::new, |eds| {
                        eds.registers
                            .iter()
                            .map(|r| self.describe_register(device, r))
                            .collect()
                    });
                    if let Some(eds) = &device.eds {
                        entry.insert("label", eds.label.clone().map_or(Value::Null, Value::from));
                    }
                    entry.insert("registers", Value::List(registers));
                    Value::Dict(entry)
                })
                .collect(),
        )
    }

    fn describe_register(&self, device: &Device, register: &Register) -> Value {
        let (ty, count) = register.ty.describe();
        let mut entry = Dict::new();
        entry.insert("index", u64::from(register.index));
        entry.insert("path", register.path.as_str());
        entry.insert(
            "uri",
            format!("{}.{}.{}", self.prefix, device.name, register.uri_path),
        );
        entry.insert("access", register.access.name());
        entry.insert("type", ty);
        entry.insert("count", count);
        entry.insert("optional", register.optional);
        if let Some(desc) = &register.desc {
            entry.insert("desc", desc.as_str());
        }
        Value::Dict(entry)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn registers_become_procedures_and_topics_under_the_device_name() {
        let eds = r#"{"uri": "urn:board", "label": "Board", "registers": [
            {"index": 1024, "path": "/light/color#rgb", "access": "readwrite", "type": "uint8", "count": 3},
            {"index": 1025, "path": "/button", "access": "read", "type": "uint8"}]}"#;
        let database = EdsDatabase::from_texts(&[("board.json".into(), eds.into())]).unwrap();
        let found = vec![
            Found {
                device: 1,
                uuid: "u1".into(),
                eds: "urn:board".into(),
            },
            Found {
                device: 2,
                uuid: "u2".into(),
                eds: "urn:unknown".into(),
            },
        ];
        let names = BTreeMap::from([(1, "adapter".to_owned())]);
        let (table, warnings) = DeviceTable::new("com.example.lab", &names, found, &database);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("device 2 (2)"), "{}", warnings[0]);
        let write = table
            .resolve("com.example.lab.adapter.light.color.rgb.write")
            .unwrap();
        assert_eq!(
            (write.device, write.register.index, write.action),
            (1, 1024, Action::Write)
        );
        assert!(
            table
                .resolve("com.example.lab.adapter.button.read")
                .is_some()
        );
        assert!(
            table
                .resolve("com.example.lab.adapter.button.write")
                .is_none()
        );
        assert_eq!(
            table.change_topic(1, 1025).unwrap().0,
            "com.example.lab.adapter.button.on_change"
        );
        let described = format!("{:?}", table.describe());
        assert!(
            described.contains("com.example.lab.adapter.light.color.rgb"),
            "{described}"
        );
    }
}
