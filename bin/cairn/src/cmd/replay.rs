//! Replaying a node's chain from genesis on a fresh in-memory state, checking every block's
//! certificate, parent link and roots (`cairn chain verify`, `cairn rewards audit`).

use anyhow::{Context, bail};
use cairn_app::{App, Executed, Parent};
use cairn_client::Client;
use cairn_state::MemStore;
use cairn_types::{Certificate, Genesis, Hash, Height};

pub struct Replayer {
    pub genesis: Genesis,
    app: App,
    pub state: MemStore,
    parent: Parent,
    /// State root after the last replayed block.
    pub root: Hash,
    pub height: Height,
    pub txs: u64,
}

impl Replayer {
    /// Starts at the node's genesis (validated).
    pub async fn start(client: &Client) -> anyhow::Result<Replayer> {
        let genesis = client.genesis().await?;
        genesis.validate()?;
        let app = App::new(genesis.chain_id.clone());
        let mut state = MemStore::default();
        let changes = App::genesis_changes(&genesis)?;
        let (root, batch) = App::genesis_root(&state, &changes)?;
        state.apply(0, &changes, &batch);
        let parent = Parent::of_genesis(&genesis);
        Ok(Replayer { genesis, app, state, parent, root, height: 0, txs: 0 })
    }

    /// Fetches and re-executes the next block; fails if its certificate, parent or any root
    /// does not check out.
    pub async fn next(&mut self, client: &Client) -> anyhow::Result<Executed> {
        let height = self.height + 1;
        let block = match client.raw_block(height).await {
            Ok(block) => block,
            Err(e) if e.code() == Some(cairn_node::api::NEEDS_ARCHIVE) => bail!(
                "block {height} is pruned on this node ({e}): replaying from genesis needs an \
                 archive node (cairn node --archive)"
            ),
            Err(e) => {
                return Err(anyhow::Error::from(e).context(format!("fetching block {height}")));
            }
        };
        match &block.certificate {
            Certificate::Solo { signer, .. } if *signer != self.genesis.validator => {
                bail!(
                    "block {height}: certified by {signer}, not the genesis validator {}",
                    self.genesis.validator
                )
            }
            c => {
                // The set that certifies this height is read from the state before it.
                let validators = App::validator_set(&self.state, height)?;
                c.verify_block(&self.genesis.chain_id, &block.header, &validators)
                    .with_context(|| format!("block {height}: bad certificate"))?
            }
        }
        let executed = self
            .app
            .verify(&self.state, self.parent, &block.header, &block.txs)
            .with_context(|| format!("block {height} does not replay"))?;
        self.state.apply(height, &executed.changes, &executed.tree_batch);
        self.parent = Parent::of_block(&block);
        self.root = executed.state_root;
        self.height = height;
        self.txs += block.txs.len() as u64;
        Ok(executed)
    }
}
