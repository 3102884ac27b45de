//! Rate limits kept in memory, per process: the GCRA algorithm of the `governor` crate over a bounded LRU map of
//! keys, so that memory stays bounded however many distinct keys arrive, and each check is O(1).

use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::clock::{Clock as _, MonotonicClock};
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::{Quota, RateLimiter};
use lru::LruCache;

use crate::error::AppError;

/// Most keys one limiter remembers; past that, the least recently used key is forgotten (and starts afresh).
pub const MAX_KEYS: usize = 50_000;

/// Governor's per-key state in an LRU map that holds at most a fixed number of keys.
/// Clones share the map, so the limiter can report its size.
#[derive(Debug)]
pub struct BoundedStore<K: Hash + Eq> {
    cells: Arc<Mutex<LruCache<K, Nanos>>>,
}

impl<K: Hash + Eq> Clone for BoundedStore<K> {
    fn clone(&self) -> Self {
        Self { cells: Arc::clone(&self.cells) }
    }
}

impl<K: Hash + Eq> BoundedStore<K> {
    fn new(capacity: NonZeroUsize) -> Self {
        Self { cells: Arc::new(Mutex::new(LruCache::new(capacity))) }
    }

    fn len(&self) -> usize {
        self.cells.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl<K: Hash + Eq + Clone> StateStore for BoundedStore<K> {
    type Key = K;

    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        // One lock around read and write: the check and the update cannot interleave with another request's.
        let mut cells = self.cells.lock().unwrap_or_else(PoisonError::into_inner);
        let (outcome, state) = f(cells.get(key).copied())?;
        cells.put(key.clone(), state);
        Ok(outcome)
    }
}

/// At most `burst` hits per key in any `window`, refilled evenly over the window; keys beyond [`MAX_KEYS`] push out
/// the least recently used.
pub struct Limiter<K: Hash + Eq + Clone> {
    limiter: RateLimiter<K, BoundedStore<K>, MonotonicClock, StateInformationMiddleware>,
    store: BoundedStore<K>,
    clock: MonotonicClock,
    /// Keys refused until a time: for budgets that count failures but refuse every attempt once spent.
    blocked: Mutex<LruCache<K, Instant>>,
}

impl<K: Hash + Eq + Clone> std::fmt::Debug for Limiter<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").field("keys", &self.len()).finish_non_exhaustive()
    }
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    /// `burst` hits per `window`, remembering at most `capacity` keys.
    pub fn new(burst: u32, window: Duration, capacity: usize) -> Self {
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        let quota = Quota::with_period(window / burst.get())
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        let clock = MonotonicClock;
        let store = BoundedStore::new(capacity);
        Self {
            limiter: RateLimiter::new(quota, store.clone(), clock.clone()),
            store,
            clock,
            blocked: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// Counts a hit on `key`; refuses (saying how long to wait) when its budget is spent.
    pub fn check(&self, key: &K) -> Result<(), AppError> {
        self.limiter
            .check_key(key)
            .map(|_| ())
            .map_err(|not_until| too_many(not_until.wait_time_from(self.clock.now())))
    }

    /// Refuses while `key` is blocked by [`Limiter::record_failure`].
    pub fn check_not_blocked(&self, key: &K) -> Result<(), AppError> {
        let mut blocked = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
        match blocked.get(key).copied() {
            Some(until) if until > Instant::now() => Err(too_many(until - Instant::now())),
            Some(_) => {
                blocked.pop(key);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Counts a failure of `key`; the failure that spends its budget blocks the key until another failure would
    /// be allowed.
    pub fn record_failure(&self, key: &K) {
        let wait = match self.limiter.check_key(key) {
            Ok(state) if state.remaining_burst_capacity() == 0 => state.quota().replenish_interval(),
            Ok(_) => return,
            Err(not_until) => not_until.wait_time_from(self.clock.now()),
        };
        self.blocked.lock().unwrap_or_else(PoisonError::into_inner).put(key.clone(), Instant::now() + wait);
    }

    /// Keys remembered now (at most the capacity).
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn too_many(wait: Duration) -> AppError {
    let minutes = u32::try_from(wait.as_secs().div_ceil(60)).unwrap_or(u32::MAX).max(1);
    AppError::RateLimited { retry_after_minutes: minutes }
}

/// The key a client address is limited by: IPv4 addresses alone, IPv6 addresses by their /64 (one customer
/// usually holds a whole /64), and IPv4-mapped IPv6 addresses as the IPv4 address they are.
pub fn client_key(ip: Option<IpAddr>) -> IpAddr {
    match ip {
        None => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        Some(IpAddr::V4(v4)) => IpAddr::V4(v4),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let segments = v6.segments();
                IpAddr::V6(Ipv6Addr::new(segments[0], segments[1], segments[2], segments[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_over_its_budget_is_refused_and_other_keys_are_not() {
        let limiter = Limiter::new(2, Duration::from_secs(60), 100);
        assert!(limiter.check(&"a").is_ok());
        assert!(limiter.check(&"a").is_ok());
        assert_eq!(limiter.check(&"a"), Err(AppError::RateLimited { retry_after_minutes: 1 }));
        assert!(limiter.check(&"b").is_ok(), "keys are counted apart");
    }

    #[test]
    fn memory_stays_bounded_however_many_keys_arrive() {
        let limiter = Limiter::new(1, Duration::from_secs(60), 1_000);
        for n in 0..20_000u32 {
            let _ = limiter.check(&n);
        }
        assert_eq!(limiter.len(), 1_000);
        assert!(limiter.check(&19_999).is_err(), "recent keys are remembered");
        assert!(limiter.check(&0).is_ok(), "the least recently used were forgotten");
    }

    #[test]
    fn failures_block_once_their_budget_is_spent() {
        let limiter = Limiter::new(3, Duration::from_secs(600), 100);
        for _ in 0..3 {
            assert!(limiter.check_not_blocked(&"c").is_ok(), "three failures are within the budget");
            limiter.record_failure(&"c");
        }
        assert!(matches!(limiter.check_not_blocked(&"c"), Err(AppError::RateLimited { .. })));
        assert!(limiter.check_not_blocked(&"d").is_ok());
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(Some(a)), client_key(Some(b)));
        assert_ne!(client_key(Some(a)), client_key(Some(c)));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_key(Some(mapped)), "192.0.2.7".parse::<IpAddr>().unwrap());
    }
}
