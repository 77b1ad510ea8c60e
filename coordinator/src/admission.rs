//! How many queries run at once: a fixed number of slots and a bounded
//! queue before them. A query that finds both full is refused at once with
//! "server busy" rather than left to hang, so a burst of clients gets
//! answers or clear errors, never a pile-up.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::CoordinatorError;

pub struct Admission {
    slots: Arc<Semaphore>,
    max_running: usize,
    max_queued: usize,
    queued: AtomicUsize,
}

/// A running query's slot; the next queued query starts when it drops.
pub type Slot = OwnedSemaphorePermit;

impl Admission {
    pub fn new(max_running: usize, max_queued: usize) -> Self {
        let max_running = max_running.max(1);
        Self {
            slots: Arc::new(Semaphore::new(max_running)),
            max_running,
            max_queued,
            queued: AtomicUsize::new(0),
        }
    }

    /// Queries holding a slot now.
    pub fn running(&self) -> usize {
        self.max_running - self.slots.available_permits()
    }

    /// Queries waiting for a slot now.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    pub fn max_running(&self) -> usize {
        self.max_running
    }

    /// A slot now, or after waiting in the queue; `Busy` when the queue is
    /// full too.
    pub async fn admit(&self) -> Result<Slot, CoordinatorError> {
        if let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() {
            return Ok(slot);
        }
        let position = self.queued.fetch_add(1, Ordering::AcqRel);
        if position >= self.max_queued {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(CoordinatorError::Busy {
                running: self.max_running,
                queued: position,
            });
        }
        let slot = Arc::clone(&self.slots).acquire_owned().await;
        self.queued.fetch_sub(1, Ordering::AcqRel);
        slot.map_err(|_| CoordinatorError::ShuttingDown)
    }
}
