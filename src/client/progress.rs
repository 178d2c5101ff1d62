//! Progress of a publish run on stderr: an indicatif bar on a terminal, a plain line every few
//! seconds otherwise (CI logs, pipes). Workers bump [`Counters`]; a ticker task renders them.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How often the bar is redrawn.
const BAR_TICK: Duration = Duration::from_millis(100);
/// How often a plain progress line is printed.
const LINE_TICK: Duration = Duration::from_secs(2);

/// Live figures shared by the workers.
#[derive(Debug, Default)]
pub struct Counters {
    /// Events acknowledged so far.
    pub sent: AtomicU64,
    /// Extra attempts so far.
    pub retries: AtomicU64,
    /// Requests given up so far.
    pub failures: AtomicU64,
}

impl Counters {
    fn read(&self) -> (u64, u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.retries.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
        )
    }
}

/// A running progress display.
pub struct Progress {
    counters: Arc<Counters>,
    stop: oneshot::Sender<()>,
    ticker: JoinHandle<()>,
}

impl Progress {
    /// Starts displaying progress towards `total` events.
    pub fn start(total: u64) -> Self {
        let counters = Arc::new(Counters::default());
        let (stop, stopped) = oneshot::channel();
        let ticker = if std::io::stderr().is_terminal() {
            tokio::spawn(run_bar(total, counters.clone(), stopped))
        } else {
            tokio::spawn(run_lines(total, counters.clone(), stopped))
        };
        Self {
            counters,
            stop,
            ticker,
        }
    }

    /// The counters the workers update.
    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    /// Stops the display (the bar is cleared, so the report follows cleanly).
    pub async fn finish(self) {
        let _ = self.stop.send(()); // the ticker may already have ended
        let _ = self.ticker.await; // a panicked ticker only loses the display
    }
}

async fn run_bar(total: u64, counters: Arc<Counters>, mut stopped: oneshot::Receiver<()>) {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let template = "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} events ({per_sec}) {msg}";
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    let mut tick = tokio::time::interval(BAR_TICK);
    loop {
        let (sent, retries, failures) = counters.read();
        bar.set_position(sent);
        bar.set_message(format!("retries {retries} failures {failures}"));
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stopped => break,
        }
    }
    bar.finish_and_clear();
}

async fn run_lines(total: u64, counters: Arc<Counters>, mut stopped: oneshot::Receiver<()>) {
    let started = Instant::now();
    let mut tick = tokio::time::interval(LINE_TICK);
    tick.tick().await; // the first tick is immediate; nothing to say yet
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stopped => break,
        }
        let (sent, retries, failures) = counters.read();
        let rate = sent as f64 / started.elapsed().as_secs_f64().max(1e-3);
        eprintln!(
            "published {sent}/{total} events ({rate:.0}/s), {retries} retries, {failures} failures"
        );
    }
}
