//! The management service's state: owners and nodes, in one embedded,
//! transactional `redb` database, `DIR/management.db`. This module alone
//! knows the schema; every change is one committed transaction, so a crash
//! leaves the last committed state.
//!
//! Tables (keys are text, values JSON text, so the schema can grow fields
//! with `#[serde(default)]`):
//! - `owners`: owner name -> [`Owner`];
//! - `nodes`: the node's Ed25519 public key, in hex -> [`Node`];
//! - `schema`: `"version"` -> [`SCHEMA_VERSION`].

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

/// The database file in the management directory.
pub(crate) const STORE_FILE: &str = "management.db";

/// The schema this code reads and writes.
const SCHEMA_VERSION: u64 = 1;

const OWNERS: TableDefinition<&str, &str> = TableDefinition::new("owners");
const NODES: TableDefinition<&str, &str> = TableDefinition::new("nodes");
const SCHEMA: TableDefinition<&str, u64> = TableDefinition::new("schema");

/// An owner: a person who pairs and manages nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Owner {
    /// How the owner proves who they are.
    pub(crate) credential: Credential,
    /// When the owner was added, in seconds since the Unix epoch.
    pub(crate) created_at: u64,
}

/// An owner's credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Credential {
    /// A password, as an argon2 PHC string (never the password itself).
    Password(String),
    /// An Ed25519 public key (WAMP-cryptosign), in hex.
    Ed25519(String),
}

/// A node known to the service, by its instance key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Node {
    /// The name its owner gave it.
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// The owner it is paired with, when paired.
    #[serde(default)]
    pub(crate) owner: Option<String>,
    /// Whether the node is paired.
    #[serde(default)]
    pub(crate) paired: bool,
    /// The last configuration sent to it.
    #[serde(default)]
    pub(crate) last_config: Option<serde_json::Value>,
    /// When it was last connected, in seconds since the Unix epoch.
    #[serde(default)]
    pub(crate) last_seen: Option<u64>,
}

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// The database refused (I/O, a lock held by another process, damage).
    #[error("{}: {source}", path.display())]
    Database {
        /// The database file.
        path: PathBuf,
        /// redb's reason.
        source: redb::Error,
    },
    /// The directory has no database.
    #[error(
        "{} does not exist: this is not a management directory (`ringbar management init DIR` makes one)",
        .0.display()
    )]
    Missing(PathBuf),
    /// The database was written by another version of ringbar.
    #[error("{}: schema version {found}, this ringbar reads {SCHEMA_VERSION} (use the ringbar that wrote it)", path.display())]
    Schema {
        /// The database file.
        path: PathBuf,
        /// The version found.
        found: u64,
    },
    /// A record does not parse.
    #[error("{}: {table} record {key:?} is damaged: {reason}", path.display())]
    Record {
        /// The database file.
        path: PathBuf,
        /// The table.
        table: &'static str,
        /// The record's key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// Another process (a running management service) has it open.
    #[error(
        "{} is in use by another ringbar process: stop the management service first (`ringbar stop DIR`)",
        .0.display()
    )]
    InUse(PathBuf),
    /// An owner of that name exists.
    #[error("owner '{0}' exists already (choose another name)")]
    OwnerExists(String),
}

/// The open state database.
#[derive(Debug)]
pub(crate) struct Store {
    db: Database,
    path: PathBuf,
}

impl Store {
    /// Creates the database of the management directory `dir`, with its
    /// tables, or opens the one there.
    pub(crate) fn create(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.join(STORE_FILE);
        owner_only(&path).map_err(|e| db_error(&path, redb::StorageError::Io(e)))?;
        let db = Database::create(&path).map_err(|e| db_error(&path, e))?;
        let store = Store { db, path };
        store.write(|txn| {
            txn.open_table(OWNERS)?;
            txn.open_table(NODES)?;
            let mut schema = txn.open_table(SCHEMA)?;
            if schema.get("version")?.is_none() {
                schema.insert("version", SCHEMA_VERSION)?;
            }
            Ok(())
        })?;
        store.check_schema()?;
        Ok(store)
    }

    /// Opens the existing database of `dir`.
    pub(crate) fn open(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.join(STORE_FILE);
        if !path.is_file() {
            return Err(StoreError::Missing(path));
        }
        let db = Database::open(&path).map_err(|e| db_error(&path, e))?;
        let store = Store { db, path };
        store.check_schema()?;
        Ok(store)
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Adds the owner `name`; fails when the name is taken.
    pub(crate) fn add_owner(&self, name: &str, owner: &Owner) -> Result<(), StoreError> {
        let json = to_json(&self.path, "owners", name, owner)?;
        let mut exists = false;
        self.write(|txn| {
            let mut owners = txn.open_table(OWNERS)?;
            exists = owners.get(name)?.is_some();
            if !exists {
                owners.insert(name, json.as_str())?;
            }
            Ok(())
        })?;
        if exists {
            return Err(StoreError::OwnerExists(name.to_owned()));
        }
        Ok(())
    }

    /// Every owner, by name.
    pub(crate) fn owners(&self) -> Result<Vec<(String, Owner)>, StoreError> {
        self.list(OWNERS, "owners")
    }

    /// The owner `name`, if there is one.
    pub(crate) fn owner(&self, name: &str) -> Result<Option<Owner>, StoreError> {
        self.get(OWNERS, "owners", name)
    }

    /// Writes the record of the node with the public key `pubkey` (hex).
    pub(crate) fn put_node(&self, pubkey: &str, node: &Node) -> Result<(), StoreError> {
        let json = to_json(&self.path, "nodes", pubkey, node)?;
        self.write(|txn| {
            txn.open_table(NODES)?.insert(pubkey, json.as_str())?;
            Ok(())
        })
    }

    /// The node with the public key `pubkey` (hex), if known.
    pub(crate) fn node(&self, pubkey: &str) -> Result<Option<Node>, StoreError> {
        self.get(NODES, "nodes", pubkey)
    }

    /// Every known node, by public key.
    pub(crate) fn nodes(&self) -> Result<Vec<(String, Node)>, StoreError> {
        self.list(NODES, "nodes")
    }

    fn check_schema(&self) -> Result<(), StoreError> {
        let found = self
            .read(|txn| Ok(txn.open_table(SCHEMA)?.get("version")?.map(|v| v.value())))?
            .unwrap_or(0);
        if found == SCHEMA_VERSION {
            Ok(())
        } else {
            Err(StoreError::Schema {
                path: self.path.clone(),
                found,
            })
        }
    }

    fn get<T: serde::de::DeserializeOwned>(
        &self,
        table: TableDefinition<&str, &str>,
        name: &'static str,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let json = self.read(|txn| {
            Ok(txn
                .open_table(table)?
                .get(key)?
                .map(|v| v.value().to_owned()))
        })?;
        json.map(|json| self.parse(name, key, &json)).transpose()
    }

    fn list<T: serde::de::DeserializeOwned>(
        &self,
        table: TableDefinition<&str, &str>,
        name: &'static str,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let rows = self.read(|txn| {
            let mut rows = Vec::new();
            for row in txn.open_table(table)?.iter()? {
                let (key, value) = row?;
                rows.push((key.value().to_owned(), value.value().to_owned()));
            }
            Ok(rows)
        })?;
        rows.into_iter()
            .map(|(key, json)| {
                let record = self.parse(name, &key, &json)?;
                Ok((key, record))
            })
            .collect()
    }

    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        table: &'static str,
        key: &str,
        json: &str,
    ) -> Result<T, StoreError> {
        serde_json::from_str(json).map_err(|e| StoreError::Record {
            path: self.path.clone(),
            table,
            key: key.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Runs `body` in one write transaction and commits it; nothing of it
    /// is kept when it fails.
    fn write(
        &self,
        body: impl FnOnce(&redb::WriteTransaction) -> Result<(), redb::Error>,
    ) -> Result<(), StoreError> {
        let run = || -> Result<(), redb::Error> {
            let txn = self.db.begin_write()?;
            body(&txn)?;
            txn.commit()?;
            Ok(())
        };
        run().map_err(|e| db_error(&self.path, e))
    }

    fn read<T>(
        &self,
        body: impl FnOnce(&redb::ReadTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, StoreError> {
        let run = || -> Result<T, redb::Error> { body(&self.db.begin_read()?) };
        run().map_err(|e| db_error(&self.path, e))
    }
}

/// Makes the database file readable and writable by its owner alone (it
/// holds password hashes and node keys), creating it empty when missing.
fn owner_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

fn db_error(path: &Path, source: impl Into<redb::Error>) -> StoreError {
    match source.into() {
        redb::Error::DatabaseAlreadyOpen => StoreError::InUse(path.to_path_buf()),
        source => StoreError::Database {
            path: path.to_path_buf(),
            source,
        },
    }
}

/// Records are plain structs of strings, numbers and JSON values, which
/// always serialise; an error would be a bug, reported as a record error.
fn to_json<T: Serialize>(
    path: &Path,
    table: &'static str,
    key: &str,
    record: &T,
) -> Result<String, StoreError> {
    serde_json::to_string(record).map_err(|e| StoreError::Record {
        path: path.to_path_buf(),
        table,
        key: key.to_owned(),
        reason: format!("cannot be written: {e}"),
    })
}

#[cfg(test)]
mod tests;
