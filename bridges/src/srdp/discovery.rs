//! Discovery, as the EDS document describes it: the host reads the
//! adapter's (device 1) register 1 (its UUID), 2 (the URI of its EDS) and
//! 5 (the indexes of the devices connected to it), then registers 1 and 2
//! of each device. Sans-IO: it says which register to read next and takes
//! each answer.

use std::collections::VecDeque;

use bytes::Bytes;

use super::channel::Failure;
use super::eds::types::Extent;
use super::frame::MAX_DEVICE;

/// The adapter's device index.
pub const ADAPTER: u16 = 1;
/// Register 1: a 128-bit UUID.
pub const REGISTER_ID: u16 = 1;
/// Register 2: the URI of the EDS (a `uint16`-prefixed string).
pub const REGISTER_EDS: u16 = 2;
/// The adapter's register 5: the devices (a `uint16`-prefixed `uint16` vector).
pub const REGISTER_DEVICES: u16 = 5;

/// The most devices taken from an adapter's list (12-bit indexes).
const MAX_DEVICES: usize = 4095;

/// What discovery found of one device (the adapter included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its index.
    pub device: u16,
    /// Its UUID, as `550e8400-e29b-41d4-a716-446655440000`.
    pub uuid: String,
    /// The URI of its EDS.
    pub eds: String,
}

/// A device discovery could not identify, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missed {
    /// Its index.
    pub device: u16,
    /// Why.
    pub reason: String,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Read this register and give the answer to [`Discovery::answer`].
    Read {
        /// The device index.
        device: u16,
        /// The register index.
        register: u16,
        /// Its size.
        extent: Extent,
    },
    /// Discovery is over.
    Done {
        /// The devices identified, the adapter first.
        found: Vec<Found>,
        /// The devices that could not be.
        missed: Vec<Missed>,
    },
    /// The adapter could not be identified: there is nothing to map.
    Failed(String),
}

/// One run of discovery.
#[derive(Debug)]
pub struct Discovery {
    /// The register being read: device, register; `None` when over.
    reading: Option<(u16, u16)>,
    /// Devices of the adapter's list not yet read.
    pending: VecDeque<u16>,
    /// The UUID of the device being read.
    uuid: String,
    found: Vec<Found>,
    missed: Vec<Missed>,
    failed: Option<String>,
}

impl Default for Discovery {
    fn default() -> Self {
        Self::new()
    }
}

impl Discovery {
    /// Starts with the adapter.
    pub fn new() -> Self {
        Discovery {
            reading: Some((ADAPTER, REGISTER_ID)),
            pending: VecDeque::new(),
            uuid: String::new(),
            found: Vec::new(),
            missed: Vec::new(),
            failed: None,
        }
    }

    /// The next step.
    pub fn step(&mut self) -> Step {
        if let Some(reason) = self.failed.take() {
            return Step::Failed(reason);
        }
        match self.reading {
            Some((device, register)) => Step::Read {
                device,
                register,
                extent: match register {
                    REGISTER_ID => Extent::Fixed(16),
                    REGISTER_EDS => Extent::Prefixed {
                        prefix_bytes: 2,
                        element_bytes: 1,
                    },
                    _ => Extent::Prefixed {
                        prefix_bytes: 2,
                        element_bytes: 2,
                    },
                },
            },
            None => Step::Done {
                found: std::mem::take(&mut self.found),
                missed: std::mem::take(&mut self.missed),
            },
        }
    }

    /// Takes the answer to the last [`Step::Read`].
    pub fn answer(&mut self, outcome: Result<Bytes, Failure>) {
        let Some((device, register)) = self.reading else {
            return;
        };
        let bytes = match outcome {
            Ok(bytes) => bytes,
            Err(failure) => {
                let reason = format!("register {register}: {failure}");
                if device == ADAPTER {
                    self.failed = Some(format!(
                        "the adapter (device 1) cannot be identified: {reason}"
                    ));
                    self.reading = None;
                } else {
                    self.missed.push(Missed { device, reason });
                    self.next_device();
                }
                return;
            }
        };
        let body = bytes.get(2..).unwrap_or_default();
        match register {
            REGISTER_ID => {
                self.uuid = uuid(&bytes);
                self.reading = Some((device, REGISTER_EDS));
            }
            REGISTER_EDS => {
                self.found.push(Found {
                    device,
                    uuid: std::mem::take(&mut self.uuid),
                    eds: String::from_utf8_lossy(body).into_owned(),
                });
                if device == ADAPTER {
                    self.reading = Some((ADAPTER, REGISTER_DEVICES));
                } else {
                    self.next_device();
                }
            }
            _ => {
                for pair in body.chunks_exact(2).take(MAX_DEVICES) {
                    let index = u16::from_le_bytes([pair[0], pair[1]]);
                    // 0 is an empty slot, 1 the adapter itself.
                    if index > ADAPTER && index <= MAX_DEVICE && !self.pending.contains(&index) {
                        self.pending.push_back(index);
                    }
                }
                self.next_device();
            }
        }
    }

    fn next_device(&mut self) {
        self.reading = self.pending.pop_front().map(|d| (d, REGISTER_ID));
    }
}

/// 16 bytes as a UUID's text; other lengths as plain hex.
fn uuid(bytes: &[u8]) -> String {
    let hex = hex_of(bytes);
    if bytes.len() != 16 {
        return hex;
    }
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn string(text: &str) -> Bytes {
        let mut bytes = (text.len() as u16).to_le_bytes().to_vec();
        bytes.extend_from_slice(text.as_bytes());
        bytes.into()
    }

    #[test]
    fn the_adapter_then_each_listed_device_is_read() {
        let mut discovery = Discovery::new();
        let mut asked = Vec::new();
        let answers = |device: u16, register: u16| -> Result<Bytes, Failure> {
            match (device, register) {
                (_, REGISTER_ID) => Ok(Bytes::from(vec![device as u8; 16])),
                (4, REGISTER_EDS) => Err(Failure::Timeout(500)),
                (_, REGISTER_EDS) => Ok(string(&format!("urn:eds:{device}"))),
                // 0 (empty), 1 (the adapter), a repeat: all skipped.
                _ => Ok(Bytes::from_static(&[5, 0, 2, 0, 0, 0, 1, 0, 4, 0, 2, 0])),
            }
        };
        let (found, missed) = loop {
            match discovery.step() {
                Step::Read {
                    device, register, ..
                } => {
                    asked.push((device, register));
                    discovery.answer(answers(device, register));
                }
                Step::Done { found, missed } => break (found, missed),
                Step::Failed(reason) => panic!("{reason}"),
            }
        };
        assert_eq!(
            asked,
            [(1, 1), (1, 2), (1, 5), (2, 1), (2, 2), (4, 1), (4, 2)]
        );
        assert_eq!(found[0].uuid, "01010101-0101-0101-0101-010101010101");
        let eds: Vec<(u16, &str)> = found.iter().map(|f| (f.device, f.eds.as_str())).collect();
        assert_eq!(eds, [(1, "urn:eds:1"), (2, "urn:eds:2")]);
        assert_eq!(missed[0].device, 4);
        assert!(
            missed[0]
                .reason
                .contains("register 2: no answer within 500 ms")
        );
    }

    #[test]
    fn an_adapter_that_does_not_answer_fails_discovery() {
        let mut discovery = Discovery::new();
        assert!(matches!(
            discovery.step(),
            Step::Read {
                device: 1,
                register: 1,
                ..
            }
        ));
        discovery.answer(Err(Failure::LinkDown));
        let Step::Failed(reason) = discovery.step() else {
            panic!()
        };
        assert!(reason.contains("adapter (device 1)"), "{reason}");
    }
}
