//! Wiring of the BFT driver (`cairn-consensus`) to the node (`cairn-node`): the node's
//! `Shared` behind the narrow interfaces consensus defines. Neither crate knows the other.

use cairn_app::Executed;
use cairn_app::check::{SizedTx, StatefulError};
use cairn_consensus::{BftConfig, Committer, Metrics, Services, TxPool};
use cairn_node::{BlockSource, Shared, producer};
use cairn_store::Snapshot;
use cairn_types::{Address, Block, Hash, Height, Params, SignedTx};
use std::sync::Arc;
use std::time::Instant;

/// The BFT block source for `cairn_node::start_with`.
pub fn block_source(config: BftConfig) -> BlockSource {
    Box::new(move |shared, shutdown| {
        Box::pin(cairn_consensus::start(services(shared), config, shutdown))
    })
}

/// What consensus gets of a node.
fn services(shared: Arc<Shared>) -> Services {
    let node = Arc::new(Node(shared.clone()));
    Services {
        genesis: shared.genesis.clone(),
        key: shared.key.clone(),
        data_dir: shared.config.data_dir.clone(),
        block_interval: shared.config.block_interval,
        store: shared.store.clone(),
        pool: node.clone(),
        committer: node.clone(),
        metrics: node,
        reward_runs: shared.app.runs().clone(),
    }
}

struct Node(Arc<Shared>);

impl TxPool for Node {
    fn proposal_txs(&self, snap: &Snapshot, max_txs: usize, max_bytes: usize) -> Vec<SizedTx> {
        // The proposal stops at the cost budget too (`App::propose`); asking no more of the
        // pool spares cloning what could not fit.
        let max_cost = cairn_app::App::params(snap).map_or(u64::MAX, |p| p.max_block_cost);
        self.0.mempool().candidates(snap, max_txs, max_bytes, max_cost)
    }

    fn as_admitted(&self, txs: &[SignedTx]) -> Vec<SizedTx> {
        let pool = self.0.mempool();
        txs.iter()
            .map(|t| match pool.get_same(t) {
                Some(admitted) if admitted.checked => admitted.clone(),
                _ => SizedTx::new(t.clone()),
            })
            .collect()
    }

    fn submit_own(
        &self,
        snap: &Snapshot,
        params: &Params,
        next_height: Height,
        signer: &Address,
        build: &mut dyn FnMut(u64) -> anyhow::Result<SizedTx>,
    ) -> anyhow::Result<Result<Hash, String>> {
        let account = cairn_app::accounts::get_account(snap, signer)?;
        let mut pool = self.0.mempool();
        let tx = build(pool.next_nonce(signer, account.nonce))?;
        let signed = tx.tx.clone();
        match pool.admit(tx, snap, params, next_height) {
            Ok(hash) => {
                drop(pool);
                self.0.relay.forward(std::slice::from_ref(&signed));
                Ok(Ok(hash))
            }
            Err(e) => Ok(Err(e.to_string())),
        }
    }
}

impl Committer for Node {
    fn commit(
        &self,
        block: &Block,
        executed: &Executed,
        dropped: &[(Hash, StatefulError)],
        parent_timestamp_ms: u64,
        started: Instant,
    ) -> anyhow::Result<()> {
        producer::commit(&self.0, block, executed, dropped, parent_timestamp_ms, started)
    }
}

impl Metrics for Node {
    fn streams_refused(&self, reason: &str, n: u64) {
        self.0.metrics.consensus.streams_refused(reason, n);
    }

    fn reassembly_bytes(&self, bytes: usize) {
        self.0.metrics.consensus.reassembly_bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    fn decided_unverified(&self) {
        self.0.metrics.consensus.decided_unverified.inc();
    }
}
