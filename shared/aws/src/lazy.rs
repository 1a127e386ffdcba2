//! An SDK client built the first time it is used.
//!
//! Building an SDK client parses that service's endpoint partition table (a JSON document of every AWS partition,
//! its regions and their patterns): ≈ 370,000 instructions per client, most of a function's own start-up. A
//! function builds at start the clients every event uses (DynamoDB; Secrets Manager in the import) and the others
//! (EventBridge for status events, Scheduler and Lambda for creating and resuming integrations) when an event
//! first needs them — in most containers, never.

use std::ops::Deref;
use std::sync::{Arc, OnceLock};

/// A client of type `C`, built from its recipe on first use and shared by every clone (one connection pool).
pub struct LazyClient<C> {
    cell: Arc<OnceLock<C>>,
    make: Arc<dyn Fn() -> C + Send + Sync>,
}

impl<C> LazyClient<C> {
    /// A client that `make` builds when it is first used.
    pub fn new(make: impl Fn() -> C + Send + Sync + 'static) -> Self {
        Self { cell: Arc::new(OnceLock::new()), make: Arc::new(make) }
    }

    /// Whether the client has been built.
    pub fn is_built(&self) -> bool {
        self.cell.get().is_some()
    }

    /// The client, built now if it was not.
    pub fn get(&self) -> &C {
        self.cell.get_or_init(|| (self.make)())
    }
}

impl<C: Clone + Send + Sync + 'static> From<C> for LazyClient<C> {
    /// A client that is already built (tests hand in mocks).
    fn from(client: C) -> Self {
        // The cell is never empty, so the recipe is never used; it would hand out the same client.
        Self { cell: Arc::new(OnceLock::from(client.clone())), make: Arc::new(move || client.clone()) }
    }
}

impl<C> Clone for LazyClient<C> {
    fn clone(&self) -> Self {
        Self { cell: self.cell.clone(), make: self.make.clone() }
    }
}

impl<C> Deref for LazyClient<C> {
    type Target = C;

    fn deref(&self) -> &C {
        self.get()
    }
}

impl<C> std::fmt::Debug for LazyClient<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyClient").field("built", &self.is_built()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn built_once_on_first_use_and_shared_by_clones() {
        let builds = Arc::new(AtomicUsize::new(0));
        let counter = builds.clone();
        let client = LazyClient::new(move || counter.fetch_add(1, Ordering::SeqCst) + 100);
        let copy = client.clone();
        assert!(!client.is_built() && !copy.is_built());
        assert_eq!(builds.load(Ordering::SeqCst), 0);
        assert_eq!(*copy, 100);
        assert!(client.is_built(), "a clone made before the first use sees the built client");
        assert_eq!(*client, 100);
        assert_eq!(builds.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_client_handed_in_is_used_as_it_is() {
        let client = LazyClient::from(String::from("mock"));
        assert!(client.is_built());
        assert_eq!(client.as_str(), "mock");
    }
}
