//! Crash test of the embedded store: the real binary is killed with SIGKILL right after it
//! acknowledged publishes, restarted on the same data directory, and checked for guarantees 1-3:
//! every acknowledged event is stored exactly once and the persisted counters match the rows.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const KILLS: usize = 3;
const PUBLISHERS: usize = 4;
const BATCH: usize = 50;
/// Acknowledged events to wait for in each round before the kill.
const ACKS_PER_ROUND: usize = 2_000;
const TOPICS: [&str; 3] = ["crash-a", "crash-b", "crash-c"];

type Key = (String, String);

/// A running aggregator; killed (SIGKILL) when dropped, so a failing test leaves no process.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    /// Starts the binary on a free port and waits until `/ready` answers 200.
    async fn start(data_dir: &Path, client: &reqwest::Client) -> Server {
        for _attempt in 0..3 {
            // The port is free now; another process could take it before the server binds it,
            // in which case the server exits and the next attempt picks another port.
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = Command::new(env!("CARGO_BIN_EXE_aggregator"))
                .args(["--bind", &format!("127.0.0.1:{port}")])
                .arg("--data-dir")
                .arg(data_dir)
                .env_remove("DATABASE_URL")
                .env_remove("AGG_BIND")
                .env_remove("AGG_DATA_DIR")
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn the aggregator binary");
            let mut server = Server {
                child,
                base: format!("http://127.0.0.1:{port}"),
            };
            if server.wait_ready(client).await {
                return server;
            }
        }
        panic!("the aggregator did not become ready in 3 attempts");
    }

    /// Polls `/ready` until 200 (true) or until the process exits or 30 s pass (false).
    async fn wait_ready(&mut self, client: &reqwest::Client) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            let ready = client.get(format!("{}/ready", self.base)).send().await;
            if matches!(ready, Ok(response) if response.status() == 200) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// SIGKILL, then reap.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Publishes batches from several tasks until `stop`, recording every acknowledged event.
struct Load {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<HashSet<Key>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(
        round: usize,
        base: &str,
        client: &reqwest::Client,
        acked: Arc<Mutex<HashSet<Key>>>,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..PUBLISHERS)
            .map(|publisher| {
                let (stop, acked, client) = (stop.clone(), acked.clone(), client.clone());
                let url = format!("{base}/publish");
                tokio::spawn(async move {
                    let mut previous: Vec<Key> = Vec::new();
                    for batch_no in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        // 80% fresh keys, 20% repeats of this publisher's last acknowledged batch.
                        let mut keys: Vec<Key> = previous.iter().take(BATCH / 5).cloned().collect();
                        while keys.len() < BATCH {
                            let n = keys.len();
                            let topic = TOPICS[(batch_no + n) % TOPICS.len()];
                            keys.push((topic.into(), format!("r{round}-p{publisher}-b{batch_no}-{n}")));
                        }
                        let events: Vec<Value> = keys
                            .iter()
                            .map(|(topic, id)| {
                                json!({"topic": topic, "event_id": id, "timestamp": "2024-05-01T12:00:00Z",
                                       "source": "crash-test", "payload": {"id": id, "pad": "x".repeat(200)}})
                            })
                            .collect();
                        let response = client.post(&url).json(&json!({ "events": events })).send().await;
                        match response {
                            Ok(response) if response.status() == 200 => {
                                acked.lock().unwrap().extend(keys.iter().cloned());
                                previous = keys;
                            }
                            // Busy (503): not acknowledged, try the next batch.
                            Ok(_) => {}
                            // Killed: connection refused or reset.
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        Load { stop, acked, tasks }
    }

    fn acked_count(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    async fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.unwrap();
        }
    }
}

/// Every stored key (via `GET /events` pagination), with how often it was listed.
async fn stored_keys(client: &reqwest::Client, base: &str) -> HashMap<Key, usize> {
    let mut seen: HashMap<Key, usize> = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = client
            .get(format!("{base}/events"))
            .query(&[("limit", "1000")]);
        if let Some(cursor) = &cursor {
            request = request.query(&[("cursor", cursor)]);
        }
        let page: Value = request
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        for event in page["events"].as_array().unwrap() {
            let key = (
                event["topic"].as_str().unwrap().to_owned(),
                event["event_id"].as_str().unwrap().to_owned(),
            );
            *seen.entry(key).or_default() += 1;
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return seen,
        }
    }
}

/// Checks guarantees 1-3 against everything acknowledged so far.
async fn verify(client: &reqwest::Client, server: &Server, acked: &HashSet<Key>, round: usize) {
    let stored = stored_keys(client, &server.base).await;
    let repeated: Vec<_> = stored.iter().filter(|(_, &count)| count != 1).collect();
    assert!(
        repeated.is_empty(),
        "round {round}: listed more than once: {repeated:?}"
    );
    let missing: Vec<_> = acked
        .iter()
        .filter(|key| !stored.contains_key(*key))
        .collect();
    assert!(
        missing.is_empty(),
        "round {round}: {} acknowledged events lost, e.g. {:?}",
        missing.len(),
        missing.first()
    );

    let stats: Value = client
        .get(format!("{}/stats", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let received = stats["received"].as_u64().unwrap();
    let unique = stats["unique_processed"].as_u64().unwrap();
    let duplicates = stats["duplicate_dropped"].as_u64().unwrap();
    assert_eq!(received, unique + duplicates, "round {round}: {stats}");
    assert_eq!(
        unique as usize,
        stored.len(),
        "round {round}: unique_processed == stored rows"
    );
    eprintln!(
        "round {round}: {} acknowledged, {} stored, received={received} unique={unique} duplicates={duplicates}",
        acked.len(),
        stored.len()
    );
    assert!(
        duplicates > 0,
        "round {round}: the load repeats keys, so duplicates were counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_events_survive_repeated_kill_9_exactly_once() {
    let data_dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let acked = Arc::new(Mutex::new(HashSet::new()));

    let mut server = Server::start(data_dir.path(), &client).await;
    for round in 0..KILLS {
        let load = Load::start(round, &server.base, &client, acked.clone());
        let target = load.acked_count() + ACKS_PER_ROUND;
        let deadline = Instant::now() + Duration::from_secs(60);
        while load.acked_count() < target {
            assert!(
                Instant::now() < deadline,
                "round {round}: publishes were not acknowledged in time"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // Right after the acknowledgements, with more publishes in flight.
        server.kill();
        load.finish().await;

        server = Server::start(data_dir.path(), &client).await;
        let acked_so_far = acked.lock().unwrap().clone();
        verify(&client, &server, &acked_so_far, round).await;
    }
    server.kill();
}
