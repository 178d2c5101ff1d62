//! Progress of a publish run on stderr: an indicatif bar on a terminal, a plain line every few
//! seconds otherwise (CI logs, pipes). Workers bump the stream's [`LiveCounters`]; a ticker
//! task renders them.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::counters::LiveCounters;

/// How often the bar is redrawn.
const BAR_TICK: Duration = Duration::from_millis(100);
/// How often a plain progress line is printed.
const LINE_TICK: Duration = Duration::from_secs(2);

/// (events acknowledged, retries, requests given up) now.
fn read(counters: &LiveCounters) -> (u64, u64, u64) {
    let counts = counters.snapshot();
    (counts.acked_events, counts.retries, counts.failed_batches)
}

/// A running progress display.
pub struct Progress {
    stop: oneshot::Sender<()>,
    ticker: JoinHandle<()>,
}

impl Progress {
    /// Starts displaying `counters` progressing towards `total` events.
    pub fn start(total: u64, counters: Arc<LiveCounters>) -> Self {
        let (stop, stopped) = oneshot::channel();
        let ticker = if std::io::stderr().is_terminal() {
            tokio::spawn(run_bar(total, counters.clone(), stopped))
        } else {
            tokio::spawn(run_lines(total, counters.clone(), stopped))
        };
        Self { stop, ticker }
    }

    /// Stops the display (the bar is cleared, so the report follows cleanly).
    pub async fn finish(self) {
        let _ = self.stop.send(()); // the ticker may already have ended
        let _ = self.ticker.await; // a panicked ticker only loses the display
    }
}

async fn run_bar(total: u64, counters: Arc<LiveCounters>, mut stopped: oneshot::Receiver<()>) {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let template = "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} events ({per_sec}) {msg}";
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    let mut tick = tokio::time::interval(BAR_TICK);
    loop {
        let (sent, retries, failures) = read(&counters);
        bar.set_position(sent);
        bar.set_message(format!("retries {retries} failures {failures}"));
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stopped => break,
        }
    }
    bar.finish_and_clear();
}

async fn run_lines(total: u64, counters: Arc<LiveCounters>, mut stopped: oneshot::Receiver<()>) {
    let started = Instant::now();
    let mut tick = tokio::time::interval(LINE_TICK);
    tick.tick().await; // the first tick is immediate; nothing to say yet
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stopped => break,
        }
        let (sent, retries, failures) = read(&counters);
        let rate = sent as f64 / started.elapsed().as_secs_f64().max(1e-3);
        eprintln!(
            "published {sent}/{total} events ({rate:.0}/s), {retries} retries, {failures} failures"
        );
    }
}
