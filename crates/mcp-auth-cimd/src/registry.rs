//! The operator's registry of approved clients: a small JSON file.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::ClientInfo;

const VERSION: u32 = 1;

/// The operator's list of approved Client ID Metadata Document clients, kept in a JSON file
/// the operator owns (written by `mcp-auth clients approve`):
///
/// ```json
/// {
///   "version": 1,
///   "clients": [
///     {
///       "client_id": "https://app.example.com/oauth/client.json",
///       "client_name": "Example App",
///       "digest": "sha256:6f1c…",
///       "approved_at": "2026-05-01T12:00:00Z",
///       "redirect_hosts": ["app.example.com"]
///     }
///   ]
/// }
/// ```
///
/// `digest` is [`ClientInfo::digest`] at approval time: when the document later changes in a way
/// that matters (redirect URIs, authentication method, keys, grant types), the digest no longer
/// matches and [`ClientPolicy::registry`](crate::ClientPolicy::registry) refuses the client
/// until it is approved again (or only warns, with
/// [`ChangedDocument::Warn`](crate::ChangedDocument::Warn)).
///
/// A running server sees the file change: lookups check its modification time at most once per
/// [`reload_interval`](Registry::reload_interval) (default 2 s) and re-read it when it changed.
/// A deleted file means no client is approved; a file that no longer parses is reported (error
/// log) and the previous contents stay in force until it is fixed. Writes replace the file
/// atomically (write aside, then rename).
///
/// ```
/// use mcp_auth_cimd::{Approval, Registry};
///
/// let path = std::env::temp_dir().join(format!("mcp-clients-doc-{}.json", std::process::id()));
/// let registry = Registry::open_or_empty(&path).unwrap();
/// assert_eq!(registry.approval("https://app.example.com/client.json", "sha256:00"), Approval::NotApproved);
/// assert!(registry.clients().is_empty());
/// ```
#[derive(Clone)]
pub struct Registry(Arc<Inner>);

struct Inner {
    /// The file, or none for a registry fed by a shared store ([`Registry::fed`]).
    path: Option<PathBuf>,
    /// What the registry is, for messages: the file's path or the shared store's name.
    location: String,
    state: RwLock<State>,
    reload_interval: Duration,
    last_check: Mutex<Instant>,
}

#[derive(Default)]
struct State {
    clients: HashMap<String, ApprovedClient>,
    stamp: Option<(SystemTime, u64)>,
}

/// One approved client, as recorded in the registry file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ApprovedClient {
    /// The client id (the document URL).
    pub client_id: String,
    /// `client_name` when it was approved.
    pub client_name: String,
    /// [`ClientInfo::digest`] when it was approved.
    pub digest: String,
    /// When it was approved, RFC 3339 UTC.
    pub approved_at: String,
    /// The redirect hosts when it was approved, for the operator's reference.
    #[serde(default)]
    pub redirect_hosts: Vec<String>,
}

/// What the registry says about a client and its current document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Approval {
    /// Not in the registry.
    NotApproved,
    /// Approved, and the document's digest is the approved one.
    Approved,
    /// Approved, but the document changed in a way that matters since.
    Changed,
}

impl Approval {
    /// What `entry` (a client's registry entry, if it has one) says of its document with
    /// `digest`.
    pub fn of(entry: Option<&ApprovedClient>, digest: &str) -> Self {
        match entry {
            None => Approval::NotApproved,
            Some(entry) if entry.digest == digest => Approval::Approved,
            Some(_) => Approval::Changed,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    #[serde(default)]
    clients: Vec<ApprovedClient>,
}

impl Registry {
    /// Opens an existing registry file.
    ///
    /// # Errors
    /// The file is missing, unreadable or invalid.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, RegistryError> {
        let path = path.as_ref();
        let state = read(path)?.ok_or_else(|| RegistryError::Missing(path.to_owned()))?;
        Ok(Self::with_state(path, state))
    }

    /// Opens a registry file, or starts an empty one if it does not exist yet (it is created by
    /// the first [`approve`](Self::approve)).
    ///
    /// # Errors
    /// The file exists and is unreadable or invalid.
    pub fn open_or_empty(path: impl AsRef<Path>) -> Result<Self, RegistryError> {
        let path = path.as_ref();
        Ok(Self::with_state(path, read(path)?.unwrap_or_default()))
    }

    /// A registry whose approvals come from a shared store (Redis, a database) rather than a
    /// file: its contents are whatever the returned [`RegistryFeed`] last gave it, and lookups
    /// never wait on the store. It starts empty (no client approved) until first fed; it keeps
    /// its last contents while the store is away. `location` names the store in messages
    /// (never with credentials). Approving and revoking happen at the store, not here.
    pub fn fed(location: impl Into<String>) -> (Self, RegistryFeed) {
        let registry = Self(Arc::new(Inner {
            path: None,
            location: location.into(),
            state: RwLock::new(State::default()),
            reload_interval: Duration::MAX,
            last_check: Mutex::new(Instant::now()),
        }));
        let feed = RegistryFeed(Arc::downgrade(&registry.0));
        (registry, feed)
    }

    fn with_state(path: &Path, state: State) -> Self {
        Self(Arc::new(Inner {
            path: Some(path.to_owned()),
            location: path.display().to_string(),
            state: RwLock::new(state),
            reload_interval: Duration::from_secs(2),
            last_check: Mutex::new(Instant::now()),
        }))
    }

    /// How often lookups check the file for changes. Defaults to 2 s; `Duration::ZERO` checks
    /// on every lookup.
    ///
    /// # Panics
    /// When called on a registry that was already cloned.
    #[must_use]
    pub fn reload_interval(mut self, interval: Duration) -> Self {
        Arc::get_mut(&mut self.0)
            .expect("configure the Registry before cloning it")
            .reload_interval = interval;
        self
    }

    /// The file's path; `None` for a [fed](Registry::fed) registry.
    pub fn path(&self) -> Option<&Path> {
        self.0.path.as_deref()
    }

    /// The file's path, or the shared store's name, for messages.
    pub fn location(&self) -> &str {
        &self.0.location
    }

    /// Whether `client_id` is approved with a document whose digest is `digest`.
    pub fn approval(&self, client_id: &str, digest: &str) -> Approval {
        self.reload_if_due();
        Approval::of(self.read_state().clients.get(client_id), digest)
    }

    /// True when `client_id` is in the registry, whatever its digest.
    pub fn contains(&self, client_id: &str) -> bool {
        self.reload_if_due();
        self.read_state().clients.contains_key(client_id)
    }

    /// The entry for `client_id`.
    pub fn get(&self, client_id: &str) -> Option<ApprovedClient> {
        self.reload_if_due();
        self.read_state().clients.get(client_id).cloned()
    }

    /// Every approved client, sorted by client id.
    pub fn clients(&self) -> Vec<ApprovedClient> {
        self.reload_if_due();
        let mut clients: Vec<_> = self.read_state().clients.values().cloned().collect();
        clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        clients
    }

    /// Approves a client with its current document (replacing an earlier approval) and writes
    /// the file.
    ///
    /// # Errors
    /// The file cannot be read back or written.
    pub fn approve(&self, client: &ClientInfo) -> Result<ApprovedClient, RegistryError> {
        let entry = ApprovedClient::approving(client);
        self.modify(|clients| {
            clients.insert(entry.client_id.clone(), entry.clone());
        })?;
        Ok(entry)
    }

    /// Removes a client; returns its entry, or `None` when it was not approved.
    ///
    /// # Errors
    /// The file cannot be read back or written.
    pub fn revoke(&self, client_id: &str) -> Result<Option<ApprovedClient>, RegistryError> {
        let mut removed = None;
        self.modify(|clients| removed = clients.remove(client_id))?;
        Ok(removed)
    }

    /// Re-reads the file now.
    ///
    /// # Errors
    /// The file is unreadable or invalid; the previous contents stay in force.
    pub fn reload(&self) -> Result<(), RegistryError> {
        let path = self.file()?;
        let state = read(path)?.unwrap_or_default();
        *self.write_state() = state;
        Ok(())
    }

    /// Read-modify-write against the file as it is on disk now, so edits made by another
    /// process since this registry was loaded are kept.
    fn modify(
        &self,
        change: impl FnOnce(&mut HashMap<String, ApprovedClient>),
    ) -> Result<(), RegistryError> {
        let path = self.file()?;
        let mut state = read(path)?.unwrap_or_default();
        change(&mut state.clients);
        let mut clients: Vec<ApprovedClient> = state.clients.values().cloned().collect();
        clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        let mut text = serde_json::to_string_pretty(&File {
            version: VERSION,
            clients,
        })
        .expect("the registry serialises");
        text.push('\n');
        write_atomically(path, text.as_bytes())?;
        state.stamp = stamp(path);
        *self.write_state() = state;
        Ok(())
    }

    /// The file, or why there is none to write.
    fn file(&self) -> Result<&Path, RegistryError> {
        self.0
            .path
            .as_deref()
            .ok_or_else(|| RegistryError::Fed(self.0.location.clone()))
    }

    fn reload_if_due(&self) {
        let Some(path) = self.0.path.as_deref() else {
            return; // fed by its store
        };
        let Ok(mut last_check) = self.0.last_check.try_lock() else {
            return; // another lookup is checking right now
        };
        if last_check.elapsed() < self.0.reload_interval {
            return;
        }
        *last_check = Instant::now();
        let current = stamp(path);
        if current == self.read_state().stamp {
            return;
        }
        match read(path) {
            Ok(state) => {
                let state = state.unwrap_or_else(|| {
                    tracing::warn!(path = %path.display(), "client registry file removed: no client is approved");
                    State::default()
                });
                *self.write_state() = state;
            }
            Err(error) => {
                tracing::error!(%error, "client registry file is invalid; keeping the previous approvals until it is fixed");
            }
        }
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.0.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.0.state.write().unwrap_or_else(|p| p.into_inner())
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("location", &self.0.location)
            .field("clients", &self.read_state().clients.len())
            .finish_non_exhaustive()
    }
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// `Ok(None)` when the file does not exist.
fn read(path: &Path) -> Result<Option<State>, RegistryError> {
    let stamp_before = stamp(path);
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(RegistryError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    let file: File = serde_json::from_str(&text).map_err(|e| RegistryError::Invalid {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    if file.version != VERSION {
        return Err(RegistryError::Invalid {
            path: path.to_owned(),
            message: format!("unsupported version {} (expected {VERSION})", file.version),
        });
    }
    let mut clients = HashMap::with_capacity(file.clients.len());
    for entry in file.clients {
        if let Some(dup) = clients.insert(entry.client_id.clone(), entry) {
            return Err(RegistryError::Invalid {
                path: path.to_owned(),
                message: format!("`{}` is listed twice", dup.client_id),
            });
        }
    }
    Ok(Some(State {
        clients,
        stamp: stamp_before,
    }))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    let io = |source| RegistryError::Io {
        path: path.to_owned(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let aside = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&aside, bytes).map_err(io)?;
    std::fs::rename(&aside, path).map_err(|e| {
        let _ = std::fs::remove_file(&aside);
        io(e)
    })
}

/// RFC 3339 UTC, to the second.
fn rfc3339(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Hands a [fed](Registry::fed) registry its contents. Holds the registry weakly: once every
/// clone of the registry is gone, [`RegistryFeed::replace`] says so and the feeder can stop.
#[derive(Clone, Debug)]
pub struct RegistryFeed(Weak<Inner>);

impl RegistryFeed {
    /// Replaces the approved clients with `clients`; `false` when the registry is gone.
    pub fn replace(&self, clients: impl IntoIterator<Item = ApprovedClient>) -> bool {
        let Some(inner) = self.0.upgrade() else {
            return false;
        };
        let clients = clients
            .into_iter()
            .map(|c| (c.client_id.clone(), c))
            .collect();
        let mut state = inner.state.write().unwrap_or_else(|p| p.into_inner());
        *state = State {
            clients,
            stamp: None,
        };
        true
    }

    /// True while the registry is in use.
    pub fn is_live(&self) -> bool {
        self.0.strong_count() > 0
    }
}

impl ApprovedClient {
    /// The entry approving `client` with its current document, now.
    pub fn approving(client: &ClientInfo) -> Self {
        Self {
            client_id: client.id().to_owned(),
            client_name: client.name().to_owned(),
            digest: client.digest().to_owned(),
            approved_at: rfc3339(SystemTime::now()),
            redirect_hosts: client.redirect_hosts().to_vec(),
        }
    }
}

/// Why the registry file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The file does not exist.
    #[error("client registry `{}` does not exist (create it by approving a client: `mcp-auth clients approve URL --registry {}`)", .0.display(), .0.display())]
    Missing(PathBuf),
    /// The file cannot be read or written.
    #[error("client registry `{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The file is not a valid registry.
    #[error("client registry `{}` is invalid: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The registry is fed by a shared store: approve and revoke there.
    #[error(
        "client registry `{0}` is fed by a shared store: approve and revoke there (`mcp-auth clients approve URL --registry redis://…`)"
    )]
    Fed(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CimdUrl;
    use serde_json::json;

    fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "mcp-auth-cimd-registry-{}-{name}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("clients.json")
    }

    fn client(id: &str, redirect: &str) -> ClientInfo {
        let url = CimdUrl::parse(id, false).unwrap();
        ClientInfo::from_document(
            &url,
            &json!({"client_id": id, "client_name": "App", "redirect_uris": [redirect]}),
        )
        .unwrap()
    }

    #[test]
    fn a_fed_registry_holds_what_it_was_last_fed() {
        let (registry, feed) = Registry::fed("redis 127.0.0.1:6379");
        let a = client("https://a.example/c.json", "https://a.example/cb");
        assert_eq!(registry.approval(a.id(), a.digest()), Approval::NotApproved);
        assert!(feed.replace([ApprovedClient::approving(&a)]));
        assert_eq!(registry.approval(a.id(), a.digest()), Approval::Approved);
        assert_eq!(registry.clients().len(), 1);
        assert_eq!(registry.path(), None);
        assert_eq!(registry.location(), "redis 127.0.0.1:6379");
        // Approvals are made at the store, not through the registry.
        let err = registry.approve(&a).unwrap_err();
        assert!(matches!(err, RegistryError::Fed(_)), "{err}");
        assert!(registry.revoke(a.id()).is_err());
        assert!(feed.replace([]));
        assert_eq!(registry.approval(a.id(), a.digest()), Approval::NotApproved);
        drop(registry);
        assert!(!feed.is_live());
        assert!(!feed.replace([]), "the feeder learns the registry is gone");
    }

    #[test]
    fn approve_list_revoke_round_trip() {
        let path = temp_path("roundtrip");
        assert!(matches!(
            Registry::open(&path),
            Err(RegistryError::Missing(_))
        ));
        let registry = Registry::open_or_empty(&path).unwrap();
        let b = client("https://b.example/c.json", "https://b.example/cb");
        let a = client("https://a.example/c.json", "https://a.example/cb");
        registry.approve(&b).unwrap();
        let entry = registry.approve(&a).unwrap();
        assert_eq!(entry.client_name, "App");
        assert_eq!(entry.redirect_hosts, ["a.example"]);
        assert!(entry.approved_at.ends_with('Z') && entry.approved_at.len() == 20);
        assert_eq!(registry.approval(a.id(), a.digest()), Approval::Approved);

        let reopened = Registry::open(&path).unwrap();
        let ids: Vec<_> = reopened
            .clients()
            .into_iter()
            .map(|c| c.client_id)
            .collect();
        assert_eq!(
            ids,
            ["https://a.example/c.json", "https://b.example/c.json"]
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"version\": 1"), "{text}");

        let changed = client("https://a.example/c.json", "https://elsewhere.example/cb");
        assert_eq!(
            reopened.approval(changed.id(), changed.digest()),
            Approval::Changed
        );
        assert_eq!(
            reopened.approval("https://c.example/c.json", a.digest()),
            Approval::NotApproved
        );

        assert!(reopened.revoke(a.id()).unwrap().is_some());
        assert!(reopened.revoke(a.id()).unwrap().is_none());
        assert!(!Registry::open(&path).unwrap().contains(a.id()));
    }

    #[test]
    fn a_running_registry_sees_changes_to_the_file() {
        let path = temp_path("reload");
        let writer = Registry::open_or_empty(&path).unwrap();
        let reader = Registry::open_or_empty(&path)
            .unwrap()
            .reload_interval(Duration::ZERO);
        let a = client("https://a.example/c.json", "https://a.example/cb");
        assert!(!reader.contains(a.id()));
        writer.approve(&a).unwrap();
        assert!(reader.contains(a.id()));

        // A broken file keeps what was in force.
        std::fs::write(&path, "{ not json").unwrap();
        assert!(reader.contains(a.id()));
        assert!(matches!(
            reader.reload(),
            Err(RegistryError::Invalid { .. })
        ));
        assert!(reader.contains(a.id()));

        // A deleted file approves no one.
        std::fs::remove_file(&path).unwrap();
        assert!(!reader.contains(a.id()));
    }

    #[test]
    fn invalid_files_are_refused_with_the_reason() {
        let path = temp_path("invalid");
        for (text, needle) in [
            ("\"a string\"", "invalid type"),
            (r#"{"version": 2, "clients": []}"#, "unsupported version 2"),
            (
                r#"{"version": 1, "clients": [], "extra": 1}"#,
                "unknown field",
            ),
            (
                r#"{"version": 1, "clients": [
                    {"client_id": "x", "client_name": "n", "digest": "d", "approved_at": "t"},
                    {"client_id": "x", "client_name": "n", "digest": "d", "approved_at": "t"}]}"#,
                "listed twice",
            ),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = Registry::open(&path).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn rfc3339_dates() {
        let at = |secs| rfc3339(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_767_225_599), "2025-12-31T23:59:59Z");
        assert_eq!(at(4_102_444_800), "2100-01-01T00:00:00Z");
    }
}
