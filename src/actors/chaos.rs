//! Fault injection for operators and tests: real kills and real panics, never simulated errors.
//!
//! `serve --chaos-kill-interval-ms N` makes the supervisor kill a random shard every N ms;
//! `--chaos-panic-rate P` makes a shard panic while handling a batch with probability P, half
//! of the time before the commit (its requests are lost and must be retried) and half of the
//! time after the commit is durable but before anyone is answered (the nastiest moment for
//! exactly-once: the retry must come back as a duplicate). Both are off by default.

use std::time::Duration;

use rand::Rng;

/// Fault injection settings. Never enable in production.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ChaosConfig {
    /// Kill a random shard actor this often (never when `None`).
    pub kill_interval: Option<Duration>,
    /// Probability (0 to 1) that a shard panics while handling a batch.
    pub panic_rate: f64,
}

impl ChaosConfig {
    /// Whether any fault injection is on.
    pub fn is_enabled(&self) -> bool {
        self.kill_interval.is_some() || self.panic_rate > 0.0
    }
}

/// Where an injected panic strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectedPanic {
    /// No fault this time.
    None,
    /// Before the batch is committed.
    BeforeCommit,
    /// After the commit, before the replies.
    AfterCommit,
}

/// Decides, batch by batch, whether a shard panics.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChaosDice {
    panic_rate: f64,
}

impl ChaosDice {
    /// Dice that panic with probability `panic_rate` per batch (clamped to `0..=1`).
    pub fn new(panic_rate: f64) -> Self {
        Self {
            panic_rate: panic_rate.clamp(0.0, 1.0),
        }
    }

    /// Rolls for one batch.
    pub fn roll(&self) -> InjectedPanic {
        if self.panic_rate <= 0.0 {
            return InjectedPanic::None;
        }
        let draw: f64 = rand::thread_rng().gen();
        if draw < self.panic_rate / 2.0 {
            InjectedPanic::BeforeCommit
        } else if draw < self.panic_rate {
            InjectedPanic::AfterCommit
        } else {
            InjectedPanic::None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_dice_never_panic() {
        let dice = ChaosDice::default();
        assert!((0..10_000).all(|_| dice.roll() == InjectedPanic::None));
    }

    #[test]
    fn certain_dice_always_panic_at_both_moments() {
        let dice = ChaosDice::new(1.0);
        let rolls: Vec<_> = (0..1_000).map(|_| dice.roll()).collect();
        assert!(rolls.iter().all(|roll| *roll != InjectedPanic::None));
        assert!(rolls.contains(&InjectedPanic::BeforeCommit));
        assert!(rolls.contains(&InjectedPanic::AfterCommit));
    }
}
