//! The process-wide cache of Genesys user directories (user name → user id), as the token cache is process-wide: a
//! connector built for each agent-states pass (every 1 to 15 minutes) reuses the directory an earlier connector of
//! the same process (a warm Lambda container) read, for at most [`DIRECTORY_TTL`], instead of reading the whole user
//! listing (`/api/v2/users?state=any`, every page) each pass.
//!
//! Keyed by the API base URL, the OAuth client id, the keyed fingerprint of the client credentials (never the
//! secret itself: see `client::TokenKey`) and the agent-id setting: another org, region or OAuth client (which may
//! see other divisions) never reuses a directory. Each entry also keeps the user names that were asked about and not
//! found when that directory was read ([`Directory::absent`]): asking about them again does not read the listing
//! again before the entry expires.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::GenesysAgentId;

/// How long a directory read by one connector serves later connectors of the process: a user renamed or created in
/// Genesys is seen by then at the latest (a user name asked about and missing from the directory reads it again at
/// once, see `GenesysConnector::directory_for`).
pub const DIRECTORY_TTL: Duration = Duration::from_secs(600);
/// Upper bound of cached directories (a few MB each for orgs of 10,000 users); only guards against growth.
const DIRECTORY_CACHE_LIMIT: usize = 32;

/// A Genesys user as the connector keeps it.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) id: String,
    pub(crate) external_id: String,
    pub(crate) name: Option<String>,
}

/// One reading of the user listing.
#[derive(Debug, Clone)]
pub(crate) struct Directory {
    pub(crate) members: Arc<Vec<Member>>,
    /// External ids asked about and not in `members` when the listing was read.
    pub(crate) absent: Arc<HashSet<String>>,
    pub(crate) read_at: Instant,
}

/// Key of the process-wide directory cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct DirectoryKey {
    pub(crate) api_base: String,
    pub(crate) client_id: String,
    pub(crate) credentials_fingerprint: u64,
    pub(crate) agent_id: GenesysAgentId,
}

fn cache() -> &'static Mutex<HashMap<DirectoryKey, Directory>> {
    static CACHE: OnceLock<Mutex<HashMap<DirectoryKey, Directory>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The cached directory of `key` while it is younger than [`DIRECTORY_TTL`].
pub(crate) fn cached(key: &DirectoryKey) -> Option<Directory> {
    let cache = cache().lock().ok()?;
    cache.get(key).filter(|d| d.read_at.elapsed() < DIRECTORY_TTL).cloned()
}

/// Caches `directory` for `key` unless a newer reading is cached already. At the limit, expired entries go first,
/// then the oldest.
pub(crate) fn store(key: &DirectoryKey, directory: &Directory) {
    let Ok(mut cache) = cache().lock() else { return };
    if cache.get(key).is_some_and(|d| d.read_at > directory.read_at) {
        return;
    }
    if !cache.contains_key(key) && cache.len() >= DIRECTORY_CACHE_LIMIT {
        cache.retain(|_, d| d.read_at.elapsed() < DIRECTORY_TTL);
        if cache.len() >= DIRECTORY_CACHE_LIMIT
            && let Some(oldest) = cache.iter().min_by_key(|(_, d)| d.read_at).map(|(k, _)| k.clone())
        {
            cache.remove(&oldest);
        }
    }
    cache.insert(key.clone(), directory.clone());
}

/// Evicts every cached directory (tests; a process never needs it).
pub fn clear_directory_cache() {
    if let Ok(mut cache) = cache().lock() {
        cache.clear();
    }
}
