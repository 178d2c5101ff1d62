//! The formation's two data nodes as the tests name them ([`Node`]), and what the monitor says
//! of each ([`NodeState`]).

/// One of the two data nodes, by its index among them (0 is `node_1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Node(pub(super) usize);

impl Node {
    /// Its pg_auto_failover name, `node_1` or `node_2`.
    pub fn name(self) -> String {
        format!("node_{}", self.0 + 1)
    }
}

impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// A node as the monitor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    pub node: Node,
    /// The state its keeper last reported.
    pub reported: String,
    /// The state the monitor assigned it.
    pub assigned: String,
}

impl NodeState {
    /// Whether the node reported reaching its assigned state `state`.
    pub(super) fn is(&self, state: &str) -> bool {
        self.reported == state && self.assigned == state
    }
}
