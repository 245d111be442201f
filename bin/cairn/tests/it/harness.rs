//! Shared harness: a `cairn node` child process on a temporary data directory.
//!
//! [`NodeBuilder`] makes a temporary directory (data directory, keystore, logs), can create
//! keystore keys with `cairn keys new`, runs `cairn init` funding the given addresses, and
//! spawns `cairn node --listen 127.0.0.1:0 --block-ms N`. [`Node`] reads the API address
//! from the first stdout line, waits for `/v1/health`, exposes a [`Client`], can be killed
//! with SIGKILL and restarted on the same data directory, and kills its child on drop.
//!
//! [`Observed`] records what a client saw of the chain (block hashes, state roots, receipts)
//! so a test can check after a kill and restart that none of it changed, [`submit_all`]
//! submits a batch that must be admitted, and [`verify_chain`] replays the chain from genesis
//! with `cairn chain verify`.
//!
//! Every wait here has a deadline, and [`run`] bounds a whole test.

use cairn_client::Client;
use cairn_types::api::AccountView;
use cairn_types::{Address, Amount, Hash, Height, Keypair, Params, Receipt, SignedTx};
use cairn_types::{Transaction, TxBody, format_crn};
use std::collections::BTreeMap;
use std::future::Future;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The binary under test.
pub const CAIRN: &str = env!("CARGO_BIN_EXE_cairn");
/// Passphrase of every keystore key the tests create.
pub const PASSPHRASE: &str = "test-passphrase";
/// Chain id of test chains unless a test picks another.
pub const CHAIN_ID: &str = "cairn-it";
/// How long a node may take to print its address and answer `/v1/health`.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one CLI invocation may run.
const CLI_TIMEOUT: Duration = Duration::from_secs(60);
/// Expiry height of the transactions the tests sign (far in the future).
pub const FAR_EXPIRY: Height = 1_000_000;

/// Runs an async test body on a fresh multi-threaded runtime, failing it if it takes longer
/// than `limit`. Nodes held by the body are killed when it is dropped (also on timeout).
pub fn run<F: Future<Output = ()>>(limit: Duration, body: F) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("building the test runtime");
    let outcome = rt.block_on(async { tokio::time::timeout(limit, body).await });
    if outcome.is_err() {
        panic!("test timed out after {limit:?}");
    }
}

/// Base units of `crn` whole CRN.
pub fn crn(crn: u64) -> Amount {
    Amount::from(crn) * cairn_types::UNITS_PER_CRN
}

/// A signed transfer paying exactly the chain's minimum fee (default parameters).
pub fn transfer(
    chain_id: &str,
    key: &Keypair,
    to: Address,
    amount: Amount,
    nonce: u64,
) -> SignedTx {
    Transaction {
        chain_id: chain_id.to_string(),
        signer: key.address(),
        nonce,
        max_fee: 0,
        expiry_height: FAR_EXPIRY,
        body: TxBody::Transfer { to, amount },
    }
    .sign_with_min_fee(key, &Params::default())
}

/// The minimum fee of a transaction of this one's encoded size, under default parameters.
pub fn min_fee_of(stx: &SignedTx) -> Amount {
    Params::default().min_fee(stx.to_bytes().len())
}

/// Re-signs `tx` after changing it.
pub fn resign(
    mut tx: Transaction,
    key: &Keypair,
    change: impl FnOnce(&mut Transaction),
) -> SignedTx {
    change(&mut tx);
    tx.sign(key)
}

/// The output of one finished CLI invocation.
#[derive(Debug)]
pub struct CliOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    /// Panics with the full output unless the command succeeded.
    pub fn success(self) -> CliOutput {
        assert!(
            self.status.success(),
            "cairn failed with {}\nstdout:\n{}\nstderr:\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Stdout parsed as JSON (for `--json` commands), holding no number past 2^53 − 1.
    pub fn json(&self) -> serde_json::Value {
        let v = serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr)
        });
        assert_json_safe("cli --json output", &v);
        v
    }
}

/// Runs `cairn ARGS` with `envs`, killing it and failing after [`CLI_TIMEOUT`].
pub fn cli(args: &[&str], envs: &[(&str, &str)]) -> CliOutput {
    cli_at(None, args, envs)
}

/// [`cli`] run in the working directory `dir`.
pub fn cli_in(dir: &std::path::Path, args: &[&str], envs: &[(&str, &str)]) -> CliOutput {
    cli_at(Some(dir), args, envs)
}

fn cli_at(dir: Option<&std::path::Path>, args: &[&str], envs: &[(&str, &str)]) -> CliOutput {
    let mut cmd = Command::new(CAIRN);
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    cmd.args(args)
        .env("CAIRN_LOG", "warn")
        .env_remove("CAIRN_NODE")
        .env_remove("CAIRN_KEYSTORE")
        .env_remove("CAIRN_PASSPHRASE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawning cairn");
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + CLI_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for cairn") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`cairn {}` did not finish within {CLI_TIMEOUT:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = stdout.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
    let stderr = stderr.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
    CliOutput { status, stdout, stderr }
}

/// Reads a pipe to the end on a thread; the text arrives on the returned channel.
fn drain(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}

/// Sets up a chain in a temporary directory before its node starts.
pub struct NodeBuilder {
    root: TempDir,
    chain_id: String,
    block_ms: u64,
    on_demand: bool,
    funds: Vec<(Address, Amount)>,
    /// Extra `cairn init` arguments.
    init_args: Vec<String>,
    /// Edits of genesis.json between `cairn init` and the node's start.
    genesis_edits: Vec<GenesisEdit>,
    /// `cairn init --reward-settle-delay-blocks`: 0 (the run inside the boundary block)
    /// unless a test asks for a delay.
    settle_delay: u64,
    /// Extra `cairn node` arguments, at every start.
    node_args: Vec<String>,
}

/// An edit of the genesis file, as JSON.
type GenesisEdit = Box<dyn FnOnce(&mut serde_json::Value) + Send>;

impl Default for NodeBuilder {
    fn default() -> Self {
        NodeBuilder::new()
    }
}

impl NodeBuilder {
    pub fn new() -> NodeBuilder {
        let root = tempfile::Builder::new().prefix("cairn-it-").tempdir().expect("temp dir");
        NodeBuilder {
            root,
            chain_id: CHAIN_ID.into(),
            block_ms: 100,
            on_demand: false,
            funds: Vec::new(),
            init_args: Vec::new(),
            genesis_edits: Vec::new(),
            settle_delay: 0,
            node_args: Vec::new(),
        }
    }

    /// Extra `cairn node` arguments, given at every start of the node.
    pub fn node_args(mut self, args: &[&str]) -> NodeBuilder {
        self.node_args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// Reward runs settled `n` blocks after their boundary (`cairn init
    /// --reward-settle-delay-blocks N`).
    pub fn reward_settle_delay(mut self, n: u64) -> NodeBuilder {
        self.settle_delay = n;
        self
    }

    /// Blocks per epoch (`cairn init --blocks-per-epoch N`).
    pub fn blocks_per_epoch(mut self, n: u64) -> NodeBuilder {
        self.init_args.extend(["--blocks-per-epoch".into(), n.to_string()]);
        self
    }

    /// The admin key of denylist and maker-list changes (`cairn init --admin ADDR`).
    pub fn admin(mut self, admin: Address) -> NodeBuilder {
        self.init_args.extend(["--admin".into(), admin.to_string()]);
        self
    }

    /// Registration needs a listed maker's attestation (`cairn init --maker-allowlist`).
    pub fn maker_allowlist(mut self) -> NodeBuilder {
        self.init_args.push("--maker-allowlist".into());
        self
    }

    /// Lists `oracle` as the one price oracle in genesis, whose report alone sets the price
    /// (`credits.min_oracles` = 1).
    pub fn oracle(self, oracle: Address) -> NodeBuilder {
        self.edit_genesis(move |g| {
            g["params"]["credits"]["oracles"] = serde_json::json!([oracle.to_string()]);
            g["params"]["credits"]["min_oracles"] = 1.into();
        })
    }

    /// Edits genesis.json (as JSON) after `cairn init` and before the node first starts, for
    /// parameters `cairn init` has no flag for. The validator key stays valid: it signs
    /// blocks, not the genesis file.
    pub fn edit_genesis(
        mut self,
        edit: impl FnOnce(&mut serde_json::Value) + Send + 'static,
    ) -> NodeBuilder {
        self.genesis_edits.push(Box::new(edit));
        self
    }

    pub fn chain_id(mut self, id: &str) -> NodeBuilder {
        self.chain_id = id.into();
        self
    }

    pub fn block_ms(mut self, ms: u64) -> NodeBuilder {
        self.block_ms = ms;
        self
    }

    /// The node makes blocks only when the test asks (`Node::make_block`), so a test knows
    /// exactly which block each transaction lands in.
    pub fn blocks_on_demand(mut self) -> NodeBuilder {
        self.on_demand = true;
        self
    }

    /// Funds `address` with `units` base units in genesis (whole or fractional CRN).
    pub fn fund(mut self, address: Address, units: Amount) -> NodeBuilder {
        self.funds.push((address, units));
        self
    }

    pub fn keystore_dir(&self) -> PathBuf {
        self.root.path().join("keystore")
    }

    /// Creates key `name` with `cairn keys new` in this chain's keystore; returns its
    /// address as `cairn --json keys show` reports it.
    pub fn new_keystore_key(&self, name: &str) -> Address {
        let ks = self.keystore_dir();
        let ks = ks.to_str().expect("utf-8 temp path");
        let envs = [("CAIRN_KEYSTORE", ks), ("CAIRN_PASSPHRASE", PASSPHRASE)];
        let created = cli(&["--json", "keys", "new", name], &envs).success().json();
        let shown = cli(&["--json", "keys", "show", name], &envs).success().json();
        assert_eq!(created["address"], shown["address"], "keys new and keys show disagree");
        assert_eq!(shown["name"], name);
        let addr = shown["address"].as_str().expect("address is a string");
        addr.parse().unwrap_or_else(|e| panic!("keys show printed a bad address {addr}: {e}"))
    }

    /// Runs `cairn init` and starts the node.
    pub async fn start(self) -> Node {
        let data_dir = self.root.path().join("data");
        let mut args: Vec<String> = vec![
            "init".into(),
            "--data-dir".into(),
            data_dir.to_str().expect("utf-8 temp path").into(),
            "--chain-id".into(),
            self.chain_id.clone(),
        ];
        for (addr, units) in &self.funds {
            args.push("--fund".into());
            args.push(format!("{addr}={}", format_crn(*units)));
        }
        args.extend(self.init_args.iter().cloned());
        args.extend(["--reward-settle-delay-blocks".into(), self.settle_delay.to_string()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&args, &[]).success();
        assert!(data_dir.join("genesis.json").is_file(), "init wrote no genesis.json");
        if !self.genesis_edits.is_empty() {
            let path = data_dir.join("genesis.json");
            let text = std::fs::read_to_string(&path).expect("reading genesis.json");
            let mut genesis: serde_json::Value =
                serde_json::from_str(&text).expect("genesis.json is JSON");
            for edit in self.genesis_edits {
                edit(&mut genesis);
            }
            let text = serde_json::to_string_pretty(&genesis).expect("encoding genesis.json");
            std::fs::write(&path, text).expect("writing genesis.json");
        }
        assert!(data_dir.join("validator_key.json").is_file(), "init wrote no validator key");
        let mut node = Node::new(Arc::new(self.root), data_dir, &self.chain_id, self.block_ms)
            .with_on_demand(self.on_demand)
            .with_args(&self.node_args);
        node.spawn().await;
        node
    }
}

/// A copy of a node's data directory, not yet running.
pub struct NodeCopy {
    node: Node,
}

impl NodeCopy {
    /// The copy's data directory (holds `chain.redb`).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.node.data_dir
    }

    /// Starts a node on the copy.
    pub async fn start(mut self) -> Node {
        self.node.spawn().await;
        self.node
    }
}

/// A running (or killed) `cairn node` child process.
pub struct Node {
    /// The test's temporary directory (shared by the nodes of a cluster).
    root: Arc<TempDir>,
    data_dir: PathBuf,
    chain_id: String,
    block_ms: u64,
    on_demand: bool,
    /// API listen address (`127.0.0.1:0` picks a free port at each start).
    listen: String,
    child: Option<Child>,
    client: Client,
    url: String,
    starts: u32,
    /// Extra `cairn node` arguments.
    args: Vec<String>,
}

impl Node {
    /// A node on an initialised data directory under `root`, not started yet.
    pub fn new(root: Arc<TempDir>, data_dir: PathBuf, chain_id: &str, block_ms: u64) -> Node {
        Node {
            root,
            data_dir,
            chain_id: chain_id.to_string(),
            block_ms,
            on_demand: false,
            listen: "127.0.0.1:0".into(),
            child: None,
            client: Client::new("http://127.0.0.1:1").expect("placeholder client"),
            url: String::new(),
            starts: 0,
            args: Vec::new(),
        }
    }

    /// Makes blocks only when asked (`--blocks-on-demand`).
    pub fn with_on_demand(mut self, on: bool) -> Node {
        self.on_demand = on;
        self
    }

    /// Starts with these extra `cairn node` arguments too.
    pub fn with_args(mut self, args: &[String]) -> Node {
        self.args.extend(args.iter().cloned());
        self
    }

    /// Serves the API on this fixed address (cluster nodes: peers forward to it).
    pub fn with_listen(mut self, listen: &str) -> Node {
        self.listen = listen.to_string();
        self
    }

    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Starts the node if it is not running.
    pub async fn start_again(&mut self) {
        if self.child.is_none() {
            self.spawn().await;
        }
    }

    /// A node with default settings funding `funds` (base units).
    pub async fn start(funds: &[(Address, Amount)]) -> Node {
        let mut b = NodeBuilder::new();
        for (a, u) in funds {
            b = b.fund(*a, *u);
        }
        b.start().await
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `http://ADDR` of the running node.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    pub fn keystore_dir(&self) -> PathBuf {
        self.root.path().join("keystore")
    }

    /// The test's temporary directory (holds the data directory, keystore and logs), for
    /// files a test writes itself.
    pub fn dir(&self) -> &std::path::Path {
        self.root.path()
    }

    /// A signed minimum-fee transfer on this chain.
    pub fn transfer(&self, key: &Keypair, to: Address, amount: Amount, nonce: u64) -> SignedTx {
        transfer(&self.chain_id, key, to, amount, nonce)
    }

    pub fn log_path(&self, n: u32) -> PathBuf {
        let name = self.data_dir.file_name().and_then(|n| n.to_str()).unwrap_or("node");
        self.root.path().join(format!("{name}-{n}.log"))
    }

    async fn spawn(&mut self) {
        assert!(self.child.is_none(), "node is already running");
        self.starts += 1;
        let log = std::fs::File::create(self.log_path(self.starts)).expect("creating node log");
        let mut cmd = Command::new(CAIRN);
        cmd.args(["node", "--data-dir"]).arg(&self.data_dir).args([
            "--listen",
            &self.listen,
            "--block-ms",
            &self.block_ms.to_string(),
        ]);
        if self.on_demand {
            cmd.arg("--blocks-on-demand");
        }
        cmd.args(&self.args);
        let mut child = cmd
            .env("CAIRN_LOG", std::env::var("CAIRN_IT_LOG").unwrap_or_else(|_| "warn".into()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawning cairn node");
        let stdout = child.stdout.take().expect("piped stdout");
        self.child = Some(child);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next();
            let _ = tx.send(first);
            // Keep reading so the node never blocks on a full pipe.
            for _ in lines {}
        });
        let first = tokio::task::spawn_blocking(move || rx.recv_timeout(START_TIMEOUT))
            .await
            .expect("joining the stdout reader");
        let line = match first {
            Ok(Some(Ok(line))) => line,
            other => panic!(
                "node printed no address line ({other:?}); its log:\n{}",
                self.log_tail(self.starts)
            ),
        };
        let url = line
            .strip_prefix("API listening on ")
            .unwrap_or_else(|| panic!("unexpected first stdout line {line:?}"))
            .trim()
            .to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "unexpected API address {url}");
        self.client = Client::new(&url).expect("client for the node");
        self.url = url;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.client.health().await {
                Ok(h) if h.ok => break,
                Ok(h) => panic!("node reports unhealthy: {h:?}"),
                Err(e) => {
                    if Instant::now() > deadline {
                        panic!("node never answered /v1/health: {e}");
                    }
                    if let Some(status) =
                        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
                    {
                        panic!("node exited with {status}; log:\n{}", self.log_tail(self.starts));
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits up to `limit` for the node to exit on its own; its exit status, or `None` if it
    /// is still running (or was not started).
    pub async fn wait_for_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// SIGKILLs the node (no shutdown path runs) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // `Child::kill` is SIGKILL on unix. It fails only if the child is gone already,
            // which `wait` then reports; neither may panic here (this also runs in drop).
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the node and copies its data directory into a new test directory. The copy is
    /// not running, so a test can change its files before `NodeCopy::start`.
    pub fn copy_data(&mut self) -> NodeCopy {
        self.kill();
        let root = tempfile::Builder::new().prefix("cairn-it-copy-").tempdir().expect("temp dir");
        let data_dir = root.path().join("data");
        std::fs::create_dir_all(&data_dir).expect("creating the copy's data dir");
        for entry in std::fs::read_dir(&self.data_dir).expect("reading the data dir") {
            let entry = entry.expect("data dir entry");
            if entry.file_type().expect("file type").is_file() {
                std::fs::copy(entry.path(), data_dir.join(entry.file_name())).expect("copying");
            }
        }
        NodeCopy {
            node: Node::new(Arc::new(root), data_dir, &self.chain_id, self.block_ms)
                .with_on_demand(self.on_demand),
        }
    }

    /// Kills the node if it runs, then starts it again on the same data directory (on a new
    /// port).
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    /// Runs a CLI command against this node with its keystore and passphrase.
    pub fn cli(&self, args: &[&str]) -> CliOutput {
        let ks = self.keystore_dir();
        let ks = ks.to_str().expect("utf-8 temp path");
        cli(
            args,
            &[("CAIRN_NODE", &self.url), ("CAIRN_KEYSTORE", ks), ("CAIRN_PASSPHRASE", PASSPHRASE)],
        )
    }

    /// Key `name` (listed as the oracle) reports $10 a CRN — one credit per base unit of
    /// CRN — and burns `crn` CRN for credits, through the CLI. Two transactions.
    pub fn buy_credits(&self, name: &str, crn: &str) {
        self.cli(&["--json", "credits", "report-price", "--oracle", name, "--usd", "10"]).success();
        self.cli(&["--json", "credits", "mint", "--from", name, "--amount", crn]).success();
    }

    /// Current height.
    pub async fn height(&self) -> Height {
        self.client.status().await.expect("status").height
    }

    /// Waits until the head is at least `height`; returns the head height.
    pub async fn wait_for_height(&self, height: Height, timeout: Duration) -> Height {
        let deadline = Instant::now() + timeout;
        loop {
            let h = self.height().await;
            if h >= height {
                return h;
            }
            assert!(Instant::now() < deadline, "height {h} did not reach {height} in {timeout:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for `n` more blocks to be committed.
    pub async fn wait_blocks(&self, n: u64) -> Height {
        let now = self.height().await;
        let timeout = Duration::from_millis(self.block_ms * n * 20 + 5_000);
        self.wait_for_height(now + n, timeout).await
    }

    /// Runs a CLI command that waits for a receipt on a node with blocks on demand: makes
    /// blocks until the command returns.
    pub async fn cli_with_blocks(&self, args: &[&str]) -> CliOutput {
        let ks = self.keystore_dir().to_str().expect("utf-8 temp path").to_string();
        let url = self.url.clone();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let run = std::thread::spawn(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            cli(
                &args,
                &[("CAIRN_NODE", &url), ("CAIRN_KEYSTORE", &ks), ("CAIRN_PASSPHRASE", PASSPHRASE)],
            )
        });
        while !run.is_finished() {
            self.make_block().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        run.join().expect("the CLI thread")
    }

    /// Makes one block now (the node must run with blocks on demand); returns its height.
    pub async fn make_block(&self) -> Height {
        self.client.produce_block().await.expect("POST /v1/dev/blocks").height
    }

    pub async fn account(&self, address: &Address) -> AccountView {
        self.client.account(address, false).await.expect("account")
    }

    /// Submits through `POST /v1/txs` and waits (at most 20 s) for the receipt.
    pub async fn submit_and_wait(&self, stx: &SignedTx) -> Receipt {
        let hash = self.client.submit_tx(stx).await.expect("submit_tx");
        self.wait_receipt(&hash).await
    }

    pub async fn wait_receipt(&self, hash: &Hash) -> Receipt {
        self.client.wait_for_receipt(hash, Duration::from_secs(20)).await.expect("receipt")
    }

    /// The last few KiB of the log of start number `n` (1-based).
    pub fn log_tail(&self, n: u32) -> String {
        let text = std::fs::read_to_string(self.log_path(n)).unwrap_or_default();
        let start = text.len().saturating_sub(4096);
        let start = (start..text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        text[start..].to_string()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            for n in 1..=self.starts {
                eprintln!("--- node log (start {n}) ---\n{}", self.log_tail(n));
            }
        }
    }
}

/// The value of an unlabelled sample `name` in a Prometheus text exposition.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (n, v) = l.split_once(' ')?;
        if n == name { v.trim().parse().ok() } else { None }
    })
}

/// A raw HTTP answer, for requests the typed client cannot make.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl RawResponse {
    /// Asserts a JSON error body `{code, message}` with this status and code.
    pub fn assert_error(&self, status: u16, code: &str) {
        let body = self.assert_json_error(status);
        assert_eq!(body.code, code, "code of {self:?}");
    }

    /// Asserts a JSON error body `{code, message}` with this status; returns it.
    pub fn assert_json_error(&self, status: u16) -> cairn_types::api::ErrorBody {
        assert_eq!(self.status, status, "status of {self:?}");
        assert!(self.content_type.starts_with("application/json"), "error is not JSON: {self:?}");
        let body: cairn_types::api::ErrorBody = serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("error body is not {{code, message}} ({e}): {self:?}"));
        assert!(!body.code.is_empty(), "empty code in {self:?}");
        assert!(!body.message.is_empty(), "empty message in {self:?}");
        body
    }
}

/// Sends `method path` to the node with an optional body and content type.
pub async fn http(
    node: &Node,
    method: reqwest::Method,
    path: &str,
    body: Option<(&str, Vec<u8>)>,
) -> RawResponse {
    let http =
        reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("http client");
    let route = cairn_types::routes::find(
        if method == reqwest::Method::POST {
            cairn_types::routes::Method::Post
        } else {
            cairn_types::routes::Method::Get
        },
        path,
    )
    .filter(|_| method == reqwest::Method::GET || method == reqwest::Method::POST);
    let mut req = http.request(method, format!("{}{path}", node.url()));
    if let Some((content_type, bytes)) = body {
        req = req.header("content-type", content_type).body(bytes);
    }
    let resp = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = resp.text().await.unwrap_or_else(|e| panic!("{path}: reading the body: {e}"));
    if content_type.starts_with("application/json")
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(&body)
    {
        assert_json_safe(path, &v);
    }
    // Every answer of a documented route is as the OpenAPI document says (ADR 0031).
    if let Some(route) = route {
        cairn_types::openapi::check::check_response(route, status, &content_type, body.as_bytes())
            .unwrap_or_else(|m| {
                panic!("{path}: not as the OpenAPI document says: {m}\n{body:.2000}")
            });
    }
    RawResponse { status, content_type, body }
}

/// Fails on a JSON number a JavaScript client would round (past 2^53 − 1): every integer that
/// can grow that large is a string (docs/wire.md, "JSON forms"). The client library checks
/// its own responses the same way (its `json-safety` feature, on in these tests).
pub fn assert_json_safe(what: &str, v: &serde_json::Value) {
    if let Some((at, number)) = cairn_types::api::first_unsafe_number(v) {
        panic!("{what}: JSON number {number} at {at} exceeds 2^53 - 1 in {v}");
    }
}

/// What a client observed of the chain: every block's hash and state root, and the receipt
/// of every transaction in them.
pub struct Observed {
    /// The first height not read yet.
    pub next_height: Height,
    /// Height → (block hash, state root).
    pub blocks: BTreeMap<Height, (Hash, Hash)>,
    pub receipts: BTreeMap<Hash, Receipt>,
}

impl Default for Observed {
    fn default() -> Observed {
        Observed { next_height: 1, blocks: BTreeMap::new(), receipts: BTreeMap::new() }
    }
}

impl Observed {
    /// Reads every block committed since the last call and records it and its receipts;
    /// returns the receipts read by this call, in chain order.
    pub async fn catch_up(&mut self, node: &Node) -> Vec<Receipt> {
        let head = node.height().await;
        let mut new = Vec::new();
        while self.next_height <= head {
            let h = self.next_height;
            let b = node.client().block(h).await.expect("block below the head");
            assert_eq!(b.header.height, h);
            self.blocks.insert(h, (b.hash, b.header.state_root));
            for t in b.txs {
                let r =
                    t.receipt.unwrap_or_else(|| panic!("committed tx {} has no receipt", t.hash));
                self.receipts.insert(t.hash, r.clone());
                new.push(r);
            }
            self.next_height += 1;
        }
        new
    }

    /// The highest height read.
    pub fn head(&self) -> Height {
        self.next_height - 1
    }

    /// Asserts that every block from `from` on that was observed keeps its hash and state
    /// root, and every receipt observed in those blocks is still served unchanged, with its
    /// transaction committed.
    pub async fn assert_kept_from(&self, node: &Node, from: Height) {
        let client = node.client();
        for (h, (hash, root)) in self.blocks.range(from..) {
            let b = client.block(*h).await.unwrap_or_else(|e| panic!("block {h} seen before: {e}"));
            assert_eq!(&b.hash, hash, "block {h} changed");
            assert_eq!(&b.header.state_root, root, "state root at {h} changed");
        }
        for (hash, r) in self.receipts.iter().filter(|(_, r)| r.height >= from) {
            let now = client.receipt(hash).await.unwrap_or_else(|e| panic!("receipt {hash}: {e}"));
            assert_eq!(&now, r, "receipt of {hash} changed");
            let t = client.tx(hash).await.unwrap_or_else(|e| panic!("tx {hash}: {e}"));
            assert_eq!(t.state, "committed", "tx {hash}");
            assert_eq!(t.receipt.as_ref(), Some(r), "tx {hash}");
        }
    }
}

/// Submits a batch; every transaction must be admitted. A `nonce_gap` refusal is retried:
/// the node can refuse the next nonce while a block holding the previous ones commits (see
/// `next_nonce_is_admitted_while_blocks_commit.rs`). An `already_known` answer counts as
/// admitted (a resubmission of a transaction still in the mempool).
pub async fn submit_all(node: &Node, batch: &[SignedTx]) {
    let results = node.client().submit_batch(batch).await.expect("submit batch");
    for (r, t) in results.iter().zip(batch) {
        match &r.error {
            None => assert_eq!(r.hash, Some(t.hash())),
            Some(e) if e.code == "already_known" => {}
            Some(e) if e.code == "nonce_gap" => {
                let mut attempt = 0;
                loop {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    match node.client().submit_tx(t).await {
                        Ok(_) => break,
                        Err(e) if e.code() == Some("already_known") => break,
                        Err(e) if e.code() == Some("nonce_gap") && attempt < 20 => attempt += 1,
                        Err(e) => panic!("transaction {} refused: {e}", t.hash()),
                    }
                }
            }
            Some(e) => panic!("transaction {} refused: {e:?}", t.hash()),
        }
    }
}

/// Replays the node's chain from genesis with `cairn --json chain verify` (the node keeps
/// running); asserts it replayed at least to `at_least` and that its final state root is
/// the one of the block at the height it reached. Returns the JSON report.
pub async fn verify_chain(node: &Node, at_least: Height) -> serde_json::Value {
    let v = node.cli(&["--json", "chain", "verify"]).success().json();
    let verified = v["blocks"].as_u64().expect("blocks replayed");
    assert!(verified >= at_least, "replayed {verified} blocks, the head was at {at_least}: {v}");
    let head = node.client().block(verified).await.expect("verified head");
    assert_eq!(v["state_root"], head.header.state_root.to_string(), "{v}");
    v
}
