//! The profile folder: identity, settings, contacts, chat, transfer history and
//! the queue of files still to send.
//!
//! Layout of `<profile_dir>`:
//! - `identity.key`: the Ed25519 secret key (see [`crate::identity`]);
//! - `parley.db`: SQLite database, schema versioned with `PRAGMA user_version` and
//!   migrated forward on [`Profile::open`].
//!
//! [`Profile`] is `Send + Sync`: the connection sits behind a mutex, and every method
//! is a short synchronous query (call from async code directly; they do not block
//! for long).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use parley_proto::data::ChatMessage;
use parley_proto::PeerId;
use rusqlite::{params, Connection, OptionalExtension as _};

mod folder_files;
mod outbox;
mod transfers;

pub use folder_files::{ReceivedFolderFile, FOLDER_FILES_KEPT_MS};
pub use outbox::{OutboxEntry, ToQueue};
pub use transfers::{TransferEnd, TransferRecord, MAX_TRANSFER_HISTORY};

use crate::identity::Identity;
use crate::rtc::DtlsCertificate;
use crate::{Error, Result};

/// File name of the database inside the profile folder.
pub const DB_FILE_NAME: &str = "parley.db";

/// Schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i32 = 6;

/// Longest contact name accepted, chars.
pub const MAX_CONTACT_NAME_CHARS: usize = 100;

/// Well-known setting keys (any other key is allowed too).
pub mod keys {
    /// Our display name, shown to peers.
    pub const DISPLAY_NAME: &str = "display_name";
    /// The signaling server URL (`wss://…`).
    pub const SERVER_URL: &str = "server_url";
    /// Folder where received files are saved.
    pub const RECEIVE_DIR: &str = "receive_dir";
}

/// Which way a chat message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// We sent it to the peer.
    Sent,
    /// The peer sent it to us.
    Received,
}

impl Direction {
    fn to_sql(self) -> i64 {
        match self {
            Direction::Sent => 0,
            Direction::Received => 1,
        }
    }

    fn from_sql(v: i64) -> Option<Direction> {
        match v {
            0 => Some(Direction::Sent),
            1 => Some(Direction::Received),
            _ => None,
        }
    }
}

/// A saved contact: a peer id and the name we gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The contact's peer id.
    pub id: PeerId,
    /// Our name for the contact, if any.
    pub name: Option<String>,
    /// When the contact was first added, ms since the Unix epoch.
    pub added_at_ms: u64,
    /// When the user marked the contact as verified (compared the safety number,
    /// `parley_proto::safety`), ms since the Unix epoch; `None` if not verified.
    pub verified_at_ms: Option<u64>,
}

/// One chat message from the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChat {
    /// The other party of the conversation.
    pub peer: PeerId,
    /// Whether we sent or received it.
    pub direction: Direction,
    /// The message as sent (`sent_at_ms` is the sender's clock).
    pub message: ChatMessage,
    /// When we stored it, ms since the Unix epoch (our clock).
    pub stored_at_ms: u64,
}

/// An open profile: our identity plus the SQLite database.
pub struct Profile {
    dir: PathBuf,
    identity: Identity,
    certificate: DtlsCertificate,
    db: Mutex<Connection>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("dir", &self.dir)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Profile {
    /// Opens (creating if needed) the profile in `dir`: loads or makes the identity
    /// and opens `parley.db`, creating or migrating its schema.
    ///
    /// Errors: [`Error::Io`] for the folder or key file (see
    /// [`Identity::load_or_create`]); [`Error::Storage`] if the database cannot be
    /// opened; [`Error::Invalid`] if it was written by a newer Parley (schema
    /// version above [`SCHEMA_VERSION`]).
    pub fn open(dir: &Path) -> Result<Profile> {
        let identity = Identity::load_or_create(dir)?;
        let certificate = DtlsCertificate::load_or_create(dir)?;
        let conn = Connection::open(dir.join(DB_FILE_NAME))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // WAL may be unavailable (some network filesystems); the default journal works.
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0)) {
            // Under WAL, NORMAL syncs at checkpoints instead of at every commit:
            // still consistent after a crash or power cut (the last commits may be
            // rolled back), and a folder of 10,000 files no longer waits for
            // tens of thousands of fsyncs of its history and outbox rows.
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => {
                conn.pragma_update(None, "synchronous", "NORMAL")?;
            }
            Ok(mode) => tracing::debug!(%mode, "WAL journal unavailable; keeping the default"),
            Err(e) => tracing::debug!(error = %e, "WAL journal unavailable; keeping the default"),
        }
        migrate(&conn)?;
        Ok(Profile {
            dir: dir.to_path_buf(),
            identity,
            certificate,
            db: Mutex::new(conn),
        })
    }

    /// The profile folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Our identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// This device's DTLS certificate (`dtls-certificate.pem`), used by every peer
    /// connection of this profile so its fingerprint is stable.
    pub fn dtls_certificate(&self) -> &DtlsCertificate {
        &self.certificate
    }

    fn db(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent
        // (statements are atomic), so a poisoned lock is still usable.
        self.db
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The value of setting `key` (see [`keys`]), or `None` if unset.
    ///
    /// Errors: [`Error::Storage`].
    pub fn get_setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .db()
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                params![key],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Sets `key` to `value`, replacing any previous value.
    ///
    /// Errors: [`Error::Storage`].
    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.db().execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Removes setting `key`; returns whether it was set.
    ///
    /// Errors: [`Error::Storage`].
    pub fn remove_setting(&self, key: &str) -> Result<bool> {
        Ok(self
            .db()
            .execute("DELETE FROM settings WHERE key = ?1", params![key])?
            > 0)
    }

    /// Adds a contact, or updates its name if it exists (`added_at_ms` is kept).
    /// `name` is trimmed; an empty name means none.
    ///
    /// Errors: [`Error::Invalid`] if `id` is not a valid peer id, is our own id, or
    /// `name` is longer than [`MAX_CONTACT_NAME_CHARS`] or has control chars;
    /// [`Error::Storage`].
    pub fn add_contact(&self, id: &PeerId, name: Option<&str>) -> Result<()> {
        id.verifying_key()
            .map_err(|e| Error::Invalid(format!("contact id: {e}")))?;
        if *id == self.identity.id() {
            return Err(Error::Invalid("cannot add yourself as a contact".into()));
        }
        let name = clean_name(name)?;
        self.db().execute(
            "INSERT INTO contacts (id, name, added_at_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT(id) DO UPDATE SET name = excluded.name",
            params![id.as_str(), name, now_ms() as i64],
        )?;
        Ok(())
    }

    /// Renames a contact (`None` or blank clears the name); returns whether the
    /// contact exists.
    ///
    /// Errors: [`Error::Invalid`] for a bad name (see [`Profile::add_contact`]);
    /// [`Error::Storage`].
    pub fn rename_contact(&self, id: &PeerId, name: Option<&str>) -> Result<bool> {
        let name = clean_name(name)?;
        Ok(self.db().execute(
            "UPDATE contacts SET name = ?2 WHERE id = ?1",
            params![id.as_str(), name],
        )? > 0)
    }

    /// Marks a contact as verified (now) or not; returns whether the contact exists.
    ///
    /// Errors: [`Error::Storage`].
    pub fn set_contact_verified(&self, id: &PeerId, verified: bool) -> Result<bool> {
        let at = verified.then(|| now_ms() as i64);
        Ok(self.db().execute(
            "UPDATE contacts SET verified_at_ms = ?2 WHERE id = ?1",
            params![id.as_str(), at],
        )? > 0)
    }

    /// Other contacts with the same name as `name` (ignoring case and surrounding
    /// blanks) but another id than `id`: since a contact is its key, a second
    /// "Bob" may mean Bob's key changed, or someone poses as Bob; the app warns.
    ///
    /// Errors: [`Error::Storage`].
    pub fn contacts_named(&self, name: &str, id: &PeerId) -> Result<Vec<Contact>> {
        let name = name.trim().to_lowercase();
        Ok(self
            .contacts()?
            .into_iter()
            .filter(|c| {
                c.id != *id
                    && c.name.as_deref().map(|n| n.trim().to_lowercase()) == Some(name.clone())
            })
            .collect())
    }

    /// Removes a contact (chat history is kept); returns whether it existed.
    ///
    /// Errors: [`Error::Storage`].
    pub fn remove_contact(&self, id: &PeerId) -> Result<bool> {
        Ok(self
            .db()
            .execute("DELETE FROM contacts WHERE id = ?1", params![id.as_str()])?
            > 0)
    }

    /// All contacts, by name (unnamed last), then id.
    ///
    /// Errors: [`Error::Storage`]; rows with ids that no longer parse are skipped
    /// with a warning.
    pub fn contacts(&self) -> Result<Vec<Contact>> {
        let db = self.db();
        let mut stmt = db.prepare(
            "SELECT id, name, added_at_ms, verified_at_ms FROM contacts
             ORDER BY name IS NULL, name COLLATE NOCASE, id",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, Option<i64>>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, name, added_at_ms, verified_at_ms) = row?;
            match PeerId::parse(&id) {
                Ok(id) => out.push(Contact {
                    id,
                    name,
                    added_at_ms: added_at_ms.max(0) as u64,
                    verified_at_ms: verified_at_ms.map(|t| t.max(0) as u64),
                }),
                Err(e) => tracing::warn!(%id, error = %e, "skipping contact with a bad id"),
            }
        }
        Ok(out)
    }

    /// Stores a chat message exchanged with `peer`. A message whose id is already
    /// stored for this peer and direction is ignored; returns whether it was new.
    ///
    /// Errors: [`Error::Storage`].
    pub fn store_chat(
        &self,
        peer: &PeerId,
        direction: Direction,
        msg: &ChatMessage,
    ) -> Result<bool> {
        let inserted = self.db().execute(
            "INSERT OR IGNORE INTO chat (peer, direction, msg_id, text, sent_at_ms, stored_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                peer.as_str(),
                direction.to_sql(),
                msg.id,
                msg.text,
                i64::try_from(msg.sent_at_ms).unwrap_or(i64::MAX),
                now_ms() as i64
            ],
        )?;
        Ok(inserted > 0)
    }

    /// The last `limit` messages exchanged with `peer`, oldest first (in the order
    /// they were stored, which is immune to the peer's clock skew).
    ///
    /// Errors: [`Error::Storage`].
    pub fn chat_history(&self, peer: &PeerId, limit: usize) -> Result<Vec<StoredChat>> {
        let db = self.db();
        let mut stmt = db.prepare(
            "SELECT direction, msg_id, text, sent_at_ms, stored_at_ms FROM chat
             WHERE peer = ?1 ORDER BY seq DESC LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![peer.as_str(), limit], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                ChatMessage {
                    id: row.get(1)?,
                    text: row.get(2)?,
                    sent_at_ms: row.get::<_, i64>(3)?.max(0) as u64,
                },
                row.get::<_, i64>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (direction, message, stored_at_ms) = row?;
            let Some(direction) = Direction::from_sql(direction) else {
                tracing::warn!(direction, "skipping chat row with an unknown direction");
                continue;
            };
            out.push(StoredChat {
                peer: peer.clone(),
                direction,
                message,
                stored_at_ms: stored_at_ms.max(0) as u64,
            });
        }
        out.reverse();
        Ok(out)
    }
}

/// Creates or upgrades the schema to [`SCHEMA_VERSION`].
fn migrate(conn: &Connection) -> Result<()> {
    let version: i32 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(Error::Invalid(format!(
            "the profile database has schema version {version}, newer than this Parley \
             understands ({SCHEMA_VERSION}); update Parley"
        )));
    }
    if version < 1 {
        conn.execute_batch(
            "BEGIN;
             CREATE TABLE IF NOT EXISTS settings (
                 key   TEXT PRIMARY KEY NOT NULL,
                 value TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS contacts (
                 id          TEXT PRIMARY KEY NOT NULL,
                 name        TEXT,
                 added_at_ms INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS chat (
                 seq          INTEGER PRIMARY KEY AUTOINCREMENT,
                 peer         TEXT NOT NULL,
                 direction    INTEGER NOT NULL,
                 msg_id       TEXT NOT NULL,
                 text         TEXT NOT NULL,
                 sent_at_ms   INTEGER NOT NULL,
                 stored_at_ms INTEGER NOT NULL,
                 UNIQUE (peer, direction, msg_id)
             );
             CREATE INDEX IF NOT EXISTS chat_by_peer ON chat (peer, seq);
             PRAGMA user_version = 1;
             COMMIT;",
        )?;
    }
    if version < 2 {
        conn.execute_batch(
            "BEGIN;
             ALTER TABLE contacts ADD COLUMN verified_at_ms INTEGER;
             PRAGMA user_version = 2;
             COMMIT;",
        )?;
    }
    if version < 3 {
        conn.execute_batch(
            "BEGIN;
             CREATE TABLE IF NOT EXISTS transfers (
                 seq            INTEGER PRIMARY KEY AUTOINCREMENT,
                 transfer_id    TEXT NOT NULL,
                 direction      INTEGER NOT NULL,
                 peer           TEXT NOT NULL,
                 name           TEXT NOT NULL,
                 bytes_total    INTEGER NOT NULL,
                 bytes_done     INTEGER NOT NULL,
                 outcome        TEXT NOT NULL,
                 error          TEXT,
                 path           TEXT,
                 started_at_ms  INTEGER NOT NULL,
                 finished_at_ms INTEGER NOT NULL,
                 UNIQUE (transfer_id, direction)
             );
             PRAGMA user_version = 3;
             COMMIT;",
        )?;
    }
    if version < 4 {
        conn.execute_batch(
            "BEGIN;
             CREATE TABLE IF NOT EXISTS outbox (
                 transfer_id  TEXT PRIMARY KEY NOT NULL,
                 peer         TEXT NOT NULL,
                 path         TEXT NOT NULL,
                 name         TEXT,
                 queued_at_ms INTEGER NOT NULL,
                 attempts     INTEGER NOT NULL DEFAULT 0
             );
             PRAGMA user_version = 4;
             COMMIT;",
        )?;
    }
    if version < 5 {
        // The dropped folder a queued file belongs to (JSON of
        // `parley_proto::data::Batch`), so it is offered again as part of it.
        let has: bool = conn
            .prepare("SELECT 1 FROM pragma_table_info('outbox') WHERE name = 'batch'")?
            .exists([])?;
        let add = if has {
            ""
        } else {
            "ALTER TABLE outbox ADD COLUMN batch TEXT;"
        };
        conn.execute_batch(&format!(
            "BEGIN;
             {add}
             PRAGMA user_version = 5;
             COMMIT;"
        ))?;
    }
    if version < 6 {
        // Files of folders being received that arrived (storage/folder_files.rs).
        conn.execute_batch(
            "BEGIN;
             CREATE TABLE IF NOT EXISTS folder_files (
                 transfer_id TEXT PRIMARY KEY NOT NULL,
                 batch_id    TEXT NOT NULL,
                 batch       TEXT NOT NULL,
                 peer        TEXT NOT NULL,
                 name        TEXT NOT NULL,
                 path        TEXT NOT NULL,
                 bytes       INTEGER NOT NULL,
                 at_ms       INTEGER NOT NULL
             );
             CREATE INDEX IF NOT EXISTS folder_files_by_batch ON folder_files (batch_id);
             PRAGMA user_version = 6;
             COMMIT;",
        )?;
    }
    // Future migrations: `if version < 7 { … PRAGMA user_version = 7; }`.
    Ok(())
}

fn clean_name(name: Option<&str>) -> Result<Option<String>> {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_CONTACT_NAME_CHARS {
        return Err(Error::Invalid(format!(
            "contact name is longer than {MAX_CONTACT_NAME_CHARS} chars"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::Invalid("contact name has control characters".into()));
    }
    Ok(Some(name.to_owned()))
}

/// Milliseconds since the Unix epoch (0 if the clock is before 1970): the
/// time stamps the profile keeps.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(seed: u8) -> PeerId {
        Identity::from_secret_bytes(&[seed; 32]).id()
    }

    fn msg(id: &str, text: &str) -> ChatMessage {
        ChatMessage {
            id: id.into(),
            text: text.into(),
            sent_at_ms: 1_700_000_000_000,
        }
    }

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn profile_is_send_sync() {
        assert_send_sync::<Profile>();
    }

    #[test]
    fn settings_round_trip_and_persist() {
        let dir = tempfile::tempdir().unwrap();
        let p = Profile::open(dir.path()).unwrap();
        assert_eq!(p.get_setting(keys::DISPLAY_NAME).unwrap(), None);
        p.set_setting(keys::DISPLAY_NAME, "Ada").unwrap();
        p.set_setting(keys::DISPLAY_NAME, "Ada L.").unwrap();
        p.set_setting(keys::SERVER_URL, "wss://example.invalid")
            .unwrap();
        let id = p.identity().id();
        drop(p);
        let p = Profile::open(dir.path()).unwrap();
        assert_eq!(p.identity().id(), id);
        assert_eq!(
            p.get_setting(keys::DISPLAY_NAME).unwrap().as_deref(),
            Some("Ada L.")
        );
        assert!(p.remove_setting(keys::SERVER_URL).unwrap());
        assert!(!p.remove_setting(keys::SERVER_URL).unwrap());
        assert_eq!(p.get_setting(keys::SERVER_URL).unwrap(), None);
    }

    #[test]
    fn contacts_upsert_rename_remove() {
        let dir = tempfile::tempdir().unwrap();
        let p = Profile::open(dir.path()).unwrap();
        let (a, b) = (peer(1), peer(2));
        p.add_contact(&a, Some("  Zed ")).unwrap();
        p.add_contact(&b, None).unwrap();
        let first_added = p.contacts().unwrap()[0].added_at_ms;
        p.add_contact(&a, Some("Alice")).unwrap();
        let list = p.contacts().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].id, a);
        assert_eq!(list[0].name.as_deref(), Some("Alice"));
        assert_eq!(list[0].added_at_ms, first_added);
        assert_eq!(list[1].name, None);

        assert!(p.rename_contact(&b, Some("Bob")).unwrap());
        assert!(!p.rename_contact(&peer(3), Some("Nobody")).unwrap());
        assert_eq!(p.contacts().unwrap()[1].name.as_deref(), Some("Bob"));
        assert!(p.remove_contact(&a).unwrap());
        assert!(!p.remove_contact(&a).unwrap());
        assert_eq!(p.contacts().unwrap().len(), 1);
    }

    #[test]
    fn contacts_are_validated() {
        let dir = tempfile::tempdir().unwrap();
        let p = Profile::open(dir.path()).unwrap();
        let bogus: PeerId = serde_json::from_str("\"not-a-key\"").unwrap();
        assert!(matches!(
            p.add_contact(&bogus, None),
            Err(Error::Invalid(_))
        ));
        let me = p.identity().id();
        assert!(matches!(p.add_contact(&me, None), Err(Error::Invalid(_))));
        let long = "x".repeat(MAX_CONTACT_NAME_CHARS + 1);
        assert!(matches!(
            p.add_contact(&peer(1), Some(&long)),
            Err(Error::Invalid(_))
        ));
        assert!(matches!(
            p.add_contact(&peer(1), Some("a\nb")),
            Err(Error::Invalid(_))
        ));
        assert!(p.contacts().unwrap().is_empty());
    }

    #[test]
    fn chat_history_is_deduplicated_ordered_and_limited() {
        let dir = tempfile::tempdir().unwrap();
        let p = Profile::open(dir.path()).unwrap();
        let (a, b) = (peer(1), peer(2));
        assert!(p.store_chat(&a, Direction::Sent, &msg("1", "hi")).unwrap());
        assert!(p
            .store_chat(&a, Direction::Received, &msg("x", "hello"))
            .unwrap());
        assert!(!p
            .store_chat(&a, Direction::Received, &msg("x", "hello"))
            .unwrap());
        assert!(p
            .store_chat(&b, Direction::Received, &msg("x", "other peer"))
            .unwrap());
        assert!(p
            .store_chat(&a, Direction::Sent, &msg("2", "how are you"))
            .unwrap());

        let all = p.chat_history(&a, 100).unwrap();
        let texts: Vec<_> = all.iter().map(|c| c.message.text.as_str()).collect();
        assert_eq!(texts, ["hi", "hello", "how are you"]);
        assert_eq!(all[1].direction, Direction::Received);
        assert_eq!(all[1].message.sent_at_ms, 1_700_000_000_000);
        assert!(all.iter().all(|c| c.peer == a));

        let last2 = p.chat_history(&a, 2).unwrap();
        let texts: Vec<_> = last2.iter().map(|c| c.message.text.as_str()).collect();
        assert_eq!(texts, ["hello", "how are you"]);
        assert_eq!(p.chat_history(&b, 10).unwrap().len(), 1);
        assert!(p.chat_history(&peer(9), 10).unwrap().is_empty());
    }

    #[test]
    fn verified_survives_reopening_and_names_that_collide_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (peer(1), peer(2), peer(3));
        {
            let p = Profile::open(dir.path()).unwrap();
            p.add_contact(&a, Some("Bob")).unwrap();
            p.add_contact(&b, Some("Carol")).unwrap();
            assert!(p.set_contact_verified(&a, true).unwrap());
            assert!(!p.set_contact_verified(&c, true).unwrap());
        }
        let p = Profile::open(dir.path()).unwrap();
        let list = p.contacts().unwrap();
        assert!(list[0].verified_at_ms.is_some(), "{list:?}");
        assert!(list[1].verified_at_ms.is_none(), "{list:?}");
        let same = p.contacts_named(" bob ", &c).unwrap();
        assert_eq!(same.iter().map(|x| &x.id).collect::<Vec<_>>(), [&a]);
        assert!(p.contacts_named("Bob", &a).unwrap().is_empty());
        assert!(p.set_contact_verified(&a, false).unwrap());
        assert!(p.contacts().unwrap()[0].verified_at_ms.is_none());
    }

    #[test]
    fn a_version_1_database_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        drop(Profile::open(dir.path()).unwrap());
        let conn = Connection::open(dir.path().join(DB_FILE_NAME)).unwrap();
        conn.execute_batch(
            "DROP TABLE contacts;
             CREATE TABLE contacts (id TEXT PRIMARY KEY NOT NULL, name TEXT, added_at_ms INTEGER NOT NULL);
             PRAGMA user_version = 1;",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO contacts VALUES (?1, 'Old', 5)",
            params![peer(4).as_str()],
        )
        .unwrap();
        drop(conn);
        let p = Profile::open(dir.path()).unwrap();
        let list = p.contacts().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].verified_at_ms, None);
        assert!(p.set_contact_verified(&peer(4), true).unwrap());
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Profile::open(dir.path()).unwrap());
        let conn = Connection::open(dir.path().join(DB_FILE_NAME)).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        assert!(matches!(Profile::open(dir.path()), Err(Error::Invalid(_))));
    }
}
