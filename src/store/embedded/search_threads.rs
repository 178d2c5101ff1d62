//! The threads the embedded store's searches run on: a few of their own, at a lower CPU
//! priority than the rest of the process. A search over millions of rows is CPU work in this
//! process (SQLite runs in it), beside the HTTP handlers, the shards and the writer thread; on
//! a small machine eight heavy searches on the shared blocking pool took most of the cores and
//! multiplied a single event's p99 by five. At nice +10 the kernel gives a search thread about a
//! tenth of the share of a normal thread when both want the CPU, and the whole CPU when nothing
//! else does, so searches take what ingest leaves.
//!
//! The priority is lowered once per thread and never raised again: an unprivileged process may
//! lower a thread's priority but not restore it, which is why searches do not borrow threads of
//! tokio's blocking pool. On systems other than Linux the threads keep the normal priority.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;
use tracing::warn;

use crate::store::error::StoreError;

/// How much nicer a search thread is than the process (niceness 0 is the default, 19 the
/// lowest priority).
const SEARCH_NICENESS: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of low-priority threads taking searches in arrival order.
pub(super) struct SearchThreads {
    jobs: mpsc::Sender<Job>,
}

impl SearchThreads {
    /// Starts `count` threads (at least one); they stop when this is dropped.
    pub(super) fn start(count: usize) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for number in 0..count.max(1) {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("search-{number}"))
                .spawn(move || serve(&queue))
                .map_err(|err| StoreError::fatal(format!("cannot start a search thread: {err}")))?;
        }
        Ok(Self { jobs })
    }

    /// Runs `work` on a search thread and returns its result.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                // The caller may have stopped waiting (its time limit): nothing to tell then.
                let _ = reply.send(work());
            }))
            .map_err(|_| StoreError::fatal("the embedded store's search threads stopped"))?;
        answer
            .await
            .map_err(|_| StoreError::transient("a search thread failed while searching"))?
    }
}

/// One search thread: lowers its priority, then runs jobs until the store is dropped.
fn serve(queue: &Mutex<mpsc::Receiver<Job>>) {
    lower_priority();
    loop {
        // The lock is held while waiting, so one idle thread waits on the queue and the others
        // on the lock; a job is taken by exactly one.
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = job else {
            return;
        };
        // A panicking search must not take the thread with it; its caller sees the reply
        // dropped.
        if catch_unwind(AssertUnwindSafe(job)).is_err() {
            warn!("a search panicked; its request failed, the search thread goes on");
        }
    }
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: gettid and setpriority take no pointers; on Linux PRIO_PROCESS with a thread id
    // sets that thread's niceness alone.
    let changed = unsafe {
        let thread = libc::gettid() as libc::id_t;
        // -1 is also a valid niceness; errno would tell them apart, and either way the target
        // below is at least as nice as the process.
        let current = libc::getpriority(libc::PRIO_PROCESS, thread);
        libc::setpriority(
            libc::PRIO_PROCESS,
            thread,
            (current + SEARCH_NICENESS).min(19),
        )
    };
    if changed != 0 {
        warn!(
            error = %std::io::Error::last_os_error(),
            "could not lower a search thread's priority; searches compete with ingest for CPU"
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_search_thread_runs_work_at_a_lower_priority_and_survives_a_panic() {
        let threads = SearchThreads::start(1).unwrap();
        let failed = threads
            .run(|| -> Result<(), StoreError> { panic!("a search that panics") })
            .await;
        assert!(failed.is_err());
        #[cfg(target_os = "linux")]
        {
            let niceness = threads
                .run(|| {
                    // SAFETY: as in lower_priority.
                    Ok(unsafe {
                        libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t)
                    })
                })
                .await
                .unwrap();
            assert!(niceness >= SEARCH_NICENESS, "niceness {niceness}");
        }
    }
}
