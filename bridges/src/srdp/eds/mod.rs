//! Electronic Device Sheets: JSON files, one per adapter or device model,
//! each naming its `uri` and its `registers`. A register entry is an
//! object (`index`, `path`, `optional`, `access`, `type`, `count`,
//! `desc`) or a string: the URI of another EDS whose registers are
//! inherited (each EDS once, however often it is named). An index or a
//! path used twice — directly or through inheritance — is an error naming
//! both.

mod load;
pub mod types;
pub mod value;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use load::{EdsError, MAX_EDS_FILE_BYTES, MAX_EDS_FILES};
use types::RegisterType;

/// Every EDS of a folder, their inheritance resolved.
#[derive(Debug, Default)]
pub struct EdsDatabase {
    by_uri: BTreeMap<String, Arc<Eds>>,
}

/// One EDS with every register it has, its own and inherited.
#[derive(Debug)]
pub struct Eds {
    /// `uri`: how devices name it (their register 2).
    pub uri: String,
    /// `label`: a short name.
    pub label: Option<String>,
    /// `desc`: what it is.
    pub desc: Option<String>,
    /// Every register, by index.
    pub registers: Vec<Register>,
}

/// One register of a map.
#[derive(Debug, Clone)]
pub struct Register {
    /// `index`: how frames address it.
    pub index: u16,
    /// `path`: how URIs name it (`/light#flashrate`).
    pub path: String,
    /// `path` as dotted URI components (`light.flashrate`).
    pub uri_path: String,
    /// `optional`: a device may lack it.
    pub optional: bool,
    /// `access`.
    pub access: Access,
    /// `type` and `count`.
    pub ty: RegisterType,
    /// `desc`.
    pub desc: Option<String>,
}

/// What the host may do with a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `read`.
    Read,
    /// `write`.
    Write,
    /// `readwrite`.
    ReadWrite,
}

impl EdsDatabase {
    /// Loads every `*.json` file under `folder`.
    pub fn load(folder: &std::path::Path) -> Result<EdsDatabase, EdsError> {
        load::folder(folder)
    }

    /// The database of EDS texts given as `(file name, JSON)`.
    pub fn from_texts(texts: &[(String, String)]) -> Result<EdsDatabase, EdsError> {
        load::from_texts(texts)
    }

    /// The EDS of `uri`.
    pub fn get(&self, uri: &str) -> Option<&Arc<Eds>> {
        self.by_uri.get(uri)
    }

    /// Every EDS it holds, by URI.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Eds>> {
        self.by_uri.values()
    }

    /// How many it holds.
    pub fn len(&self) -> usize {
        self.by_uri.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.by_uri.is_empty()
    }
}

impl Eds {
    /// The register of `index`.
    pub fn register(&self, index: u16) -> Option<&Register> {
        self.registers.iter().find(|r| r.index == index)
    }
}

impl Access {
    /// Its name in an EDS.
    pub fn name(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::ReadWrite => "readwrite",
        }
    }

    /// Whether the host may read the register.
    pub fn readable(self) -> bool {
        self != Access::Write
    }

    /// Whether the host may write the register.
    pub fn writable(self) -> bool {
        self != Access::Read
    }
}
