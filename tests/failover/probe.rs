//! A background probe of the aggregator during a stream: it reads `GET /ready` and the stream's
//! acknowledged count every [`PROBE_INTERVAL`], so that the unavailability a fault causes can be
//! measured afterwards (see [`crate::unavailability`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aggregator::client::counters::LiveCounters;

/// How often the probe reads `/ready` and the stream's progress.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(100);

/// One reading of the probe.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: Instant,
    /// Status of `GET /ready`, `None` when it got no answer within a second.
    pub ready: Option<u16>,
    /// Events the stream had acknowledged.
    pub acked: u64,
}

/// Reads `GET /ready` and the stream's acknowledged events every [`PROBE_INTERVAL`], in the
/// background, until stopped.
pub struct Probe {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<Sample>>,
}

impl Probe {
    pub fn start(base_url: &str, counters: Arc<LiveCounters>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let url = format!("{base_url}/ready");
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(1))
                .build()
                .expect("an HTTP client");
            let mut samples = Vec::new();
            let mut ticks = tokio::time::interval(PROBE_INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !stopped.load(Ordering::SeqCst) {
                ticks.tick().await;
                let ready = client
                    .get(&url)
                    .send()
                    .await
                    .ok()
                    .map(|answer| answer.status().as_u16());
                samples.push(Sample {
                    at: Instant::now(),
                    ready,
                    acked: counters.acked_events(),
                });
            }
            samples
        });
        Self { stop, task }
    }

    /// Stops the probe and hands over every reading, oldest first.
    pub async fn stop(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.expect("the probe task")
    }
}
