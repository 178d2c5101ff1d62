//! Unit tests of the supervisor: a killed shard is restarted and serves again, and deaths past
//! the restart budget fail the whole tree.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{call, Actor, ActorRef};
use tokio::task::JoinHandle;

use super::{SupervisorActor, SupervisorArgs, SupervisorMsg};
use crate::actors::chaos::ChaosConfig;
use crate::actors::config::{BatchingConfig, RestartBudget};
use crate::actors::stats::StatsMsg;
use crate::actors::test_support::{event, reply_probe};
use crate::event::{Outcome, TopicPrefixes};
use crate::metrics::Metrics;
use crate::store::memory::MemoryStore;

const WAIT: Duration = Duration::from_secs(5);

async fn spawn_supervisor(
    shard_count: u32,
    restart_budget: RestartBudget,
    chaos: ChaosConfig,
) -> (ActorRef<SupervisorMsg>, JoinHandle<()>) {
    let args = SupervisorArgs {
        shard_count,
        store: Arc::new(MemoryStore::new()),
        batching: BatchingConfig {
            max_events: 1,
            linger: Duration::from_millis(1),
            commits_in_flight: 2,
        },
        fastpath_keys: 0,
        started_at: Instant::now(),
        restart_budget,
        chaos,
        metrics: Metrics::new(shard_count),
        retention: crate::actors::RetentionConfig::default(),
    };
    Actor::spawn(None, SupervisorActor, args).await.unwrap()
}

async fn restarts(supervisor: &ActorRef<SupervisorMsg>) -> u64 {
    let stats = call!(supervisor, SupervisorMsg::StatsRef).unwrap();
    let snapshot = call!(stats, StatsMsg::Snapshot, TopicPrefixes::any()).unwrap();
    snapshot.shards.iter().map(|shard| shard.restarts).sum()
}

#[tokio::test]
async fn a_killed_shard_is_restarted_and_serves_again() {
    let (supervisor, _join) =
        spawn_supervisor(1, RestartBudget::default(), ChaosConfig::default()).await;

    supervisor.send_message(SupervisorMsg::ChaosKill).unwrap();
    let restarted = tokio::time::timeout(WAIT, async {
        while restarts(&supervisor).await == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;

    assert!(restarted.is_ok(), "the shard was not restarted");
    let live = call!(supervisor, SupervisorMsg::LiveShards).unwrap();
    assert_eq!(live, 1);
    let (reply, answer) = reply_probe();
    supervisor
        .send_message(SupervisorMsg::Route(0, vec![event("t", "1")], reply))
        .unwrap();
    let outcomes = tokio::time::timeout(WAIT, answer).await.unwrap().unwrap();
    assert_eq!(outcomes.unwrap(), vec![Outcome::New]);
}

#[tokio::test]
async fn shard_deaths_beyond_the_restart_budget_fail_the_tree() {
    let budget = RestartBudget {
        max_restarts: 2,
        window: Duration::from_secs(60),
    };
    // Every batch panics (before or after its commit): each ingest kills the shard once.
    let chaos = ChaosConfig {
        kill_interval: None,
        panic_rate: 1.0,
    };
    let (supervisor, join) = spawn_supervisor(1, budget, chaos).await;

    let mut ingests = 0;
    while !join.is_finished() && ingests < 10 {
        ingests += 1;
        let (reply, answer) = reply_probe();
        let events = vec![event("t", &ingests.to_string())];
        if supervisor
            .send_message(SupervisorMsg::Route(0, events, reply))
            .is_err()
        {
            break;
        }
        // Answered (after-commit panics still answer) or dropped by the dying shard.
        let _ = tokio::time::timeout(WAIT, answer).await;
        tokio::task::yield_now().await;
    }

    let stopped = tokio::time::timeout(WAIT, join).await;
    assert!(stopped.is_ok(), "the tree outlived its restart budget");
    assert!(ingests >= 3, "failed after {ingests} deaths, budget was 2");
}
