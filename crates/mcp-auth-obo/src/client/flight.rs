//! Single-flight: concurrent requests for one key share one exchange.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::error::ExchangeError;
use crate::request::ExchangeKey;
use crate::token::ExchangedToken;

/// The outcome of one flight, shared by everyone who joined it.
#[derive(Clone)]
pub(crate) struct Landed {
    pub(crate) result: Result<ExchangedToken, ExchangeError>,
    /// True when the flight contacted the authorization server.
    pub(crate) contacted: bool,
}

/// The exchanges under way, one per key. An entry lives while someone holds a [`Ticket`] for
/// it, so the map holds at most as many entries as there are requests waiting.
#[derive(Default)]
pub(crate) struct Flights {
    map: Mutex<HashMap<ExchangeKey, Arc<OnceCell<Landed>>>>,
}

/// A place on the flight for one key. The first holder to poll the cell runs the exchange; if
/// it is cancelled, the next waiter takes over (tokio's `OnceCell` guarantees it).
pub(crate) struct Ticket<'a> {
    flights: &'a Flights,
    key: ExchangeKey,
    /// Always `Some` until dropped.
    cell: Option<Arc<OnceCell<Landed>>>,
}

impl Ticket<'_> {
    pub(crate) fn cell(&self) -> &OnceCell<Landed> {
        self.cell
            .as_deref()
            .expect("a ticket holds its cell until dropped")
    }
}

impl Flights {
    pub(crate) fn join(&self, key: ExchangeKey) -> Ticket<'_> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let cell = map.entry(key).or_default().clone();
        Ticket {
            flights: self,
            key,
            cell: Some(cell),
        }
    }

    /// Requests currently holding a ticket, over all keys.
    #[cfg(test)]
    pub(crate) fn participants(&self) -> usize {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.values().map(|c| Arc::strong_count(c) - 1).sum()
    }

    /// Keys with a flight.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut map = self.flights.map.lock().unwrap_or_else(|p| p.into_inner());
        let Some(cell) = self.cell.take() else { return };
        // Clones are made and dropped only under this lock, so the count is exact while it is
        // held: two references (the map's and ours) means we are the last participant.
        if let Some(current) = map.get(&self.key)
            && Arc::ptr_eq(current, &cell)
            && Arc::strong_count(&cell) == 2
        {
            map.remove(&self.key);
        }
        drop(cell);
    }
}
